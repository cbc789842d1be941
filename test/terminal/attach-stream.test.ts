import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AnswerFilter, QueryFilter } from '../../src/terminal/attach-stream.js';

describe('what attach shows and what it types', () => {
  it('queries never reach the attacher, however the output is split; everything else passes unchanged (property)', () => {
    const queries = ['\x1b[c', '\x1b[>c', '\x1b[6n', '\x1b[>q', '\x1b]11;?\x1b\\', '\x1bP+q544e\x1b\\', '\x1b[?u', '\x1b[?2004$p'];
    const kept = ['plain text ', '\x1b[31mred\x1b[0m', '\x1b[?1049h', '\x1b]0;title\x07', '漢字', '\r\n'];
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.constantFrom(...queries), fc.constantFrom(...kept)), { maxLength: 20 }), fc.array(fc.nat(), { maxLength: 5 }), (parts, cuts) => {
        const text = parts.join('');
        const at = [...new Set(cuts.map((c) => c % (text.length + 1)))].sort((x, y) => x - y);
        const f = new QueryFilter();
        let out = '';
        let from = 0;
        for (const c of [...at, text.length]) {
          out += f.push(text.slice(from, c));
          from = c;
        }
        expect(out).toBe(parts.filter((p) => !queries.includes(p)).join(''));
      }),
    );
  });

  it('a terminal answer typed by the attacher’s terminal is dropped; keys, Escape alone and multibyte text are kept', () => {
    const f = new AnswerFilter();
    expect(f.push(Buffer.from('\x1b[?64;1;2ck\x1bP>|tmux 3.3a\x1b\\é')).toString()).toBe('ké');
    expect(f.push(Buffer.from('\x1b')).toString()).toBe('\x1b');
    // Shift+F3 is byte for byte a cursor position report: a key, kept.
    expect(f.push(Buffer.from('\x1b[1;2R')).toString()).toBe('\x1b[1;2R');
    expect(f.push(Buffer.from('\x1b[A')).toString()).toBe('\x1b[A');
    const euro = Buffer.from('€');
    expect(f.push(euro.subarray(0, 1)).toString()).toBe('');
    expect(f.push(euro.subarray(1)).toString()).toBe('€');
  });
});
