import { describe, expect, it } from 'vitest';
import { LineSplitter, parseLine } from '../../src/agent/sidecar.js';
import type { SidecarItem } from '../../src/agent/worker-protocol.js';

function split(max: number, ...chunks: string[]) {
  const items: SidecarItem[] = [];
  const s = new LineSplitter(max, (i) => items.push(i));
  for (const c of chunks) s.push(Buffer.from(c));
  return { items, s };
}

describe('sidecar lines', () => {
  it('joins lines split across reads, splits several per read, ignores blank lines, accepts CRLF', () => {
    const { items } = split(100, '{"type":"a"', ',"x":1}\n\n{"type":"b"}\r\n{"ty', 'pe":"c"}\n');
    expect(items).toEqual([
      { ok: true, type: 'a', event: { type: 'a', x: 1 } },
      { ok: true, type: 'b', event: { type: 'b' } },
      { ok: true, type: 'c', event: { type: 'c' } },
    ]);
  });

  it('skips an over-long line up to its newline, reports it once, and goes on', () => {
    const { items } = split(20, '{"type":"', 'x'.repeat(50), '"}\n{"type":"ok"}\n');
    expect(items).toEqual([
      { ok: false, error: 'line longer than 20 bytes (sidecar.max_line); skipped', excerpt: `{"type":"${'x'.repeat(50)}`, bytes: 61 },
      { ok: true, type: 'ok', event: { type: 'ok' } },
    ]);
  });

  it('a last line without newline counts when the connection ends', () => {
    const { items, s } = split(100, '{"type":"last"}');
    expect(items).toEqual([]);
    s.end();
    expect(items).toEqual([{ ok: true, type: 'last', event: { type: 'last' } }]);
  });

  it('validates: JSON, an object, a type string', () => {
    expect(parseLine('nope')).toMatchObject({ ok: false, error: expect.stringMatching(/^not JSON/) });
    expect(parseLine('"str"')).toMatchObject({ ok: false, error: 'expected a JSON object {"type": "...", ...}' });
    expect(parseLine('{"type":5}')).toMatchObject({ ok: false, error: 'expected "type": a string of 1 to 64 characters' });
    expect(parseLine(`{"type":"${'t'.repeat(65)}"}`)).toMatchObject({ ok: false });
  });
});
