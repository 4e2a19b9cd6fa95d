// Nimbus VPC relay agent: runs inside a VPC's router network namespace (`ip netns exec NS node
// relay-agent.mjs ...`) and is the only bridge between that namespace and the Nimbus process, which
// it reaches over Unix sockets only (no IP path to the host):
// - metadata: HTTP on 169.254.169.254:80; each request is forwarded to the metadata Unix socket with
//   `x-nimbus-metadata-source: PROJECT NETWORK SOURCE_IP` (replacing any header the client sent);
// - port forwards: the host connects to the control Unix socket and writes `CONNECT IP PORT\n`; the
//   agent opens the TCP connection from inside the namespace, answers `OK\n` (or `ERR reason\n`) and
//   then copies bytes both ways.
// It prints `READY` once listening and exits when its stdin closes (Nimbus went away).
import { existsSync, unlinkSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';

const options = {};
for (let i = 2; i + 1 < process.argv.length; i += 2) {
  options[process.argv[i].replace(/^--/, '')] = process.argv[i + 1];
}
const { project, network, listen, control } = options;
const metadataSocket = options['metadata-socket'];
const sourceHeader = options['source-header'] ?? 'x-nimbus-metadata-source';
const connectTimeoutMs = Number(options['connect-timeout-ms'] ?? 10000);
const [listenHost, listenPort] = (listen ?? '169.254.169.254:80').split(':');

const metadata = http.createServer((request, response) => {
  const headers = { ...request.headers };
  for (const name of Object.keys(headers)) {
    if (name.toLowerCase() === sourceHeader) {
      delete headers[name];
    }
  }
  const source = (request.socket.remoteAddress ?? '').replace(/^::ffff:/, '');
  headers[sourceHeader] = `${project} ${network} ${source}`;
  const upstream = http.request(
    { socketPath: metadataSocket, method: request.method, path: request.url, headers },
    (answer) => {
      response.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(response);
    },
  );
  upstream.on('error', () => {
    if (!response.headersSent) {
      response.writeHead(503, { 'content-type': 'text/plain' });
    }
    response.end('metadata server unavailable\n');
  });
  request.pipe(upstream);
});

const forwards = net.createServer((client) => {
  let buffered = Buffer.alloc(0);
  const onData = (chunk) => {
    buffered = Buffer.concat([buffered, chunk]);
    const end = buffered.indexOf(10);
    if (end < 0) {
      if (buffered.length > 256) {
        client.destroy();
      }
      return;
    }
    client.off('data', onData);
    client.pause();
    const [verb, ip, port] = buffered.subarray(0, end).toString('utf8').trim().split(' ');
    const rest = buffered.subarray(end + 1);
    if (verb !== 'CONNECT' || ip === undefined || port === undefined) {
      client.end('ERR bad request\n');
      return;
    }
    const target = net.connect({ host: ip, port: Number(port) });
    // A firewall drop looks like silence: give up on connecting after a while.
    target.setTimeout(connectTimeoutMs, () => {
      if (target.connecting) {
        client.end('ERR ETIMEDOUT\n');
        target.destroy();
      }
    });
    target.once('connect', () => {
      target.setTimeout(0);
      client.write('OK\n');
      if (rest.length > 0) {
        target.write(rest);
      }
      client.pipe(target);
      target.pipe(client);
      client.resume();
    });
    target.once('error', (error) => {
      if (target.connecting) {
        client.end(`ERR ${error.code ?? error.message}\n`);
      } else {
        client.destroy();
      }
    });
    client.once('error', () => target.destroy());
    client.once('close', () => target.destroy());
    target.once('close', () => client.destroy());
  };
  client.on('data', onData);
  client.on('error', () => undefined);
});

if (existsSync(control)) {
  unlinkSync(control);
}
let listening = 0;
const ready = () => {
  listening += 1;
  if (listening === 2) {
    process.stdout.write('READY\n');
  }
};
metadata.listen(Number(listenPort), listenHost, ready);
forwards.listen(control, ready);
const fail = (error) => {
  process.stderr.write(`relay-agent: ${error.message}\n`);
  process.exit(1);
};
metadata.on('error', fail);
forwards.on('error', fail);

const quit = () => {
  try {
    unlinkSync(control);
  } catch {
    // already gone
  }
  process.exit(0);
};
process.stdin.on('end', quit);
process.stdin.on('error', quit);
process.stdin.resume();
process.on('SIGTERM', quit);
