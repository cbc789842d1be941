import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { detachKeyAt, QueryFilter, typedKeys, unfinished } from '../../src/terminal/attach-stream.js';

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

  it('a terminal answer typed by the attacher’s terminal is dropped, and any APC/PM/SOS string; keys, Escape alone and any bytes are kept as they are', () => {
    const keys = (k: string | Buffer) => typedKeys(Buffer.from(k)).toString('latin1');
    expect(keys('\x1b[?64;1;2ck\x1bP>|tmux 3.3a\x1b\\é')).toBe(Buffer.from('ké').toString('latin1'));
    expect(keys('\x1b_Gi=1;OK\x1b\\x\x1b[?2;0;1024S\x1b[2;1;1;128;128;1;0x')).toBe('x');
    expect(keys('\x1b')).toBe('\x1b');
    // Shift+F3 is byte for byte a cursor position report: a key, kept.
    expect(keys('\x1b[1;2R')).toBe('\x1b[1;2R');
    expect(keys('\x1b[A')).toBe('\x1b[A');
    // A legacy mouse report beyond column 95 is not UTF-8: byte for byte.
    const mouse = Buffer.from([0x1b, 0x5b, 0x4d, 0x20, 0xc8, 0x30]);
    expect(typedKeys(mouse)).toEqual(mouse);
  });

  it('the detach key is found as a byte, and as terminals send it under the kitty keyboard protocol or modifyOtherKeys', () => {
    const at = (k: string, byte = 0x1d) => detachKeyAt(Buffer.from(k), byte)?.at;
    expect(at('ab\x1d')).toBe(2);
    expect(at('ab\x1b[93;5u')).toBe(2);
    expect(at('\x1b[93;5:1u')).toBe(0);
    expect(at('x\x1b[27;5;93~')).toBe(1);
    expect(at('\x1b[113;5u', 0x11)).toBe(0); // ctrl-q
    expect(at('\x1b[93;5:3u')).toBeUndefined(); // a release
    expect(at('\x1b[93u')).toBeUndefined();
  });

  it('what a terminal holds unfinished at the end of the output: an open sequence, part of a UTF-8 character, or nothing', () => {
    const end = (s: string | Buffer) => Buffer.from(unfinished(Buffer.from(s))).toString('latin1');
    expect(end('hello \x1b[3')).toBe('\x1b[3');
    expect(end('a\x1b]0;title with \x1b')).toBe('\x1b');
    expect(end('\x1b]0;a title')).toBe('\x1b]0;a title');
    expect(end('\x1b]0;done\x07 text')).toBe('');
    expect(end('\x1b[31mred')).toBe('');
    expect(end(Buffer.from('x€').subarray(0, 3))).toBe(Buffer.from('€').subarray(0, 2).toString('latin1'));
    expect(end('x€')).toBe('');
    expect(end('')).toBe('');
  });
});
