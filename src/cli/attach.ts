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
import { clearFor, detachKeyAt, QueryFilter, RESTORE_TERMINAL, typedKeys } from '../terminal/attach-stream.js';
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
  /** No run is on screen (it ended, or none ran when attaching): the next `starting` is a new screen. */
  private ended: boolean;

  constructor(
    private readonly agent: string,
    /** Its state when the attachment began. */
    private state: string,
  ) {
    this.ended = !this.running;
  }

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
    const attachNow = () => ask(s.client, 'attach', { agent, ...size, read_only: o.readOnly }, `attach ${agent}`);
    const f = await follow(s, [agent], attachNow, (first) => first.seq, ['output', 'state', 'exit', 'restart']);
    let a: Results['attach'] = f.first;
    const notes = new LifecycleNotes(agent, a.state);
    let queries = new QueryFilter();
    let decoder = new TextDecoder('utf-8');
    /** Output at or below this seq is in the screen drawn last. */
    let floor = a.seq;
    /** While a new screen is fetched, output waits here. */
    let held: Received[] | undefined;
    let end!: (why: string) => void;
    const ended = new Promise<string>((res) => (end = res));
    let warnedNotRunning = false;
    const show = (data: Uint8Array) => stdout.write(queries.push(decoder.decode(data, { stream: true })));
    /** Draws an attachment's screen; then the end of the output it holds unfinished, for the output after it to finish. */
    const draw = (next: Results['attach']) => {
      queries = new QueryFilter();
      decoder = new TextDecoder('utf-8');
      stdout.write(RESTORE_TERMINAL + clearFor(size.rows) + next.screen);
      show(next.tail);
    };
    /**
     * Starts over from a new screen: when output was missed (a slow terminal), or the attachment's
     * lease ran out (a suspended laptop). The old attachment is let go.
     */
    const reattach = async () => {
      if (held) return;
      held = [];
      try {
        const next = await attachNow();
        s.client.fire('detach', { agent, attach: a.attach });
        a = next;
        floor = next.seq;
        draw(next);
        for (const r of held.splice(0)) onLive(r);
      } catch (err) {
        end((err as Error).message);
      } finally {
        held = undefined;
      }
    };
    // Raw mode and the key handler first: a key typed once the screen shows must reach the agent
    // as typed (in the terminal's line mode it would be held, echoed and its Enter turned into \n).
    stdin.setRawMode(true);
    const onData = (chunk: Buffer) => {
      const detach = detachKeyAt(chunk, o.detachKey);
      const keys = typedKeys(detach ? chunk.subarray(0, detach.at) : chunk);
      if (!o.readOnly && keys.length > 0) {
        if (notes.running) s.client.fire('input', { agent, data: new Uint8Array(keys), attach: a.attach });
        else if (!warnedNotRunning) {
          warnedNotRunning = true;
          stdout.write(status(`${agent} is not running: keys are not sent`));
        }
      }
      if (detach) end('detached');
    };
    stdin.on('data', onData);
    stdin.resume();
    // Above the screen, in the terminal's history: the key that detaches, and sizes that differ.
    process.stderr.write(`[attached to ${agent}${o.readOnly ? ' (read-only)' : ''}; detach with ${keyName(o.detachKey)}]\r\n`);
    if (a.cols !== size.cols || a.rows !== size.rows) {
      process.stderr.write(`[${agent} is ${a.cols}x${a.rows}, this terminal ${size.cols}x${size.rows}${o.readOnly ? ' (read-only: the driver sets the size)' : ''}]\r\n`);
    }
    draw(a);
    function onLive(r: Received): void {
      if (held) {
        held.push(r);
        return;
      }
      if (r.msg.kind === 'output') {
        if (r.msg.seq <= floor) return;
        if (r.gap > 0) {
          void reattach();
          return;
        }
        show(r.msg.data);
        return;
      }
      const n = notes.note(r);
      if (n.fresh) {
        warnedNotRunning = false;
        queries = new QueryFilter();
        decoder = new TextDecoder('utf-8');
        stdout.write(RESTORE_TERMINAL + clearFor(size.rows));
      }
      if (n.line) stdout.write(status(n.line));
    }
    f.live(onLive);
    void f.supervisorGone.then(() => end('the supervisor is stopping'));
    // A supervisor that no longer answers (killed) ends the attachment; a lease that ran out is renewed by attaching again.
    const keepalive = setInterval(() => {
      ask(s.client, 'keepalive', { agent, attach: a.attach }, 'keepalive', a.lease_ms / 3).then(
        (k) => k.attached || void reattach(),
        (err: Error) => end(`the supervisor does not answer (${err.message})`),
      );
    }, a.lease_ms / 3);
    const resize = () => {
      size.cols = stdout.columns || size.cols;
      size.rows = stdout.rows || size.rows;
      if (!o.readOnly) s.client.fire('resize', { agent, ...size, attach: a.attach });
    };
    stdout.on('resize', resize);
    const signalled = (sig: NodeJS.Signals) => end(`${sig} received`);
    for (const sig of ['SIGTERM', 'SIGHUP'] as const) process.once(sig, signalled);
    const why = await ended;
    clearInterval(keepalive);
    for (const sig of ['SIGTERM', 'SIGHUP'] as const) process.off(sig, signalled);
    stdin.off('data', onData);
    stdout.off('resize', resize);
    f.close();
    // The terminal's modes back first, while still raw: a mouse or focus report sent meanwhile
    // is read here, not by the shell.
    stdout.write(`${RESTORE_TERMINAL}\x1b[${size.rows};1H\r\n[${why === 'detached' ? `detached from ${agent}` : `${why}; detached from ${agent}`}]\r\n`);
    stdin.setRawMode(false);
    stdin.pause();
    await s.client.request('detach', { agent, attach: a.attach }, 2000).catch(() => undefined);
    return 0;
  });
}
