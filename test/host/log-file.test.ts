import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LogFile } from '../../src/host/log-file.js';
import { createLogger } from '../../src/host/logger.js';

const dir = mkdtempSync(join(tmpdir(), 'orch-logfile-'));

describe("orchestra's own log file", () => {
  it('a full disk (ENOSPC) no longer throws out of a log call, nor again out of the next one; it is reported once', () => {
    // /dev/full fails every write with ENOSPC, like a full tmpfs state directory.
    const failed: string[] = [];
    const { logger, file } = createLogger('/dev/full', { stderr: false, maxSize: 0, keep: 0, events: { failed: (e) => failed.push(e.message), resumed: () => undefined } });
    expect(() => {
      logger.error({ agent: 'a' }, 'cannot write the output log');
      logger.fatal({ err: 'stack' }, 'unexpected error; killing all agents');
      for (let i = 0; i < 100; i++) logger.info('still supervising');
    }).not.toThrow();
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatch(/ENOSPC/);
    expect(file.failed).toBe(true);
  });

  it('logging resumes by itself once the file can be written again, and says how many records were lost', () => {
    const parent = join(dir, 'blocked');
    writeFileSync(parent, 'a file where the log directory should be');
    const path = join(parent, 'orchestra.log');
    const events: string[] = [];
    const { logger, file } = createLogger(path, {
      stderr: false,
      maxSize: 0,
      keep: 0,
      events: { failed: (e) => events.push(`failed ${(e as NodeJS.ErrnoException).code}`), resumed: (lost) => events.push(`resumed ${lost}`) },
    });
    logger.info('one');
    logger.info('two');
    expect(events).toEqual(['failed EEXIST']);
    rmSync(parent);
    logger.info('three');
    expect(events).toEqual(['failed EEXIST', 'resumed 2']);
    expect(file.failed).toBe(false);
    const lines = readFileSync(path, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { msg: string; lost?: number });
    expect(lines.map((l) => l.msg)).toEqual([expect.stringMatching(/^2 log records were lost: EEXIST/), 'three']);
    expect(lines[0]?.lost).toBe(2);
  });

  it('orchestra.log no longer grows without bound (~90 MB/h in a crash loop): it rotates at max_size and keeps `keep` files of whole records', () => {
    const path = join(dir, 'rot', 'orchestra.log');
    const { logger } = createLogger(path, { stderr: false, maxSize: 2000, keep: 2 });
    for (let i = 0; i < 500; i++) logger.info({ agent: 'flaky', attempt: i }, 'exited -> restarting: exit code 1');
    const files = readdirSync(join(dir, 'rot')).sort();
    expect(files).toEqual(['orchestra.log', 'orchestra.log.1', 'orchestra.log.2']);
    for (const f of files) {
      const p = join(dir, 'rot', f);
      expect(statSync(p).size).toBeLessThanOrEqual(2000);
      for (const line of readFileSync(p, 'utf8').trim().split('\n')) expect(() => JSON.parse(line)).not.toThrow();
    }
    // The newest record is in the live file; the rotated ones hold the records just before it.
    const last = readFileSync(path, 'utf8').trim().split('\n').at(-1) ?? '';
    expect((JSON.parse(last) as { attempt: number }).attempt).toBe(499);
  });

  it('a record is never split by rotation, even one longer than max_size', () => {
    const path = join(dir, 'big', 'orchestra.log');
    const f = new LogFile(path, 100, 1, { failed: () => undefined, resumed: () => undefined });
    f.write(`${'x'.repeat(300)}\n`);
    f.write('small\n');
    f.close();
    expect(readFileSync(`${path}.1`, 'utf8')).toBe(`${'x'.repeat(300)}\n`);
    expect(readFileSync(path, 'utf8')).toBe('small\n');
  });
});
