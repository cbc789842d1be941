/** `orchestra spawn` (an ephemeral agent from a template) and `orchestra worktrees` (listing and pruning kept worktrees). */
import { readFileSync } from 'node:fs';
import { loadConfigFiles } from '../config/load.js';
import { runningSession } from '../host/session.js';
import { changes, type Changes, cleanUp, GitError, type Worktree, WorktreeRegistry } from '../work/worktrees.js';
import { UsageError } from './errors.js';
import { reportInput, withSession } from './ops.js';
import { ask } from './session-client.js';

/** `--var k=v` (repeatable) → a mapping; the value may hold `=`. */
export function collectVar(text: string, prev: Record<string, string> = {}): Record<string, string> {
  const eq = text.indexOf('=');
  if (eq <= 0) throw new UsageError(`--var expects NAME=VALUE, got "${text}"`);
  return { ...prev, [text.slice(0, eq)]: text.slice(eq + 1) };
}

export interface SpawnCliOptions {
  readonly name?: string | undefined;
  readonly vars: Readonly<Record<string, string>>;
  /** The words of PROMPT ("-": standard input), if any. */
  readonly prompt: readonly string[];
}

/** PROMPT's words joined; "-" reads standard input (its one final newline is the end of the input). */
function promptOf(words: readonly string[]): string | undefined {
  const joined = words.join(' ');
  return joined === '-' ? readFileSync(0, 'utf8').replace(/\r?\n$/, '') : joined === '' ? undefined : joined;
}

/** Prints the new agent's name (and worktree) on stdout, for scripts: `A=$(orchestra spawn t)`. */
export async function spawn(files: readonly string[], template: string, o: SpawnCliOptions, out: NodeJS.WritableStream): Promise<number> {
  const prompt = promptOf(o.prompt);
  return withSession(files, async ({ client }) => {
    const r = await ask(client, 'spawn', { template, name: o.name, vars: { ...o.vars }, prompt }, `spawn from ${template}`, 120_000);
    out.write(`${r.name}\n`);
    if (r.worktree) process.stderr.write(`orchestra: ${r.name} works in ${r.worktree.path} (branch ${r.worktree.branch})\n`);
    return 0;
  });
}

export interface SessionCliOptions {
  readonly template?: string | undefined;
  readonly vars: Readonly<Record<string, string>>;
  readonly prompt: readonly string[];
  readonly timeoutMs: number;
}

/**
 * Prints the session's agent name once it is up (cold-started if need be; said on stderr); with a
 * PROMPT, then the prompt's outcome as `orchestra send` prints it (exit 1 if not delivered).
 */
export async function session(files: readonly string[], id: string, o: SessionCliOptions, out: NodeJS.WritableStream): Promise<number> {
  const prompt = promptOf(o.prompt);
  return withSession(files, async ({ client, config }) => {
    const args = { id, template: o.template, vars: { ...o.vars }, prompt, timeout_ms: o.timeoutMs };
    // A cold start waits for the agent's readiness (the supervisor gives up after the template's
    // ready timeout and a margin), then the prompt for its delivery: wait longer than it would.
    const ready = Math.max(0, ...config.templates.map((t) => t.agent.readyTimeoutMs));
    const r = await ask(client, 'session.get', args, `session ${id}`, Math.max(600_000, ready + 300_000) + o.timeoutMs);
    out.write(`${r.agent}\n`);
    if (r.started) process.stderr.write(`orchestra: started session ${r.agent} from template ${r.template}${r.conversation ? ` (conversation ${r.conversation})` : ''}\n`);
    return r.prompt ? reportInput(r.agent, 'send', r.prompt, out) : 0;
  });
}

export interface WorktreesOptions {
  readonly prune: boolean;
  readonly force: boolean;
  readonly json: boolean;
}

/**
 * Lists the session's worktrees (live ones and those kept after reaping); `--prune` cleans up the
 * kept ones by the rules, refusing dirty ones unless `--force` (exit 1 when one was refused).
 */
export async function worktrees(files: readonly string[], o: WorktreesOptions, out: NodeJS.WritableStream): Promise<number> {
  const config = loadConfigFiles(files);
  const registry = WorktreeRegistry.of(config.stateDir);
  // A live worktree belongs to an agent of a running session: never pruned. With no session
  // running (it ended uncleanly), nothing uses it any more.
  const running = runningSession(config.stateDir) !== undefined;
  const inUse = (w: Worktree) => w.state === 'live' && running;
  const rows = await Promise.all(registry.list().map(async (w) => ({ w, c: await changes(w).catch(() => undefined) })));
  if (!o.prune) {
    if (o.json) out.write(`${JSON.stringify({ worktrees: rows.map(({ w, c }) => ({ ...w, inUse: inUse(w), ...(c ?? { missing: true }) })) })}\n`);
    else out.write(table(rows, inUse));
    return 0;
  }
  let refused = 0;
  for (const { w, c } of rows) {
    if (inUse(w)) continue;
    if (c?.dirty && !o.force) {
      refused++;
      process.stderr.write(`orchestra: kept ${w.path} (agent ${w.agent}, branch ${w.branch}): it has uncommitted changes; commit them, or prune with --force to discard them\n`);
      continue;
    }
    try {
      const outcome = await cleanUp(w, o.force);
      registry.put(w.path, null);
      out.write(`${w.path}: ${outcome === 'removed' ? `removed with branch ${w.branch}` : `removed; branch ${w.branch} kept (it has commits)`}\n`);
    } catch (err) {
      if (!(err instanceof GitError)) throw err;
      refused++;
      process.stderr.write(`orchestra: ${w.path}: ${err.message}\n`);
    }
  }
  return refused > 0 ? 1 : 0;
}

function table(rows: readonly { w: Worktree; c: Changes | undefined }[], inUse: (w: Worktree) => boolean): string {
  if (rows.length === 0) return 'no worktrees\n';
  const what = (c: Changes | undefined) => (!c ? 'missing' : [c.dirty ? 'uncommitted changes' : '', c.commits > 0 ? `${c.commits} commit${c.commits === 1 ? '' : 's'}` : ''].filter(Boolean).join(', ') || 'clean');
  const lines = [['AGENT', 'STATE', 'CHANGES', 'BRANCH', 'PATH'], ...rows.map(({ w, c }) => [w.agent, inUse(w) ? 'live' : 'kept', what(c), w.branch, w.path])];
  const widths = lines[0]!.map((_, i) => Math.max(...lines.map((l) => l[i]!.length)));
  return lines.map((l) => l.map((cell, i) => (i === l.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ')).join('\n') + '\n';
}
