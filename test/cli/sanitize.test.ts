import { describe, expect, it } from 'vitest';
import { sanitizeForPrefix, stripAll } from '../../src/cli/sanitize.js';

describe('sanitizeForPrefix', () => {
  it('keeps text and colours', () => {
    expect(sanitizeForPrefix('plain \x1b[1;31mred\x1b[0m\ttab')).toBe('plain \x1b[1;31mred\x1b[0m\ttab');
  });

  it('drops what would take over the terminal: alternate screen, clears, cursor moves, titles, queries', () => {
    const tui = '\x1b[?1049h\x1b[2J\x1b[H\x1b]0;claude\x07> hello\x1b[10;5H\x1b[6n\x1bPq#0\x1b\\\x1b7done\x1b8\r';
    expect(sanitizeForPrefix(tui)).toBe('> hellodone');
  });

  it('regression: ESC ( B (character set) and other escapes with intermediates left their final byte visible', () => {
    expect(sanitizeForPrefix('\x1b(Bhello\x1b)0 \x1b#8x\x1b%Gy \x1b[1mbold\x1b(B\x1b[m')).toBe('hello xy \x1b[1mbold\x1b[m');
    expect(stripAll('\x1b(B\x1b[31mred\x1b[0m\x1b=\x1b>')).toBe('red');
  });

  it('drops lone control characters and stray ESCs but keeps newlines', () => {
    expect(sanitizeForPrefix('a\x07b\x08c\nd\x7f\x1b')).toBe('abc\nd');
  });
});
