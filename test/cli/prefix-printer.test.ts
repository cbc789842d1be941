import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { humanBytes, MAX_QUEUED, PrefixPrinter, SKIP_MIN_MS } from '../../src/cli/prefix-printer.js';

/** A stdout stand-in: takes writes while `flowing`, else reports back-pressure until `release`. */
class FakeOut extends EventEmitter {
  text = '';
  writes = 0;
  flowing = true;
  private waiters: { pred: (t: string) => boolean; resolve: () => void }[] = [];
  write(chunk: string | Uint8Array): boolean {
    this.text += chunk.toString();
    this.writes++;
    for (const w of this.waiters.splice(0)) (w.pred(this.text) ? w.resolve : () => this.waiters.push(w))();
    return this.flowing;
  }
  release(): void {
    this.flowing = true;
    this.emit('drain');
  }
  /** Resolves once what was written satisfies `pred` (checked on every write, no polling). */
  until(pred: (text: string) => boolean): Promise<void> {
    if (pred(this.text)) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ pred, resolve }));
  }
}

const lines = (n: number, text = 'x'.repeat(63)) => Buffer.from(`${text}\n`.repeat(n));

describe('PrefixPrinter', () => {
  it('does not print on the bus path: output() only queues, the printing happens on a later turn', async () => {
    const out = new FakeOut();
    const p = new PrefixPrinter(['a'], out, false);
    p.output('a', lines(1000));
    // The supervisor calls output() for each bus message: it must not decode, split and write there.
    expect(out.writes).toBe(0);
    await out.until((t) => t.split('\n').length > 1000);
    expect(out.text.split('\n')[0]).toBe(`a | ${'x'.repeat(63)}`);
  });

  it('prints a large backlog in slices, never all of it in one turn', async () => {
    const out = new FakeOut();
    const p = new PrefixPrinter(['a'], out, false);
    for (let i = 0; i < 8; i++) p.output('a', lines(1024)); // 8 bus messages of 64 KiB
    await out.until((t) => t.split('\n').length > 8 * 1024);
    expect(out.writes).toBeGreaterThanOrEqual(8);
  });

  it('a stdout that stops taking writes: output beyond the bound is skipped, then one marker says how much and where to look', async () => {
    let now = 0;
    const out = new FakeOut();
    out.flowing = false; // a pipe nobody reads: the first write fills it
    const p = new PrefixPrinter(['flood', 'b'], out, false, () => now);
    const chunk = lines(1024); // 64 KiB
    for (let i = 0; i < 160; i++) p.output('flood', chunk); // 10 MiB
    p.output('flood', Buffer.from('a line the skip cuts, its ')); // the skip ends mid-line
    p.note('b', 'ready -> busy (output)');
    await out.until((t) => t.length > 0);
    const queuedMax = MAX_QUEUED + chunk.length;
    // What was written while blocked is the first slice; the rest waits in a bounded queue.
    expect(out.text.length).toBeLessThan(queuedMax);
    now += SKIP_MIN_MS;
    out.release();
    await out.until((t) => t.includes('not shown'));
    const shown = out.text.split('\n').filter((l) => l.startsWith('flood | x')).length;
    const skippedBytes = 160 * chunk.length + 26 - shown * 64;
    expect(shown * 64).toBeLessThanOrEqual(queuedMax);
    expect(out.text).toContain(`flood | … ${humanBytes(skippedBytes)} of output not shown (see orchestra logs flood)\n`);
    // orchestra's own lines are not skipped.
    expect(out.text).toContain('b     | ready -> busy (output)\n');
    // Catching up, it shows new output again, from a line boundary.
    p.output('flood', Buffer.from('tail of a cut line\nnext line\n'));
    await out.until((t) => t.includes('next line'));
    expect(out.text).not.toContain('tail of a cut line');
    expect(out.text.endsWith('flood | next line\n')).toBe(true);
  });

  it('a single chunk larger than the whole queue is skipped and reported without any later output', async () => {
    const out = new FakeOut();
    const p = new PrefixPrinter(['a'], out, false);
    p.output('a', Buffer.alloc(MAX_QUEUED + 1, 0x41));
    await out.until((t) => t.includes('not shown'));
    expect(out.text).toBe(`a | … ${humanBytes(MAX_QUEUED + 1)} of output not shown (see orchestra logs a)\n`);
  });

  it('after a skip that ended on a line boundary, later output is shown whole', async () => {
    let now = 0;
    const out = new FakeOut();
    const p = new PrefixPrinter(['a'], out, false, () => now);
    for (let i = 0; i < 40; i++) p.output('a', lines(1024));
    await out.until((t) => t.split('\n').length > 16 * 1024);
    now += SKIP_MIN_MS;
    await out.until((t) => t.includes('not shown'));
    p.output('a', Buffer.from('Done.\nprompt> '));
    await out.until((t) => t.includes('prompt> '));
    expect(out.text).toContain('a | Done.\na | prompt> \n');
  });

  it('after a skip that cut a line, the rest of that line is not shown even when it spans chunks (a chunk without a newline was printed as a fresh line)', async () => {
    const out = new FakeOut();
    const p = new PrefixPrinter(['a'], out, false);
    p.output('a', Buffer.alloc(MAX_QUEUED + 1, 0x41)); // skipped, ends mid-line
    await out.until((t) => t.includes('not shown'));
    p.output('a', Buffer.from('BBBB'));
    p.output('a', Buffer.from('CCCC\nnext line\n'));
    await out.until((t) => t.includes('next line'));
    expect(out.text).not.toMatch(/BBBB|CCCC/);
    expect(out.text).toContain('a | next line\n');
  });

  it('a skip whose minimum is over when close() prints the last queued output still gets its marker (it was queued for a turn that never came)', () => {
    let now = 0;
    const out = new FakeOut();
    const p = new PrefixPrinter(['a', 'b'], out, false, () => now);
    p.output('a', Buffer.alloc(MAX_QUEUED + 1, 0x41)); // a is skipped from now on
    p.output('b', Buffer.from('last words\n')); // queued, not yet printed
    now += SKIP_MIN_MS;
    p.close();
    expect(out.text).toContain('b | last words\n');
    expect(out.text).toContain(`a | … ${humanBytes(MAX_QUEUED + 1)} of output not shown (see orchestra logs a)\n`);
  });

  it('at close, says what was not shown even if stdout never caught up', () => {
    const out = new FakeOut();
    out.flowing = false;
    const p = new PrefixPrinter(['a'], out, false, () => 0);
    for (let i = 0; i < 40; i++) p.output('a', lines(1024));
    p.output('a', Buffer.from('a prompt> '));
    p.close();
    expect(out.text).toMatch(/a \| … [\d.]+ MB of output not shown \(see orchestra logs a\)\n$/);
  });

  it('keeps notes in order with the output around them and shows a waiting prompt', async () => {
    const out = new FakeOut();
    const p = new PrefixPrinter(['a'], out, false);
    p.output('a', Buffer.from('one\ntw'));
    p.note('a', 'busy -> ready');
    p.output('a', Buffer.from('prompt> '));
    await out.until((t) => t.includes('prompt> '));
    expect(out.text).toBe('a | one\na | tw\na | busy -> ready\na | prompt> \n');
  });

  it('regression: a line drawn with column moves lost its spaces and ESC ( B left a B, even split across chunks', async () => {
    const out = new FakeOut();
    const p = new PrefixPrinter(['claude'], out, false);
    p.output('claude', Buffer.from('\x1b(BUnable\x1b[8Gto\x1b[11Gcon'));
    p.output('claude', Buffer.from('nect\x1b[1'));
    p.output('claude', Buffer.from('9Gto\x1b[22GAnthropic\x1b[32Gservices\x1b(B\n'));
    await out.until((t) => t.includes('\n'));
    expect(out.text).toBe('claude | Unable to connect to Anthropic services\n');
    p.close();
  });

  it('humanBytes: decimal units with one decimal', () => {
    expect(humanBytes(999)).toBe('999 B');
    expect(humanBytes(12_345_678)).toBe('12.3 MB');
    expect(humanBytes(1_000_000)).toBe('1.0 MB');
    expect(humanBytes(999_999)).toBe('1.0 MB');
  });
});
