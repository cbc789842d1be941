import { closeSync, existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { OutputLog } from '../../src/agent/output-log.js';

describe('OutputLog', () => {
  it('rotates by size, keeps N files, and loses no byte across them', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'orch-log-')), 'a.log');
    const log = new OutputLog(file, 1000, 2);
    const data = Buffer.alloc(3500);
    for (let i = 0; i < data.length; i++) data[i] = i % 251;
    for (let off = 0; off < data.length; off += 300) log.write(data.subarray(off, off + 300));
    await log.drained();
    // 3500 bytes at 1000 per file: a.log.3 would hold the oldest 1000, but only 2 are kept.
    expect(existsSync(`${file}.3`)).toBe(false);
    const kept = Buffer.concat([readFileSync(`${file}.2`), readFileSync(`${file}.1`), readFileSync(file)]);
    expect(readFileSync(`${file}.2`).length).toBe(1000);
    expect(readFileSync(file).length).toBe(500);
    expect(kept.equals(data.subarray(1000))).toBe(true);
    await log.close();
  });

  it('tells when it no longer holds the chunks it was given (the pipeline reuses their memory then)', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'orch-log-')), 'm.log');
    const log = new OutputLog(file, 1 << 30, 1);
    log.write(Buffer.alloc(4096, 'a'));
    const first = log.acceptedBytes;
    log.write(Buffer.alloc(4096, 'b')); // queued behind the write in flight
    const second = log.acceptedBytes;
    expect([first, second]).toEqual([4096, 8192]);
    expect(log.hasWritten(first)).toBe(false); // handed to the threadpool, not written yet
    await log.drained();
    expect(log.hasWritten(first) && log.hasWritten(second)).toBe(true);
    log.write(Buffer.alloc(10, 'c'));
    expect(log.hasWritten(log.acceptedBytes)).toBe(false);
    await log.close();
    expect(log.hasWritten(log.acceptedBytes)).toBe(true);
  });

  it('a write that fails no longer holds its chunks either', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'orch-log-')), 'f.log');
    let failed: (err: Error) => void = () => undefined;
    const error = new Promise<Error>((resolve) => (failed = resolve));
    const log = new OutputLog(file, 1 << 30, 1, (err) => failed(err));
    closeSync((log as unknown as { fd: number }).fd); // the file is gone from under the log
    log.write(Buffer.alloc(100));
    expect(log.hasWritten(log.acceptedBytes)).toBe(false);
    expect((await error).message).toMatch(/EBADF/);
    expect(log.hasWritten(log.acceptedBytes)).toBe(true);
  });

  it('close() writes everything still queued', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'orch-log-')), 'b.log');
    const log = new OutputLog(file, 1 << 30, 1);
    const parts = Array.from({ length: 100 }, (_, i) => Buffer.from(`line ${i}\n`));
    for (const p of parts) log.write(p);
    await log.close();
    expect(readFileSync(file).equals(Buffer.concat(parts))).toBe(true);
  });

  it('writes thousands of queued chunks (more than one writev takes) in order, across rotations', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'orch-log-')), 'c.log');
    const log = new OutputLog(file, 64 * 1024, 100);
    const parts = Array.from({ length: 5000 }, (_, i) => Buffer.from(`${i}:${'x'.repeat(i % 97)}\n`));
    for (const p of parts) log.write(p);
    await log.drained();
    const files = [];
    for (let i = 100; i >= 1; i--) if (existsSync(`${file}.${i}`)) files.push(readFileSync(`${file}.${i}`));
    files.push(readFileSync(file));
    expect(files.slice(0, -1).every((f) => f.length === 64 * 1024)).toBe(true);
    expect(Buffer.concat(files).equals(Buffer.concat(parts))).toBe(true);
    await log.close();
  });
});

