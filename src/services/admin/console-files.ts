import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, extname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/**
 * The web console's built files (console/dist, written by `vite build` from scripts/bootstrap.sh),
 * served at `/`. Client-side routes get index.html (SPA fallback); every API prefix keeps its own
 * routes and its Google-shaped 404s. When the build is missing, the caller keeps the status page.
 */

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
};

/** Path prefixes that belong to the console's client-side router. */
export const CONSOLE_ROUTES = [
  'home',
  'iam-admin',
  'storage/browser',
  'compute/instances',
  'networking',
  'services',
];

/** The console's build directory: NIMBUS_CONSOLE_DIR, else the nearest `console/dist` above this file. */
export function findConsoleDir(start = dirname(fileURLToPath(import.meta.url))): string | undefined {
  const override = process.env.NIMBUS_CONSOLE_DIR;
  if (override !== undefined && override !== '') {
    return existsSync(join(override, 'index.html')) ? resolve(override) : undefined;
  }
  let dir = start;
  for (let i = 0; i < 5; i += 1) {
    const candidate = join(dir, 'console', 'dist');
    if (existsSync(join(candidate, 'index.html'))) {
      return candidate;
    }
    const parent = dirname(dir);
    if (parent === dir) {
      break;
    }
    dir = parent;
  }
  return undefined;
}

/** The file under `root` that `path` names, or undefined (no traversal, no directories). */
export function fileFor(root: string, path: string): string | undefined {
  let decoded: string;
  try {
    decoded = decodeURIComponent(path);
  } catch {
    return undefined;
  }
  if (decoded.includes('\0') || decoded.split('/').some((part) => part === '..')) {
    return undefined;
  }
  const file = resolve(root, `.${decoded}`);
  if (!file.startsWith(`${root}${sep}`)) {
    return undefined;
  }
  try {
    return statSync(file).isFile() ? file : undefined;
  } catch {
    return undefined;
  }
}

function sendFile(reply: FastifyReply, file: string): FastifyReply {
  const type = CONTENT_TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream';
  // Vite names assets by content hash: they never change. index.html always revalidates.
  const immutable = file.includes(`${sep}assets${sep}`);
  return reply
    .type(type)
    .header('cache-control', immutable ? 'public, max-age=31536000, immutable' : 'no-cache')
    .header('x-content-type-options', 'nosniff')
    .send(readFileSync(file));
}

/** Serves index.html when the console is built; answers false (nothing sent) when it is not. */
export function sendConsoleIndex(reply: FastifyReply, consoleDir: () => string | undefined): boolean {
  const root = consoleDir();
  if (root === undefined) {
    return false;
  }
  void sendFile(reply, join(root, 'index.html'));
  return true;
}

/**
 * GET/HEAD on `/assets/*` (the build's files) and on the console's client routes (index.html). Only
 * those prefixes are registered, so API paths never reach these handlers and keep their own errors.
 */
export function registerConsoleFiles(app: FastifyInstance, consoleDir: () => string | undefined): void {
  const asset = async (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
    const root = consoleDir();
    const file = root === undefined ? undefined : fileFor(root, request.url.split('?')[0] ?? '/');
    if (file === undefined) {
      reply.callNotFound();
      return reply;
    }
    return sendFile(reply, file);
  };
  const page = async (_request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
    if (!sendConsoleIndex(reply, consoleDir)) {
      reply.callNotFound();
    }
    return reply;
  };
  app.get('/assets/*', { config: { public: true } }, asset);
  for (const route of CONSOLE_ROUTES) {
    app.get(`/${route}`, { config: { public: true } }, page);
    app.get(`/${route}/*`, { config: { public: true } }, page);
  }
}
