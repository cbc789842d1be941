/**
 * `orchestra up -d`: starts the supervisor as a daemon (its own session, no terminal) and returns
 * once every agent is ready (or running, when it cannot say ready), or says why not. The daemon's own lines go to STATE/up.log.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, openSync, closeSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { endpoints, sessionPaths } from '../host/session.js';
import { BusSubscriber } from '../bus/client.js';
import { loadConfigFiles } from '../config/load.js';
import { selectAgents } from './up.js';
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

/** What `up -d` waits for: every agent up, or settled in a state that will not get there by itself. */
type Outcome = { readonly to: string; readonly reason: string; readonly ended: string | undefined };

/**
 * Up as its dependents see it: ready, or busy (working). Every agent has a readiness — its
 * pattern, its sidecar, or else `idle_after` of quiet — so `starting` is not up yet.
 */
const isUp = (o: Outcome) => o.to === 'ready' || o.to === 'busy';

const FAILED = new Set(['dead', 'blocked']);

export async function upDetached(files: readonly string[], only: readonly string[], timeoutMs: number, err: NodeJS.WritableStream): Promise<number> {
  const config = selectAgents(loadConfigFiles(files), only);
  const running = runningInfo(config);
  if (running) throw new UsageError(`session "${config.session}" is already running, pid ${running.pid} (${config.stateDir})`, 1);
  const paths = sessionPaths(config.stateDir);
  mkdirSync(paths.logs, { recursive: true, mode: 0o700 });
  const upLog = join(config.stateDir, 'up.log');
  const fd = openSync(upLog, 'a', 0o600);
  // Watch the bus before the daemon binds it: every agent's first state is seen (or replayed).
  const bus = new BusSubscriber(endpoints(config).publish, { kinds: ['state', 'supervisor'] });
  const [cmd, args] = selfCommand(['up', ...files.flatMap((f) => ['-f', resolve(f)]), '--no-output', ...only]);
  const child = spawn(cmd, args, { detached: true, stdio: ['ignore', fd, fd], env: { ...process.env, ORCHESTRA_DETACHED: '1' } });
  closeSync(fd);
  const exited = new Promise<number | null>((res) => child.once('exit', (code) => res(code)));
  const states = new Map<string, Outcome>();
  // Like `docker compose up --wait`: done once every agent is up or has failed (dead, or blocked).
  const settled = (async () => {
    for await (const r of bus) {
      if (r.msg.kind === 'state') {
        const { agent, to, reason, blocked } = r.msg;
        // A dead agent's reason is the policy's; how its last run ended (`command not found: …`) came with `exited`.
        const ended = to === 'exited' ? reason : states.get(agent)?.ended;
        const why = blocked ? `on ${blocked.on}: ${reason}` : to === 'dead' && ended && !reason.includes(ended) ? `${reason}; last run: ${ended}` : reason;
        states.set(agent, { to, reason: why, ended });
      }
      const all = config.agents.every((a) => {
        const o = states.get(a.name);
        return o !== undefined && (isUp(o) || FAILED.has(o.to));
      });
      if (all) return true;
    }
    return false;
  })();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((res) => (timer = setTimeout(() => res('timeout'), timeoutMs)));
  const outcome = await Promise.race([settled, exited.then((code) => ({ code })), timeout]);
  clearTimeout(timer);
  bus.close();
  if (typeof outcome === 'object') {
    throw new UsageError(`the supervisor exited (code ${outcome.code}) before its agents started; its output (${upLog}):\n${tail(upLog)}`, 1);
  }
  child.unref();
  const hint = `see orchestra ps${files.map((f) => ` -f ${f}`).join('')}`;
  const notUp = config.agents.flatMap((a) => {
    const o = states.get(a.name);
    if (o === undefined) return [`${a.name} not started`];
    if (FAILED.has(o.to)) return [`${a.name} ${o.to} (${o.reason})`];
    return isUp(o) ? [] : [`${a.name} ${o.to}`];
  });
  if (notUp.length > 0) {
    const why = outcome === 'timeout' ? `not every agent is ready after ${timeoutMs}ms` : 'not every agent is ready';
    err.write(`orchestra: session "${config.session}" is up (pid ${child.pid}), but ${why}: ${notUp.join('; ')}; ${hint}\n`);
    return 1;
  }
  const summary = config.agents.map((a) => `${a.name} ${states.get(a.name)?.to}`).join(', ');
  err.write(`orchestra: session "${config.session}" up in the background (pid ${child.pid}): ${summary}\n`);
  err.write(`orchestra: logs in ${paths.logs}; supervisor output in ${upLog}; stop with: orchestra down${files.map((f) => ` -f ${f}`).join('')}\n`);
  return 0;
}
