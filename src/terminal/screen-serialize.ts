/**
 * Writes a rendered screen (xterm.js buffer lines) back out as the bytes that draw it: for attach,
 * onto a cleared terminal of the same size; for `logs --screen --ansi`, as lines of text with SGR.
 *
 * @xterm/addon-serialize was tried first and left: it drops blank rows that carry a background
 * colour (a full-screen program on a coloured background came out mostly default), lets the
 * normal screen's attributes leak into the alternate one, and cannot restore a cursor waiting to
 * wrap at the last column. The property test in test/agent/terminal-model.test.ts renders what
 * this writes with xterm.js itself and compares every cell.
 */
import type xterm from '@xterm/headless';

/** What cells and xterm.js's current attributes both have (AttributeData). */
export interface Attributes {
  getFgColorMode(): number;
  getBgColorMode(): number;
  getFgColor(): number;
  getBgColor(): number;
  isBold(): number;
  isItalic(): number;
  isDim(): number;
  isUnderline(): number;
  isBlink(): number;
  isInverse(): number;
  isInvisible(): number;
  isStrikethrough(): number;
  isOverline(): number;
}

/** xterm.js's colour modes (the high byte of getFgColorMode()). */
const P16 = 0x1000000;
const P256 = 0x2000000;
const RGB = 0x3000000;

function colour(mode: number, value: number, base: number): string[] {
  if (mode === P16) return [String(value < 8 ? base + value : base + 60 + value - 8)];
  if (mode === P256) return [String(base + 8), '5', String(value)];
  if (mode === RGB) return [String(base + 8), '2', String((value >> 16) & 0xff), String((value >> 8) & 0xff), String(value & 0xff)];
  return [];
}

/** The SGR sequence that sets exactly these attributes, from any state. */
export function sgr(a: Attributes): string {
  const p = ['0'];
  if (a.isBold()) p.push('1');
  if (a.isDim()) p.push('2');
  if (a.isItalic()) p.push('3');
  if (a.isUnderline()) p.push('4');
  if (a.isBlink()) p.push('5');
  if (a.isInverse()) p.push('7');
  if (a.isInvisible()) p.push('8');
  if (a.isStrikethrough()) p.push('9');
  if (a.isOverline()) p.push('53');
  p.push(...colour(a.getFgColorMode(), a.getFgColor(), 30), ...colour(a.getBgColorMode(), a.getBgColor(), 40));
  return `\x1b[${p.join(';')}m`;
}

const DEFAULT_SGR = '\x1b[0m';

/**
 * Cells of one row as text with SGR changes. Erased cells (no character) are drawn as `erase`
 * says: attach erases them in their background colour (ECH, which is how they came to be) and
 * moves on; text output writes spaces. Trailing erased cells in the default colours are left out.
 */
function row(line: xterm.IBufferLine, cols: number, cell: xterm.IBufferCell, erase: 'ech' | 'space'): string {
  let end = cols;
  for (; end > 0; end--) {
    const c = line.getCell(end - 1, cell);
    if (!c || c.getChars() !== '' || c.getWidth() === 0 || !c.isBgDefault() || c.isInverse()) break;
  }
  let out = '';
  let style = DEFAULT_SGR;
  let x = 0;
  while (x < end) {
    const c = line.getCell(x, cell);
    if (!c) break;
    const s = sgr(c);
    if (c.getChars() !== '' || erase === 'space') {
      if (s !== style) out += s;
      style = s;
      out += c.getChars() || ' ';
      x += Math.max(1, c.getWidth());
      continue;
    }
    // A run of erased cells with the same background: erase them in it, then step over them.
    let n = 1;
    const bg = `${c.getBgColorMode()}:${c.getBgColor()}:${c.isInverse()}`;
    for (; x + n < end; n++) {
      const d = line.getCell(x + n, cell);
      if (!d || d.getChars() !== '' || `${d.getBgColorMode()}:${d.getBgColor()}:${d.isInverse()}` !== bg) break;
    }
    if (s !== style) out += s;
    style = s;
    out += `\x1b[${n}X\x1b[${n}C`;
    x += n;
  }
  return style === DEFAULT_SGR ? out : out + DEFAULT_SGR;
}

/**
 * A buffer's visible rows drawn onto a cleared terminal of its size, row by row with cursor
 * addressing; then the cursor where the buffer has it.
 */
export function drawScreen(buffer: xterm.IBuffer, cols: number, rows: number, cell: xterm.IBufferCell): string {
  let out = '';
  for (let y = 0; y < rows; y++) {
    const line = buffer.getLine(buffer.baseY + y);
    if (line) out += `\x1b[${y + 1};1H${row(line, cols, cell, 'ech')}`;
  }
  return out + placeCursor(buffer, cols, cell);
}

/**
 * The cursor where the buffer has it. A cursor waiting to wrap (past the last column) is restored
 * by drawing the last cell again, which leaves a terminal in the same state. `top`: rows are
 * counted from there (origin mode counts them from the scroll region's top).
 */
export function placeCursor(buffer: xterm.IBuffer, cols: number, cell: xterm.IBufferCell, top = 0): string {
  const cy = buffer.cursorY + 1 - top;
  if (buffer.cursorX < cols) return `\x1b[${cy};${buffer.cursorX + 1}H`;
  const line = buffer.getLine(buffer.baseY + buffer.cursorY);
  let x = cols - 1;
  if (line?.getCell(x, cell)?.getWidth() === 0) x--;
  const c = line?.getCell(x, cell);
  if (!c || c.getChars() === '') return `\x1b[${cy};${cols}H`;
  return `\x1b[${cy};${x + 1}H${sgr(c)}${c.getChars()}${DEFAULT_SGR}`;
}

/** Rows `from` to `to` (buffer line indexes, inclusive) as lines of text with SGR, for reading. */
export function ansiLines(buffer: xterm.IBuffer, from: number, to: number, cols: number, cell: xterm.IBufferCell): string {
  const lines: string[] = [];
  for (let y = from; y <= to; y++) {
    const line = buffer.getLine(y);
    lines.push(line ? row(line, cols, cell, 'space') : '');
  }
  return lines.join('\n');
}
