#!/usr/bin/env node
// Benchmark runner: `npm run bench -- <name> [args]` runs bench/<name>.mjs.
// Each benchmark prints its progress, then one JSON object with its figures as its last line.
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const names = readdirSync(here).filter((f) => f.endsWith('.mjs') && !f.startsWith('_')).map((f) => f.slice(0, -4));
const [name, ...rest] = process.argv.slice(2);
if (!name || !existsSync(join(here, `${name}.mjs`))) {
  process.stderr.write(`usage: npm run bench -- <name>\navailable: ${names.join(', ')}\n`);
  process.exit(2);
}
process.argv = [process.argv[0], join(here, `${name}.mjs`), ...rest];
await import(join(here, `${name}.mjs`));
