/**
 * Makes agent output safe to print between `name | ` prefixes: colours (SGR, `ESC [ … m`) stay;
 * every other escape sequence (cursor movement, screen clearing, alternate screen, titles, queries)
 * and control character except tab and newline is removed. A TUI printed raw would otherwise
 * switch the user's terminal to its alternate screen or clear it. The bus and logs keep raw bytes.
 */

// CSI: ESC [ params intermediates final; OSC: ESC ] … (BEL | ESC \); DCS/SOS/PM/APC: ESC P|X|^|_ … ESC \;
// any other escape (ECMA-48 / ISO 2022): ESC, intermediates 0x20-0x2F, one final 0x30-0x7E — so
// `ESC ( B` (character set) or `ESC # 8` goes whole, not leaving its final byte visible.
const SEQUENCE = /\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[PX^_][^\x1b]*\x1b\\|\x1b[ -/]*[0-~]/g;
const SGR = /^\x1b\[[0-9;:]*m$/;
// Control characters other than tab, newline and ESC (ESC starts the colours kept).
const CONTROL = /[\x00-\x08\x0b-\x1a\x1c-\x1f\x7f]/g;
// An ESC left over that does not start a kept colour sequence (e.g. a sequence cut by a long line).
const STRAY_ESC = /\x1b(?!\[[0-9;:]*m)/g;

export function sanitizeForPrefix(text: string): string {
  return text
    .replace(SEQUENCE, (seq) => (SGR.test(seq) ? seq : ''))
    .replace(CONTROL, '')
    .replace(STRAY_ESC, '');
}

/** Plain text (`logs --strip`): every escape sequence and control character but tab and newline removed. */
export function stripAll(text: string): string {
  return text.replace(SEQUENCE, '').replace(/\r\n/g, '\n').replace(CONTROL, '').replace(/\x1b/g, '');
}
