import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { OutputLog } from '../../src/actors/output-log.js';
import { activityWindowFor, MAX_BATCH, OutputPipeline, SMALL_BATCH, STREAM_WINDOW_MS } from '../../src/actors/output-pipeline.js';
import { RingBuffer } from '../../src/actors/ring-buffer.js';

function setup(activityWindowMs = 0) {
  let now = 1000;
  const batches: Uint8Array[] = [];
  const logged: Uint8Array[] = [];
  const views: string[] = [];
  let activity = 0;
  const p = new OutputPipeline(
    {
      ring: new RingBuffer(1 << 20),
      log: { write: (c: Uint8Array) => logged.push(c) } as unknown as OutputLog,
      forward: (chunks) => batches.push(Buffer.concat(chunks)),
      view: (c: Buffer) => views.push(c.toString()),
      activity: () => activity++,
    },
    () => now,
    activityWindowMs,
  );
  return { p, batches, logged, views, advance: (ms: number) => (now += ms), activity: () => activity };
}

describe('OutputPipeline', () => {
  beforeEach(() => vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setImmediate'] }));
  afterEach(() => vi.useRealTimers());

  it('sends the first chunk after a quiet period at once (next turn), not after a timer', () => {
    const s = setup();
    s.p.push(Buffer.from('$ '));
    vi.advanceTimersToNextTimer(); // the setImmediate
    expect(s.batches.map((b) => Buffer.from(b).toString())).toEqual(['$ ']);
    expect(s.activity()).toBe(1);
  });

  it('while output streams in bulk, collects chunks for STREAM_WINDOW_MS into one message', () => {
    const s = setup();
    const a = 'a'.repeat(SMALL_BATCH);
    s.p.push(Buffer.from(a));
    vi.advanceTimersToNextTimer();
    s.advance(0.1);
    s.p.push(Buffer.from('b'));
    s.p.push(Buffer.from('c'));
    expect(s.batches).toHaveLength(1);
    vi.advanceTimersByTime(STREAM_WINDOW_MS);
    expect(s.batches.map((b) => Buffer.from(b).toString())).toEqual([a, 'bc']);
    // Consecutive reads are contiguous copies: the log gets one slice per batch.
    expect(s.logged.map((b) => Buffer.from(b).toString())).toEqual([a, 'bc']);
  });

  it('copies each read at once: the reader may reuse its buffer right after the call', () => {
    const s = setup();
    const readBuffer = Buffer.alloc(4);
    for (const text of ['one.', 'two.', 'six.']) {
      readBuffer.write(text);
      s.p.push(readBuffer);
    }
    readBuffer.write('XXXX');
    s.p.flush();
    expect(s.views).toEqual(['one.', 'two.', 'six.']);
    expect(s.batches.map((b) => Buffer.from(b).toString())).toEqual(['one.two.six.']);
    // Contiguous copies: one slice for the whole batch.
    expect(s.logged.map((b) => Buffer.from(b).toString())).toEqual(['one.two.six.']);
  });

  it('a batch that does not fit in the current slab continues in a new one, bytes in order', () => {
    const s = setup();
    const a = Buffer.alloc(MAX_BATCH - 3, 'a');
    s.p.push(a); // under MAX_BATCH: waits for the next turn
    s.p.push(Buffer.from('bcdef')); // does not fit in the slab's last 3 bytes
    expect(s.batches).toHaveLength(1);
    expect(Buffer.concat(s.logged).equals(Buffer.concat([a, Buffer.from('bcdef')]))).toBe(true);
    expect(s.logged).toHaveLength(2);
  });

  it('small output (echoes) goes at once even right after a flush: no batching delay for interaction', () => {
    const s = setup();
    s.p.push(Buffer.from('x'));
    vi.advanceTimersToNextTimer();
    s.advance(0.1);
    s.p.push(Buffer.from('y'));
    vi.advanceTimersToNextTimer();
    expect(s.batches.map((b) => Buffer.from(b).toString())).toEqual(['x', 'y']);
  });

  it('flushes at once when a batch reaches MAX_BATCH', () => {
    const s = setup();
    s.p.push(Buffer.alloc(10));
    vi.advanceTimersToNextTimer();
    s.p.push(Buffer.alloc(MAX_BATCH));
    expect(s.batches.map((b) => b.length)).toEqual([10, MAX_BATCH]);
  });

  it('tells the machine of streaming output at most once per window: at once, then once at the window end', () => {
    const s = setup(50);
    const flushAt = (ms: number) => {
      vi.advanceTimersByTime(ms);
      s.advance(ms);
      s.p.push(Buffer.alloc(MAX_BATCH)); // flushes at once
    };
    flushAt(0);
    expect(s.activity()).toBe(1); // the first output is reported at once
    flushAt(10);
    flushAt(10);
    flushAt(10);
    expect(s.activity()).toBe(1); // within the window: held back...
    vi.advanceTimersByTime(19);
    expect(s.activity()).toBe(1); // ...never reported before the window ends (idle is never early)...
    vi.advanceTimersByTime(1);
    s.advance(20);
    expect(s.activity()).toBe(2); // ...and once at its end, for all three
    vi.advanceTimersByTime(1000);
    expect(s.activity()).toBe(2); // nothing more without output
    flushAt(100);
    expect(s.activity()).toBe(3); // output after a quiet window: at once again
  });

  it('an isolated chunk is reported once (the busy debounce still sees one burst)', () => {
    const s = setup(50);
    s.p.push(Buffer.from('tick'));
    vi.advanceTimersByTime(1000);
    expect(s.activity()).toBe(1);
  });

  it('the window stays well inside the debounce and idle times, and is off when they are tiny', () => {
    expect(activityWindowFor(250, 2000)).toBe(50);
    expect(activityWindowFor(40, 2000)).toBe(20);
    expect(activityWindowFor(250, 100)).toBe(25);
    expect(activityWindowFor(0, 2000)).toBe(0);
  });
});
