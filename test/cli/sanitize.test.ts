import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MAX_COLUMN, Sanitizer, sanitizeForPrefix } from '../../src/cli/sanitize.js';

/** `logs --strip`: plain text, fed in the given chunks. */
function strip(...chunks: string[]): string {
  const s = new Sanitizer(false);
  return chunks.map((c) => s.push(c)).join('') + s.end();
}

describe('sanitizeForPrefix', () => {
  it('keeps text and colours', () => {
    expect(sanitizeForPrefix('plain \x1b[1;31mred\x1b[0m\ttab \x1b[38:2::1:2:3mrgb')).toBe('plain \x1b[1;31mred\x1b[0m\ttab \x1b[38:2::1:2:3mrgb');
  });

  it('drops what would take over the terminal: alternate screen, clears, cursor moves, titles, queries', () => {
    const tui = '\x1b[?1049h\x1b[2J\x1b[H\x1b]0;claude\x07> hello\x1b[10;5H\x1b[6n\x1bPq#0\x1b\\\x1b7done\x1b8\r';
    expect(sanitizeForPrefix(tui)).toBe('> hellodone');
  });

  it('regression: ESC ( B (character set) and other escapes with intermediates left their final byte visible', () => {
    expect(sanitizeForPrefix('\x1b(Bhello\x1b)0 \x1b#8x\x1b%Gy \x1b[1mbold\x1b(B\x1b[m')).toBe('hello xy \x1b[1mbold\x1b[m');
    expect(strip('\x1b(B\x1b[31mred\x1b[0m\x1b=\x1b>')).toBe('red');
    expect(strip('A\x1b(Bb')).toBe('Ab');
  });

  it('drops lone control characters, C1 characters and stray ESCs but keeps newlines', () => {
    expect(sanitizeForPrefix('a\x07b\x08c\nd\x7f\u009b2Je\x1b')).toBe('abc\nd2Je');
  });

  it('keeps no sequence that only looks like a colour: private or malformed SGR goes', () => {
    expect(sanitizeForPrefix('\x1b[>4;2ma\x1b[?1mb\x1b[1$mc')).toBe('abc');
  });
});

describe('column moves become the spaces they stand for', () => {
  it('regression: claude\'s "Unable to connect to Anthropic services" drawn with CSI n G lost its spaces', () => {
    const drawn = 'Unable\x1b[8Gto\x1b[11Gconnect\x1b[19Gto\x1b[22GAnthropic\x1b[32Gservices';
    expect(strip(drawn)).toBe('Unable to connect to Anthropic services');
    expect(sanitizeForPrefix(`\x1b[31m${drawn}\x1b[0m`)).toBe('\x1b[31mUnable to connect to Anthropic services\x1b[0m');
  });

  it('cursor forward, HPA and forward tabulation from the current column; default counts are 1', () => {
    expect(strip('a\x1b[3Cb\x1b[Cc')).toBe('a   b c');
    expect(strip('ab\x1b[6`c')).toBe('ab   c');
    expect(strip('ab\x1b[Ic\x1b[2Id')).toBe(`ab${' '.repeat(6)}c${' '.repeat(15)}d`);
    expect(strip('\tx\x1b[12Gy')).toBe('\tx  y');
  });

  it('the column counts wide characters as two cells and restarts on each line', () => {
    expect(strip('日本\x1b[6Gx\nab\x1b[4Gc')).toBe('日本 x\nab c');
  });

  it('a backward move prints nothing and removes nothing: what follows is appended', () => {
    expect(strip('abcdef\x1b[3Gxy\x1b[2Dz\rw\x1b[14Gq')).toBe('abcdefxyzw   q');
  });

  it('a move to a far-away column (CSI 999 C, to reach the edge) prints nothing', () => {
    expect(strip(`a\x1b[999Cb\x1b[${MAX_COLUMN + 1}Gc`)).toBe('abc');
  });
});

describe('Sanitizer properties', () => {
  const range = (lo: number, hi: number) => fc.integer({ min: lo, max: hi }).map((c) => String.fromCharCode(c));
  const grammar = fc.constantFrom(...Array.from('\x1b[]P_X^\\\x07\x18\n\r\t;:?>$ (B0m1CGI`'));
  const anyInput = fc.string({ unit: fc.oneof(grammar, range(0, 0x7f), fc.constantFrom('é', '\u009b', '日', '😀')), maxLength: 80 });

  it('output has no ESC and no control character but newline and tab', () => {
    fc.assert(fc.property(anyInput, (input) => {
      expect(strip(input)).not.toMatch(/[\x00-\x08\x0b-\x1f\x7f-\x9f]/);
    }), { numRuns: 2000 });
  });

  it('with colours kept, every ESC left starts an SGR sequence', () => {
    fc.assert(fc.property(anyInput, (input) => {
      const out = sanitizeForPrefix(input).replace(/\x1b\[[0-9;:]*m/g, '');
      expect(out).not.toMatch(/[\x00-\x08\x0b-\x1f\x7f-\x9f]/);
    }), { numRuns: 2000 });
  });

  it('text without controls passes unchanged', () => {
    const text = fc.string({ unit: fc.oneof(range(0x20, 0x7e), fc.constantFrom('é', '日', '😀', '\n', '\t')), maxLength: 80 });
    fc.assert(fc.property(text, (t) => {
      expect(strip(t)).toBe(t);
      expect(sanitizeForPrefix(t)).toBe(t);
    }));
  });

  it('chunking does not change the result', () => {
    fc.assert(fc.property(anyInput, fc.array(fc.nat(), { maxLength: 6 }), (input, cuts) => {
      const at = [...new Set(cuts.map((c) => c % (input.length + 1)))].sort((a, b) => a - b);
      const chunks = [0, ...at].map((from, i) => input.slice(from, [...at, input.length][i]));
      expect(strip(...chunks)).toBe(strip(input));
    }), { numRuns: 2000 });
  });
});
