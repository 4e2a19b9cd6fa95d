#!/usr/bin/env node
// The nimbus CLI. Runs the bundle built by `npm run build` (scripts/bootstrap.sh builds it).
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const bundle = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'nimbus.js');
if (!existsSync(bundle)) {
  process.stderr.write(
    'nimbus: NIMBUS_ERR_NOT_BUILT: run `npm start` (or `npm run build`) in the repository first\n',
  );
  process.exit(2);
}
const { run } = await import(bundle);
run();
