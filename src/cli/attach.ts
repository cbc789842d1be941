/**
 * `orchestra attach [--read-only] [--detach-key KEY] AGENT`: the agent's terminal in yours.
 *
 * Output comes from the bus (ring catch-up, then live); keystrokes go to the supervisor as `input`
 * requests, which the agent's input queue writes in order and never inside a `send` delivery.
 * The terminal's size is given to the agent's PTY, and the size it had before is put back on
 * detach. `--read-only` never sends a keystroke or a resize.
 */
import { UsageError } from './errors.js';
import { follow } from './follow.js';
import { withSession } from './ops.js';
import { checkAgent } from './session-client.js';

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
  /** Catch-up bytes replayed before live output. */
  readonly replayBytes?: number;
}

export async function attach(file: string, agent: string, o: AttachOptions): Promise<number> {
  const stdin = process.stdin;
  const stdout = process.stdout;
  if (!stdin.isTTY) throw new UsageError(`attach needs a terminal, and standard input is not one; to watch ${agent}'s output use: orchestra logs -f ${agent}`);
  return withSession(file, async (s) => {
    checkAgent(s.config, agent);
    const f = await follow(s, agent, o.replayBytes ?? 64 * 1024);
    const original = { cols: f.ring.cols, rows: f.ring.rows };
    const resize = () => {
      if (!o.readOnly && stdout.columns && stdout.rows) s.client.fire('resize', { agent, cols: stdout.columns, rows: stdout.rows });
    };
    let end!: (why: string) => void;
    const ended = new Promise<string>((res) => (end = res));
    // Raw mode and the key handler first: a key typed once the banner shows must reach the agent
    // as typed (in the terminal's line mode it would be held, echoed and its Enter turned into \n).
    stdin.setRawMode(true);
    const onData = (chunk: Buffer) => {
      const at = chunk.indexOf(o.detachKey);
      const keys = at < 0 ? chunk : chunk.subarray(0, at);
      if (!o.readOnly && keys.length > 0) s.client.fire('input', { agent, data: new Uint8Array(keys) });
      if (at >= 0) end('detached');
    };
    stdin.on('data', onData);
    stdin.resume();
    process.stderr.write(`[attached to ${agent}${o.readOnly ? ' (read-only)' : ''}; detach with ${keyName(o.detachKey)}]\r\n`);
    stdout.write(f.ring.data);
    f.live((r) => {
      if (r.msg.kind === 'output') stdout.write(r.msg.data);
      else if (r.msg.kind === 'supervisor' && (r.msg.event === 'stopping' || r.msg.event === 'stopped')) end('the supervisor is stopping');
    });
    void f.supervisorGone.then(() => end('the supervisor is stopping'));
    stdout.on('resize', resize);
    // A resize makes full-screen programs redraw: the screen is right even if the replay was not.
    resize();
    const why = await ended;
    stdin.off('data', onData);
    stdout.off('resize', resize);
    stdin.setRawMode(false);
    stdin.pause();
    if (!o.readOnly) s.client.fire('resize', { agent, ...original });
    f.close();
    process.stderr.write(`\r\n[${why === 'detached' ? `detached from ${agent}` : `${why}; detached from ${agent}`}]\r\n`);
    return 0;
  });
}
