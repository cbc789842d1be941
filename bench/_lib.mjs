// Shared helpers for benchmarks: run orchestra on a generated config, median of runs.
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const ROOT = resolve(import.meta.dirname, '..');

export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Starts `orchestra up --await-subscriber` on `agentsYaml`; returns the process and bus endpoint. */
export function startOrchestra(agentsYaml) {
  const dir = mkdtempSync(`${process.env.BENCH_STATE_ROOT ?? '/tmp'}/orch-bench-`);
  const stateDir = join(dir, 's');
  const file = join(dir, 'orchestra.yaml');
  writeFileSync(file, `session: bench\nstate_dir: ${stateDir}\nagents:\n${agentsYaml}`);
  const proc = spawn(process.execPath, [join(ROOT, 'bin/orchestra.js'), 'up', file, '--no-output', '--await-subscriber'], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const exited = new Promise((res) => proc.on('exit', res));
  return { proc, exited, endpoint: `ipc://${stateDir}/bus.sock`, stateDir };
}
