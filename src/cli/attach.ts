/**
 * `orchestra attach [--read-only] [--detach-key KEY] AGENT`: the agent's terminal in yours.
 *
 * It starts from the agent's rendered screen (cells, colours, modes, cursor) at the size the
 * attachment gives it, then streams the output that follows that screen, without a gap or a repeat.
 * Nothing the agent asks of a terminal reaches yours (orchestra answers, once), and nothing your
 * terminal says on its own reaches the agent. Keystrokes go to the supervisor as `input`
 * requests, which the agent's input queue writes in order and never inside a `send` delivery.
 * Exits and restarts are shown as status lines; the attachment lasts across them. Detaching
 * puts your terminal's modes back. `--read-only` never sends a keystroke or a resize.
 */
import type { Results } from '../bus/control-protocol.js';
import type { Received } from '../bus/client.js';
import { RUNNING_STATES } from '../machines/agent.js';
import { describeExit } from '../machines/restart-policy.js';
import { AnswerFilter, clearFor, QueryFilter, RESTORE_TERMINAL } from '../terminal/attach-stream.js';
import { UsageError } from './errors.js';
import { follow } from './follow.js';
import { formatDuration, withSession } from './ops.js';
import { ask, checkAgent } from './session-client.js';

/** `ctrl-]`, `ctrl-a` … `ctrl-z`, `ctrl-\`, `ctrl-^`, `ctrl-_` → the byte the terminal sends. */
export function parseDetachKey(spec: string): number {
  const m = /^(?:ctrl|c)-(.)$/i.exec(spec.trim());
  const ch = m?.[1];
  if (ch) {
    const code = ch.toUpperCase().charCodeAt(0);
    if (code >= 0x40 && code <= 0x5f) return code & 0x1f;
  }
  throw new UsageError(`--detach-key expects ctrl-<key> with a letter or one of @ [ \\ ] ^ _ (e.g. ctrl-]), got "${spec}"`);
}

export function keyName(byte: number): string {
  return `Ctrl-${String.fromCharCode(byte | 0x40)}`;
}

export interface AttachOptions {
  readonly readOnly: boolean;
  readonly detachKey: number;
}

/** A status line between the agent's output: on a line of its own, in the terminal's plain style. */
function status(text: string): string {
  return `\x1b[0m\x1b[?25h\r\n[${text}]\r\n`;
}

/** What an attacher says about the agent's lifecycle, from the bus messages it follows. */
export class LifecycleNotes {
  private lastExit = '';
  /** The agent ended a run and no new one has started: the next `starting` is a new screen. */
  private ended = false;

  constructor(
    private readonly agent: string,
    /** Its state when the attachment began. */
    private state: string,
  ) {}

  get running(): boolean {
    return RUNNING_STATES.has(this.state as never);
  }

  /** The status line for a message, if it calls for one; `fresh`: a new run starts, clear the screen. */
  note(r: Received): { line?: string; fresh?: boolean } {
    const m = r.msg;
    if (m.kind === 'exit') {
      this.lastExit = describeExit(m);
      this.ended = true;
      return {};
    }
    if (m.kind === 'restart') {
      const what = this.lastExit || 'ended';
      return { line: m.action === 'restart' ? `${this.agent} exited: ${what}; restarting in ${m.delayMs < 10_000 ? `${m.delayMs}ms` : formatDuration(m.delayMs)}` : `${this.agent} exited: ${m.reason}; not restarting` };
    }
    if (m.kind !== 'state') return {};
    this.state = m.to;
    if (m.to === 'starting' && this.ended) {
      this.ended = false;
      return { fresh: true };
    }
    if (m.to === 'stopped') {
      this.ended = true;
      return { line: `${this.agent} is ${m.to}: ${m.reason}` };
    }
    if (m.to === 'dead') return { line: `${this.agent} is dead: ${m.reason}; orchestra start ${this.agent} runs it again` };
    return {};
  }
}

export async function attach(files: readonly string[], agent: string, o: AttachOptions): Promise<number> {
  const stdin = process.stdin;
  const stdout = process.stdout;
  if (!stdin.isTTY) throw new UsageError(`attach needs a terminal, and standard input is not one; to watch ${agent}'s output use: orchestra logs -f ${agent}`);
  return withSession(files, async (s) => {
    checkAgent(s.config, agent);
    const size = { cols: stdout.columns || 80, rows: stdout.rows || 24 };
    const f = await follow(s, [agent], () => ask(s.client, 'attach', { agent, ...size, read_only: o.readOnly }, `attach ${agent}`), (a) => a.seq, ['output', 'state', 'exit', 'restart']);
    const a: Results['attach'] = f.first;
    const id = a.attach;
    const notes = new LifecycleNotes(agent, a.state);
    const queries = new QueryFilter();
    const answers = new AnswerFilter();
    const decoder = new TextDecoder('utf-8');
    let end!: (why: string) => void;
    const ended = new Promise<string>((res) => (end = res));
    let warnedNotRunning = false;
    // Raw mode and the key handler first: a key typed once the screen shows must reach the agent
    // as typed (in the terminal's line mode it would be held, echoed and its Enter turned into \n).
    stdin.setRawMode(true);
    const onData = (chunk: Buffer) => {
      const at = chunk.indexOf(o.detachKey);
      const keys = answers.push(at < 0 ? chunk : chunk.subarray(0, at));
      if (!o.readOnly && keys.length > 0) {
        if (notes.running) s.client.fire('input', { agent, data: new Uint8Array(keys), attach: id });
        else if (!warnedNotRunning) {
          warnedNotRunning = true;
          stdout.write(status(`${agent} is not running: keys are not sent`));
        }
      }
      if (at >= 0) end('detached');
    };
    stdin.on('data', onData);
    stdin.resume();
    // Above the screen, in the terminal's history: the key that detaches.
    process.stderr.write(`[attached to ${agent}${o.readOnly ? ' (read-only)' : ''}; detach with ${keyName(o.detachKey)}]\r\n`);
    stdout.write(clearFor(size.rows) + a.screen);
    if (a.cols !== size.cols || a.rows !== size.rows) {
      process.stderr.write(status(`${agent} is ${a.cols}x${a.rows}, this terminal ${size.cols}x${size.rows}${o.readOnly ? ' (read-only: the driver sets the size)' : ''}`));
    }
    f.live((r) => {
      if (r.msg.kind === 'output') {
        stdout.write(queries.push(decoder.decode(r.msg.data, { stream: true })));
        return;
      }
      const n = notes.note(r);
      if (n.fresh) {
        warnedNotRunning = false;
        stdout.write(RESTORE_TERMINAL + clearFor(size.rows));
      }
      if (n.line) stdout.write(status(n.line));
    });
    void f.supervisorGone.then(() => end('the supervisor is stopping'));
    const keepalive = setInterval(() => s.client.fire('keepalive', { agent, attach: id }), a.lease_ms / 3);
    const resize = () => {
      size.cols = stdout.columns || size.cols;
      size.rows = stdout.rows || size.rows;
      if (!o.readOnly) s.client.fire('resize', { agent, ...size, attach: id });
    };
    stdout.on('resize', resize);
    const why = await ended;
    clearInterval(keepalive);
    stdin.off('data', onData);
    stdout.off('resize', resize);
    stdin.setRawMode(false);
    stdin.pause();
    f.close();
    s.client.fire('detach', { agent, attach: id });
    stdout.write(`${RESTORE_TERMINAL}\x1b[${size.rows};1H\r\n[${why === 'detached' ? `detached from ${agent}` : `${why}; detached from ${agent}`}]\r\n`);
    return 0;
  });
}
