import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import fc from 'fast-check';
import { activityWindowFor, MAX_BATCH, OutputPipeline, type PipelineTargets, SMALL_BATCH, STREAM_WINDOW_MS } from '../../src/agent/output-pipeline.js';
import { RingBuffer } from '../../src/agent/ring-buffer.js';

/** A log that writes each chunk as it is handed over. */
function syncLog(onWrite: (c: Uint8Array) => void): PipelineTargets['log'] {
  let accepted = 0;
  return {
    write: (c) => {
      accepted += c.length;
      onWrite(c);
    },
    get acceptedBytes() {
      return accepted;
    },
    hasWritten: (mark) => mark <= accepted,
  };
}

/**
 * A log that holds the chunks it is given, as OutputLog does while its writev is queued or in
 * flight, until `writeOut` copies what they contain at that moment to its "disk".
 */
function heldLog() {
  const held: Uint8Array[] = [];
  const disk: Buffer[] = [];
  let accepted = 0;
  let settled = 0;
  const log: PipelineTargets['log'] = {
    write: (c) => {
      held.push(c);
      accepted += c.length;
    },
    get acceptedBytes() {
      return accepted;
    },
    hasWritten: (mark) => settled >= mark,
  };
  const writeOut = () => {
    for (const c of held.splice(0)) {
      disk.push(Buffer.from(c));
      settled += c.length;
    }
  };
  return { log, disk, writeOut };
}

/** A terminal model's view of the reads: it keeps the views it is given, copying them on `detach`. */
function heldViews() {
  let views: Buffer[] = [];
  return {
    view: (c: Buffer) => void views.push(c),
    detach: () => void (views = views.map((v) => Buffer.from(v))),
    text: () => Buffer.concat(views),
  };
}

function setup(activityWindowMs = 0) {
  let now = 1000;
  const batches: Uint8Array[] = [];
  const logged: Uint8Array[] = [];
  const views: string[] = [];
  let activity = 0;
  const p = new OutputPipeline(
    {
      ring: new RingBuffer(1 << 20),
      log: syncLog((c) => logged.push(c)),
      forward: (chunks) => batches.push(Buffer.concat(chunks)),
      view: (c: Buffer) => views.push(c.toString()),
      detach: () => undefined,
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

  it('reuses a full slab once the log has written it, and never while the log still holds it', () => {
    const { log, disk, writeOut } = heldLog();
    const model = heldViews();
    const p = new OutputPipeline({ ring: new RingBuffer(1024), log, forward: () => undefined, view: model.view, detach: model.detach, activity: () => undefined });
    const sent: Buffer[] = [];
    const read = Buffer.alloc(4096);
    const reads = (n: number) => {
      for (let i = 0; i < n; i++) {
        read.fill(sent.length % 251);
        sent.push(Buffer.from(read));
        p.push(read);
      }
    };
    reads(4 * 256 + 1); // 4 MiB and a bit: five slabs, each batch flushed at MAX_BATCH
    expect(p.slabs).toEqual({ allocated: 5, reused: 0 }); // the log still holds every one
    writeOut();
    expect(Buffer.concat(disk).equals(Buffer.concat(sent).subarray(0, 4 * MAX_BATCH))).toBe(true);
    for (let mib = 0; mib < 16; mib++) {
      reads(256);
      writeOut(); // the disk keeps up: each slab is free again by the time the next one fills
    }
    expect(p.slabs.allocated).toBe(5);
    expect(p.slabs.reused).toBe(16);
    p.flush();
    writeOut();
    expect(Buffer.concat(disk).equals(Buffer.concat(sent))).toBe(true);
    expect(model.text().equals(Buffer.concat(sent))).toBe(true);
  });

  it('every holder sees the bytes that were read, whatever the read sizes and however late the log writes', () => {
    // Reads of any size up to the reader's buffer; the log writes out after every `every` reads
    // (with a large `every`, slabs fill up while the log still holds them).
    let reused = 0;
    const reads = fc.array(fc.integer({ min: 1, max: 65536 }), { minLength: 50, maxLength: 300, size: 'max' });
    fc.assert(
      fc.property(reads, fc.integer({ min: 1, max: 120 }), (sizes, every) => {
        const { log, disk, writeOut } = heldLog();
        const model = heldViews();
        const forwarded: Buffer[] = [];
        const ring = new RingBuffer(64 * 1024);
        const p = new OutputPipeline({ ring, log, forward: (chunks) => forwarded.push(Buffer.concat(chunks)), view: model.view, detach: model.detach, activity: () => undefined });
        const sent: Buffer[] = [];
        const read = Buffer.alloc(65536);
        for (const [i, size] of sizes.entries()) {
          read.fill(i % 251, 0, size);
          sent.push(Buffer.from(read.subarray(0, size)));
          p.push(read.subarray(0, size));
          if (i % every === every - 1) writeOut();
        }
        p.flush();
        writeOut();
        const all = Buffer.concat(sent);
        expect(Buffer.concat(disk).equals(all)).toBe(true);
        expect(Buffer.concat(forwarded).equals(all)).toBe(true);
        expect(model.text().equals(all)).toBe(true);
        expect(ring.tail().equals(all.subarray(Math.max(0, all.length - 64 * 1024)))).toBe(true);
        reused += p.slabs.reused;
      }),
      { numRuns: 40, endOnFailure: true }, // shrinking megabytes of reads takes minutes
    );
    expect(reused).toBeGreaterThan(0); // the runs did reuse slabs
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
