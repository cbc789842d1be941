import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = resolve(import.meta.dirname, '../../src');

/**
 * What `file` loads when it is evaluated: its imports and re-exports that survive compilation
 * (an `import type`, or braces that name only types, are erased by tsc), and its top-level requires.
 */
function runtimeImports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const out: string[] = [];
  for (const m of text.matchAll(/^(?:import|export)\s+(type\s+)?([^'";]*?)\s*from\s+'([^']+)'|^import\s+'([^']+)'/gm)) {
    const [, typeOnly, names = '', from, bare] = m;
    if (bare) {
      out.push(bare);
      continue;
    }
    if (typeOnly || !from) continue;
    const braces = /^\{([^}]*)\}$/.exec(names.trim());
    const allTypes = braces?.[1]?.split(',').map((s) => s.trim()).filter(Boolean).every((s) => s.startsWith('type ')) ?? false;
    if (!allTypes) out.push(from);
  }
  // createRequire at the top level loads at start too (a require inside a function loads later).
  for (const m of text.matchAll(/^(?:const|let) [^=]+= require\('([^']+)'\)/gm)) out.push(m[1] as string);
  return out;
}

/** The packages `entry` loads at start, directly or through the project's own modules. */
function packagesLoadedBy(entry: string): Set<string> {
  const seen = new Set<string>();
  const packages = new Set<string>();
  const walk = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    for (const spec of runtimeImports(file)) {
      if (spec.startsWith('.')) walk(join(dirname(file), spec.replace(/\.js$/, '.ts')));
      else if (!spec.startsWith('node:')) packages.add(spec);
    }
  };
  walk(entry);
  return packages;
}

describe('what an agent worker loads at start', () => {
  const loaded = packagesLoadedBy(join(SRC, 'agent/agent-worker.ts'));

  it('none of the packages only the supervisor needs (zod cost every worker ~6 MiB and ~0.1 s)', () => {
    for (const supervisorOnly of ['zod', 'pino', 'zeromq', 'yaml', 'commander']) expect(loaded).not.toContain(supervisorOnly);
  });

  it('only the packages it cannot do without: each costs every agent memory (docs/benchmarks.md, `scale`; uuid cost 1.6 MiB for one function)', () => {
    expect([...loaded].sort()).toEqual(['msgpackr', 'node-pty', 'xstate']);
  });

  it('not the terminal emulator: it loads with the first output (3.5 MiB an agent that draws nothing never pays)', () => {
    expect(loaded).not.toContain('@xterm/headless');
  });

  it('sees a package imported through the project\'s own modules (the walk itself works)', () => {
    expect(loaded).toContain('xstate');
  });
});
