import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { OutputLog } from '../../src/actors/output-log.js';
import { MAX_BATCH, OutputPipeline, SMALL_BATCH, STREAM_WINDOW_MS } from '../../src/actors/output-pipeline.js';
import { RingBuffer } from '../../src/actors/ring-buffer.js';

function setup() {
  let now = 1000;
  const batches: Uint8Array[] = [];
  const logged: Uint8Array[] = [];
  let activity = 0;
  const p = new OutputPipeline(
    {
      ring: new RingBuffer(1 << 20),
      log: { write: (c: Uint8Array) => logged.push(c) } as unknown as OutputLog,
      forward: (chunks) => batches.push(Buffer.concat(chunks)),
      view: () => undefined,
      activity: () => activity++,
    },
    () => now,
  );
  return { p, batches, logged, advance: (ms: number) => (now += ms), activity: () => activity };
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
    expect(s.logged.map((b) => Buffer.from(b).toString())).toEqual([a, 'b', 'c']);
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
});
