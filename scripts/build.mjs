// Bundles the server and CLI into dist/nimbus.js. Dependencies are bundled too (Node resolves and
// compiles one file instead of hundreds: `nimbus` starts ~250 ms sooner); packages with install
// scripts (native addons such as better-sqlite3, listed in package.json "allowScripts") stay in
// node_modules. Files are written next to their target and renamed, so a `nimbus` starting while
// another build runs never reads half a bundle.
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { build } from 'esbuild';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
// Packages that load a prebuilt .node binary from an optional platform package stay external too.
const native = [...Object.keys(pkg.allowScripts ?? {}), '@node-rs/crc32', '@lydell/node-pty'];

const result = await build({
  entryPoints: ['src/cli/main.ts'],
  outfile: 'dist/nimbus.js',
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  external: native,
  // Bundled CommonJS packages call require() for Node's built-ins.
  banner: {
    js: "import { createRequire as __nimbusCreateRequire } from 'node:module'; const require = __nimbusCreateRequire(import.meta.url);",
  },
  sourcemap: true,
  logLevel: 'warning',
  write: false,
});

// The map first, so a new bundle never points at an old map.
for (const file of [...result.outputFiles].sort((a, b) => b.path.length - a.path.length)) {
  mkdirSync(dirname(file.path), { recursive: true });
  const temp = `${file.path}.${process.pid}.tmp`;
  writeFileSync(temp, file.contents);
  renameSync(temp, file.path);
}
