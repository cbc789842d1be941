/**
 * `orchestra up -d`: starts the supervisor as a daemon (its own session, no terminal) and returns
 * once every agent has been started, or says why not. The daemon's own lines go to STATE/up.log.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, openSync, closeSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { endpoints, sessionPaths } from '../host/session.js';
import { BusSubscriber } from '../bus/client.js';
import { loadConfig } from '../config/load.js';
import { UsageError } from './errors.js';
import { runningInfo } from './session-client.js';

const MAIN = fileURLToPath(new URL('./main.js', import.meta.url));

function selfCommand(args: string[]): [string, string[]] {
  // Under Deno the same entry runs with `deno run -A`.
  if ('Deno' in globalThis) return [process.execPath, ['run', '-A', MAIN, ...args]];
  return [process.execPath, [MAIN, ...args]];
}

function tail(file: string, lines = 15): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no output)';
  }
}

export async function upDetached(file: string, timeoutMs: number, err: NodeJS.WritableStream): Promise<number> {
  const config = loadConfig(file);
  const running = runningInfo(config);
  if (running) throw new UsageError(`session "${config.session}" is already running, pid ${running.pid} (${config.stateDir})`, 1);
  const paths = sessionPaths(config.stateDir);
  mkdirSync(paths.logs, { recursive: true, mode: 0o700 });
  const upLog = join(config.stateDir, 'up.log');
  const fd = openSync(upLog, 'a', 0o600);
  // Watch the bus before the daemon binds it: every agent's first state is seen (or replayed).
  const bus = new BusSubscriber(endpoints(config).publish, { kinds: ['state', 'supervisor'] });
  const [cmd, args] = selfCommand(['up', config.file, '--no-output']);
  const child = spawn(cmd, args, { detached: true, stdio: ['ignore', fd, fd], env: { ...process.env, ORCHESTRA_DETACHED: '1' } });
  closeSync(fd);
  const exited = new Promise<number | null>((res) => child.once('exit', (code) => res(code)));
  const states = new Map<string, string>();
  const started = (async () => {
    for await (const r of bus) {
      if (r.msg.kind === 'state') states.set(r.msg.agent, r.msg.to);
      if (config.agents.every((a) => states.has(a.name))) return true;
    }
    return false;
  })();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((res) => (timer = setTimeout(() => res('timeout'), timeoutMs)));
  const outcome = await Promise.race([started, exited.then((code) => ({ code })), timeout]);
  clearTimeout(timer);
  bus.close();
  if (typeof outcome === 'object') {
    throw new UsageError(`the supervisor exited (code ${outcome.code}) before its agents started; its output (${upLog}):\n${tail(upLog)}`, 1);
  }
  child.unref();
  if (outcome === 'timeout') {
    const missing = config.agents.filter((a) => !states.has(a.name)).map((a) => a.name);
    err.write(`orchestra: session "${config.session}" is up (pid ${child.pid}), but not started after ${timeoutMs}ms: ${missing.join(', ')} (waiting on dependencies?); see orchestra ps\n`);
    return 1;
  }
  const summary = config.agents.map((a) => `${a.name} ${states.get(a.name)}`).join(', ');
  err.write(`orchestra: session "${config.session}" up in the background (pid ${child.pid}): ${summary}\n`);
  err.write(`orchestra: logs in ${paths.logs}; supervisor output in ${upLog}; stop with: orchestra down -f ${config.file}\n`);
  return 0;
}
