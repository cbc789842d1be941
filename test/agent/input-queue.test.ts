import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { CANONICAL_LINE_MAX, type Confirmation, InputQueue, MAX_QUEUED } from '../../src/agent/input-queue.js';
import type { InputSettings } from '../../src/config/types.js';

const settings: InputSettings = { submit: '\r', submitDelayMs: 50, maxSize: 1000, chunk: 8, escape: true, bracketedPaste: 'auto' };

function make(s: Partial<InputSettings> = {}, paste = false, canonical: boolean | undefined = false, confirmation?: Confirmation) {
  const writes: string[] = [];
  const outcomes: [string, string, string][] = [];
  const steps: [string, string][] = [];
  let submitted = 0;
  const q = new InputQueue(
    { ...settings, ...s },
    {
      write: (d) => writes.push(d.toString()),
      pasteMode: () => paste,
      canonical: () => canonical,
      submitted: () => submitted++,
      outcome: (id, o, r) => outcomes.push([id, o, r]),
      progress: (id, o) => steps.push([id, o]),
    },
    confirmation,
  );
  return { q, writes, outcomes, steps, submitted: () => submitted };
}

describe('input queue', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('waits for ready, writes the body, then the submit key in a separate write after the pause', async () => {
    const t = make();
    t.q.stateChanged('busy');
    t.q.send({ id: 'a', text: 'hello', mode: 'wait-idle', timeoutMs: 5000 });
    expect(t.writes).toEqual([]);
    t.q.stateChanged('ready');
    expect(t.writes).toEqual(['hello']);
    await vi.advanceTimersByTimeAsync(49);
    expect(t.writes).toEqual(['hello']);
    await vi.advanceTimersByTimeAsync(1);
    expect(t.writes).toEqual(['hello', '\r']);
    expect(t.outcomes).toEqual([['a', 'delivered', 'typed and submitted']]);
    expect(t.submitted()).toBe(1);
  });

  it('chunks the body and never truncates; over max_size it refuses and types nothing', async () => {
    const t = make();
    t.q.stateChanged('ready');
    t.q.send({ id: 'a', text: 'x'.repeat(20), mode: 'now', timeoutMs: 5000 });
    await vi.advanceTimersByTimeAsync(50);
    expect(t.writes).toEqual(['xxxxxxxx', 'xxxxxxxx', 'xxxx', '\r']);
    t.q.send({ id: 'b', text: 'y'.repeat(1001), mode: 'now', timeoutMs: 5000 });
    expect(t.outcomes[1]).toEqual(['b', 'refused', expect.stringMatching(/1001 bytes.*at most 1000/)]);
    expect(t.writes).toHaveLength(4);
  });

  it('multi-line text goes in bracketed paste when the agent asked for it (auto)', async () => {
    const on = make({ chunk: 1000 }, true);
    on.q.stateChanged('ready');
    on.q.send({ id: 'a', text: 'one\ntwo', mode: 'now', timeoutMs: 5000 });
    await vi.advanceTimersByTimeAsync(50);
    expect(on.writes).toEqual(['\x1b[200~one\ntwo\x1b[201~', '\r']);
    const off = make({ chunk: 1000 }, false);
    off.q.stateChanged('ready');
    off.q.send({ id: 'a', text: 'one\ntwo', mode: 'now', timeoutMs: 5000 });
    await vi.advanceTimersByTimeAsync(50);
    expect(off.writes).toEqual(['one\ntwo', '\r']);
  });

  it('times out a send the agent never gets ready for, and never types it later', async () => {
    const t = make();
    t.q.stateChanged('busy');
    t.q.send({ id: 'a', text: 'late', mode: 'wait-idle', timeoutMs: 1000 });
    await vi.advanceTimersByTimeAsync(1000);
    expect(t.outcomes).toEqual([['a', 'timed-out', expect.stringMatching(/within 1000ms.*busy/)]]);
    t.q.stateChanged('ready');
    expect(t.writes).toEqual([]);
  });

  it('fails queued sends when the agent stops; refuses to a stopped agent at once', () => {
    const t = make();
    t.q.stateChanged('busy');
    t.q.send({ id: 'a', text: 'x', mode: 'wait-idle', timeoutMs: 1000 });
    t.q.stateChanged('stopping');
    expect(t.outcomes).toEqual([['a', 'agent-not-running', 'the agent is stopping']]);
    t.q.stateChanged('stopped');
    t.q.send({ id: 'b', text: 'x', mode: 'wait-idle', timeoutMs: 1000 });
    expect(t.outcomes[1]).toEqual(['b', 'agent-not-running', 'the agent is stopped']);
  });

  it('a waiting send survives a restart and is delivered once the agent is ready again', async () => {
    const t = make();
    t.q.stateChanged('busy');
    t.q.send({ id: 'a', text: 'x', mode: 'wait-idle', timeoutMs: 5000 });
    t.q.stateChanged('exited');
    t.q.stateChanged('restarting');
    t.q.stateChanged('starting');
    t.q.stateChanged('ready');
    await vi.advanceTimersByTimeAsync(50);
    expect(t.outcomes).toEqual([['a', 'delivered', 'typed and submitted']]);
  });

  it('--now delivers to a busy agent; one writer: keystrokes wait for the delivery', async () => {
    const t = make();
    t.q.stateChanged('busy');
    t.q.send({ id: 'a', text: 'now', mode: 'now', timeoutMs: 5000 });
    t.q.raw('k');
    t.q.key('i', '\x03');
    expect(t.writes).toEqual(['now']);
    await vi.advanceTimersByTimeAsync(50);
    expect(t.writes).toEqual(['now', '\r', 'k', '\x03']);
    expect(t.outcomes.map((o) => o[1])).toEqual(['delivered', 'delivered']);
  });

  it('bounds the queue', () => {
    const t = make();
    t.q.stateChanged('busy');
    for (let i = 0; i <= MAX_QUEUED; i++) t.q.send({ id: String(i), text: 'x', mode: 'wait-idle', timeoutMs: 5000 });
    expect(t.q.length).toBe(MAX_QUEUED);
    expect(t.outcomes).toEqual([[String(MAX_QUEUED), 'refused', expect.stringMatching(/already queued/)]]);
  });

  it('refuses a line the kernel would cut in line mode (canonical); types it in raw mode', async () => {
    const long = 'z'.repeat(CANONICAL_LINE_MAX + 1);
    const cooked = make({ maxSize: 10_000, chunk: 10_000 }, false, true);
    cooked.q.stateChanged('ready');
    cooked.q.send({ id: 'a', text: long, mode: 'now', timeoutMs: 5000 });
    expect(cooked.outcomes).toEqual([['a', 'refused', expect.stringMatching(/line mode \(canonical\).*at most 4095 bytes of a line; this text has a line of 4096 bytes; nothing was typed/)]]);
    expect(cooked.writes).toEqual([]);
    // Short lines are fine in line mode, and the queue goes on after a refusal.
    cooked.q.send({ id: 'b', text: `${'y'.repeat(4095)}\nshort`, mode: 'now', timeoutMs: 5000 });
    await vi.advanceTimersByTimeAsync(50);
    expect(cooked.outcomes[1]).toEqual(['b', 'delivered', 'typed and submitted']);
    const raw = make({ maxSize: 10_000, chunk: 10_000 }, false, false);
    raw.q.stateChanged('ready');
    raw.q.send({ id: 'a', text: long, mode: 'now', timeoutMs: 5000 });
    await vi.advanceTimersByTimeAsync(50);
    expect(raw.outcomes).toEqual([['a', 'delivered', 'typed and submitted']]);
  });

  it('regression: a send to claude on its trust dialog pressed Enter on "No, exit"; blocked, a waiting send is not typed until the dialog is gone', async () => {
    const t = make();
    t.q.stateChanged('blocked', 'trust');
    t.q.send({ id: 'a', text: 'hello', mode: 'wait-idle', timeoutMs: 60_000 });
    await vi.advanceTimersByTimeAsync(30_000);
    expect(t.writes).toEqual([]);
    t.q.stateChanged('ready');
    await vi.advanceTimersByTimeAsync(50);
    expect(t.writes).toEqual(['hello', '\r']);
  });

  it('blocked, a send that would not wait is refused with what the agent is blocked on, and nothing is typed', async () => {
    const t = make();
    t.q.stateChanged('blocked', 'permission');
    t.q.send({ id: 'a', text: 'yes', mode: 'now', timeoutMs: 5000 });
    expect(t.outcomes).toEqual([['a', 'refused', expect.stringMatching(/^agent-blocked: permission: /)]]);
    // One queued behind a delivery when the block comes is refused too.
    t.q.stateChanged('ready');
    t.q.send({ id: 'b', text: 'first', mode: 'now', timeoutMs: 5000 });
    t.q.send({ id: 'c', text: 'second', mode: 'now', timeoutMs: 5000 });
    t.q.stateChanged('blocked', 'question');
    await vi.advanceTimersByTimeAsync(100);
    // b was being typed when the dialog came: not submitted into it; c never typed.
    expect(t.outcomes.map((o) => [o[0], o[1]])).toEqual([
      ['a', 'refused'],
      ['b', 'refused'],
      ['c', 'refused'],
    ]);
    expect(t.writes.join('')).not.toContain('second');
  });

  it('blocked, keystrokes from an attached human and keys still go through: that is how a dialog is answered', () => {
    const t = make();
    t.q.stateChanged('blocked', 'permission');
    expect(t.q.raw('1')).toBe(true);
    t.q.key('k', '\x1b');
    expect(t.writes).toEqual(['1', '\x1b']);
  });
});

describe('input queue, agent with hooks (sends are confirmed by the prompt the agent reports)', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  const SCREEN = 'claude\n\n> fix the tests\n\n  ? for shortcuts\n\n';
  const hooked = (screen = SCREEN) => make({}, false, false, { timeoutMs: 10_000, screen: () => screen });

  it('a send is final only when the agent reports the prompt: confirmed (not delivered)', async () => {
    const t = hooked();
    t.q.stateChanged('ready');
    t.q.send({ id: 'a', text: 'fix the tests', mode: 'wait-idle', timeoutMs: 5000 });
    await vi.advanceTimersByTimeAsync(50);
    expect(t.writes.join('')).toBe('fix the tests\r');
    expect(t.submitted()).toBe(1);
    expect(t.outcomes).toEqual([]);
    // Typed and submitted is reported on the way, not as the end.
    expect(t.steps).toEqual([['a', 'delivered']]);
    t.q.prompted(' fix the tests\n');
    expect(t.outcomes).toEqual([['a', 'confirmed', 'typed and submitted; the agent reported it received the prompt']]);
    // Its timer is gone: nothing more comes.
    await vi.advanceTimersByTimeAsync(20_000);
    expect(t.outcomes).toHaveLength(1);
  });

  it('regression: a send typed but never received was reported delivered; without the report in time it is unconfirmed, quoting the screen', async () => {
    const t = hooked();
    t.q.stateChanged('ready');
    t.q.send({ id: 'a', text: 'fix the tests', mode: 'now', timeoutMs: 5000 });
    await vi.advanceTimersByTimeAsync(50 + 9_999);
    expect(t.outcomes).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(t.outcomes).toEqual([['a', 'unconfirmed', 'typed and submitted, but the agent did not report the prompt within 10000ms; the screen ends with:\nclaude\n> fix the tests\n  ? for shortcuts']]);
    // A late report changes nothing.
    t.q.prompted('fix the tests');
    expect(t.outcomes).toHaveLength(1);
  });

  it('the screen quoted is its last five lines with text', async () => {
    const t = hooked(Array.from({ length: 9 }, (_, i) => `line ${i}`).join('\n\n'));
    t.q.stateChanged('ready');
    t.q.send({ id: 'a', text: 'x', mode: 'now', timeoutMs: 5000 });
    await vi.advanceTimersByTimeAsync(10_050);
    expect(t.outcomes[0]?.[2]).toMatch(/the screen ends with:\nline 4\nline 5\nline 6\nline 7\nline 8$/);
  });

  it('a prompt confirms the send with the same text, not the oldest; a prompt nobody sent is ignored', async () => {
    const t = hooked();
    t.q.stateChanged('busy');
    t.q.send({ id: 'a', text: 'first', mode: 'now', timeoutMs: 5000 });
    t.q.send({ id: 'b', text: 'second', mode: 'now', timeoutMs: 5000 });
    await vi.advanceTimersByTimeAsync(100);
    t.q.prompted('typed by a human');
    t.q.prompted('second');
    t.q.prompted('first');
    expect(t.outcomes.map((o) => [o[0], o[1]])).toEqual([
      ['b', 'confirmed'],
      ['a', 'confirmed'],
    ]);
  });

  it('line ends and surrounding blanks do not matter; a prefix confirms only when the report says it was cut', async () => {
    const t = hooked();
    t.q.stateChanged('ready');
    t.q.send({ id: 'a', text: 'one\r\ntwo\n', mode: 'now', timeoutMs: 5000 });
    await vi.advanceTimersByTimeAsync(50);
    t.q.prompted('one');
    t.q.prompted('');
    t.q.prompted('', true);
    expect(t.outcomes).toEqual([]);
    t.q.prompted('one\nt', true);
    expect(t.outcomes.map((o) => o[1])).toEqual(['confirmed']);
    t.q.send({ id: 'b', text: 'one\r\ntwo', mode: 'now', timeoutMs: 5000 });
    await vi.advanceTimersByTimeAsync(50);
    t.q.prompted('one\ntwo');
    expect(t.outcomes.map((o) => o[1])).toEqual(['confirmed', 'confirmed']);
  });

  it('the outcome says how the text was typed (a bracketed paste)', async () => {
    const t = make({}, true, false, { timeoutMs: 10_000, screen: () => '' });
    t.q.stateChanged('ready');
    t.q.send({ id: 'a', text: 'one\ntwo', mode: 'now', timeoutMs: 5000 });
    t.q.send({ id: 'b', text: 'three\nfour', mode: 'now', timeoutMs: 5000 });
    await vi.advanceTimersByTimeAsync(100);
    t.q.prompted('one\ntwo');
    await vi.advanceTimersByTimeAsync(10_000);
    expect(t.outcomes).toEqual([
      ['a', 'confirmed', 'typed as a bracketed paste and submitted; the agent reported it received the prompt'],
      ['b', 'unconfirmed', 'typed as a bracketed paste and submitted, but the agent did not report the prompt within 10000ms; the screen is blank'],
    ]);
  });

  it('the run ends before the report: unconfirmed at once (that run will not report it), with the screen', async () => {
    const t = hooked();
    t.q.stateChanged('ready');
    t.q.send({ id: 'a', text: 'x', mode: 'now', timeoutMs: 5000 });
    await vi.advanceTimersByTimeAsync(50);
    t.q.stateChanged('blocked', 'permission');
    expect(t.outcomes).toEqual([]);
    t.q.stateChanged('exited');
    expect(t.outcomes).toEqual([['a', 'unconfirmed', expect.stringMatching(/^typed and submitted, but the agent became exited before it reported the prompt; the screen ends with:\n/)]]);
    t.q.stateChanged('ready');
    t.q.send({ id: 'b', text: 'y', mode: 'now', timeoutMs: 5000 });
    await vi.advanceTimersByTimeAsync(50);
    t.q.close();
    expect(t.outcomes[1]).toEqual(['b', 'unconfirmed', expect.stringMatching(/the agent was shut down before it reported the prompt/)]);
    await vi.advanceTimersByTimeAsync(20_000);
    expect(t.outcomes).toHaveLength(2);
  });

  it('keys and failures are as without hooks: only a typed and submitted send waits for the report', async () => {
    const t = hooked();
    t.q.stateChanged('ready');
    t.q.key('k', '\x03');
    t.q.send({ id: 'big', text: 'z'.repeat(1001), mode: 'now', timeoutMs: 5000 });
    expect(t.outcomes.map((o) => [o[0], o[1]])).toEqual([
      ['k', 'delivered'],
      ['big', 'refused'],
    ]);
  });

  it('regression: a dialog that came up during the submit delay got the submit key (it answered the dialog); the send is refused, Enter is not typed', async () => {
    const t = make();
    t.q.stateChanged('ready');
    t.q.send({ id: 'a', text: 'hello', mode: 'wait-idle', timeoutMs: 5000 });
    expect(t.writes).toEqual(['hello']);
    t.q.stateChanged('blocked', 'permission');
    await vi.advanceTimersByTimeAsync(50);
    expect(t.writes).toEqual(['hello']);
    expect(t.outcomes).toEqual([['a', 'refused', expect.stringMatching(/^agent-blocked: permission: a dialog came up while the text was typed/)]]);
  });
});
