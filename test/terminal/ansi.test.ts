import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AnsiTokenizer, isQuery, isTerminalAnswer, MAX_SEQUENCE, tokenize, type Token } from '../../src/terminal/ansi.js';

const ESC = '\x1b';
const ST = '\x1b\\';

/** Tokens of `input` fed in the given pieces, then the end of the stream. */
function inChunks(pieces: readonly string[]): Token[] {
  const t = new AnsiTokenizer();
  return [...pieces.flatMap((p) => t.push(p)), ...t.end()];
}

/** Adjacent text tokens joined: where a chunk boundary falls in text is not a difference. */
function joinText(tokens: readonly Token[]): Token[] {
  const out: Token[] = [];
  for (const t of tokens) {
    const last = out[out.length - 1];
    if (t.kind === 'text' && last?.kind === 'text') out[out.length - 1] = { kind: 'text', raw: last.raw + t.raw };
    else out.push(t);
  }
  return out;
}

/** `input` cut at the given (sorted, deduplicated) offsets. */
function split(input: string, cuts: readonly number[]): string[] {
  const at = [...new Set(cuts.map((c) => c % (input.length + 1)))].sort((a, b) => a - b);
  const pieces: string[] = [];
  let from = 0;
  for (const c of at) {
    pieces.push(input.slice(from, c));
    from = c;
  }
  pieces.push(input.slice(from));
  return pieces;
}

const charOf = (codes: string) => fc.constantFrom(...Array.from(codes));
const range = (lo: number, hi: number) => fc.integer({ min: lo, max: hi }).map((c) => String.fromCharCode(c));
const intermediates = fc.array(range(0x20, 0x2f), { maxLength: 2 }).map((a) => a.join(''));
const params = fc.array(charOf('0123456789;:'), { maxLength: 8 }).map((a) => a.join(''));
const prefix = fc.option(charOf('<=>?'), { nil: '' });
/** String data: anything but ESC, CAN, SUB (and BEL, which ends an OSC). */
const stringData = fc.string({ unit: fc.oneof(range(0x08, 0x0d), range(0x20, 0x7e), charOf('é€\u0085\u009c😀')), maxLength: 12 });

/** Well-formed sequences, each with the kind it must come out as. */
const sequence: fc.Arbitrary<{ raw: string; kind: Token['kind'] }> = fc.oneof(
  fc
    .tuple(intermediates, range(0x30, 0x7e).filter((f) => !'[]PX^_'.includes(f)))
    .map(([i, f]) => ({ raw: ESC + i + f, kind: 'esc' as const })),
  fc.tuple(prefix, params, intermediates, range(0x40, 0x7e)).map(([p, ps, i, f]) => ({ raw: `${ESC}[${p}${ps}${i}${f}`, kind: 'csi' as const })),
  fc.tuple(stringData, fc.constantFrom('\x07', ST)).map(([d, end]) => ({ raw: `${ESC}]${d}${end}`, kind: 'osc' as const })),
  fc.tuple(prefix, params, intermediates, range(0x40, 0x7e), stringData).map(([p, ps, i, f, d]) => ({ raw: `${ESC}P${p}${ps}${i}${f}${d}${ST}`, kind: 'dcs' as const })),
  fc.tuple(charOf('X^_'), stringData).map(([k, d]) => ({ raw: `${ESC}${k}${d}${ST}`, kind: 'string' as const })),
);
/** Text: no C0, no DEL; includes U+0080–U+009F, which are not C1 controls in decoded UTF-8. */
const text = fc.string({ unit: fc.oneof(range(0x20, 0x7e), range(0x80, 0x9f), charOf('é€😀')), minLength: 1, maxLength: 6 });
/** Anything, leaning on the characters that matter to the grammar. */
const anyInput = fc.string({ unit: fc.oneof(charOf('\x1b[]P_X^\\\x07\x18\x1a\n\r;:?>$ (B0m1cq'), range(0, 0x7f), charOf('é\u009b\u009c😀')), maxLength: 60 });
const cuts = fc.array(fc.nat(), { maxLength: 6 });

describe('AnsiTokenizer', () => {
  it('raw texts concatenated are the input, however it is cut into chunks', () => {
    fc.assert(fc.property(anyInput, cuts, (input, at) => {
      expect(inChunks(split(input, at)).map((t) => t.raw).join('')).toBe(input);
    }), { numRuns: 2000 });
  });

  it('tokenizing in chunks gives the tokens of tokenizing at once', () => {
    fc.assert(fc.property(anyInput, cuts, (input, at) => {
      expect(joinText(inChunks(split(input, at)))).toEqual(joinText(tokenize(input)));
    }), { numRuns: 2000 });
  });

  it('a well-formed sequence between texts comes out as one token of its kind, whatever the chunks', () => {
    fc.assert(fc.property(fc.option(text, { nil: '' }), sequence, fc.option(text, { nil: '' }), cuts, (before, seq, after, at) => {
      const tokens = joinText(inChunks(split(before + seq.raw + after, at)));
      const expected = [...(before ? [before] : []), seq.raw, ...(after ? [after] : [])];
      expect(tokens.map((t) => t.raw)).toEqual(expected);
      expect(tokens.find((t) => t.raw === seq.raw)?.kind).toBe(seq.kind);
    }), { numRuns: 2000 });
  });

  it('splits the parts of a CSI as written: private prefix, colon sub-parameters, intermediates, final', () => {
    expect(tokenize('\x1b[?1049h\x1b[38:2::255:0:0m\x1b[1 q\x1b[>4;?m')).toEqual([
      { kind: 'csi', raw: '\x1b[?1049h', prefix: '?', params: '1049', intermediates: '', final: 'h' },
      { kind: 'csi', raw: '\x1b[38:2::255:0:0m', prefix: '', params: '38:2::255:0:0', intermediates: '', final: 'm' },
      { kind: 'csi', raw: '\x1b[1 q', prefix: '', params: '1', intermediates: ' ', final: 'q' },
      { kind: 'csi', raw: '\x1b[>4;?m', prefix: '>', params: '4;?', intermediates: '', final: 'm' },
    ]);
  });

  it('reads ESC sequences with intermediates whole: ESC ( B is one token, not ESC ( and a text B', () => {
    expect(tokenize('A\x1b(Bb\x1b=\x1b7')).toEqual([
      { kind: 'text', raw: 'A' },
      { kind: 'esc', raw: '\x1b(B', intermediates: '(', final: 'B' },
      { kind: 'text', raw: 'b' },
      { kind: 'esc', raw: '\x1b=', intermediates: '', final: '=' },
      { kind: 'esc', raw: '\x1b7', intermediates: '', final: '7' },
    ]);
  });

  it('strings: OSC ended by BEL or ST, DCS with its header and data, SOS/PM/APC', () => {
    expect(tokenize(`\x1b]0;tïtle\x07\x1b]11;?${ST}\x1bP1$r0m${ST}\x1b_G a=T${ST}`)).toEqual([
      { kind: 'osc', raw: '\x1b]0;tïtle\x07', data: '0;tïtle', terminator: 'BEL' },
      { kind: 'osc', raw: `\x1b]11;?${ST}`, data: '11;?', terminator: 'ST' },
      { kind: 'dcs', raw: `\x1bP1$r0m${ST}`, prefix: '', params: '1', intermediates: '$', final: 'r', data: '0m' },
      { kind: 'string', raw: `\x1b_G a=T${ST}`, introducer: 'APC', data: 'G a=T' },
    ]);
  });

  it('C0 controls outside sequences are tokens of their own; U+0080–U+009F are text, not C1', () => {
    expect(tokenize('a\r\nb\u009b31mc')).toEqual([
      { kind: 'text', raw: 'a' },
      { kind: 'control', raw: '\r' },
      { kind: 'control', raw: '\n' },
      { kind: 'text', raw: 'b\u009b31mc' },
    ]);
  });

  it('holds a sequence split across chunks until it is complete', () => {
    const t = new AnsiTokenizer();
    expect(t.push('ab\x1b[3')).toEqual([{ kind: 'text', raw: 'ab' }]);
    expect(t.push('1')).toEqual([]);
    expect(t.push('mc')).toEqual([
      { kind: 'csi', raw: '\x1b[31m', prefix: '', params: '31', intermediates: '', final: 'm' },
      { kind: 'text', raw: 'c' },
    ]);
    expect(t.push('\x1b]0;x\x1b')).toEqual([]);
    expect(t.push('\\')).toEqual([{ kind: 'osc', raw: `\x1b]0;x${ST}`, data: '0;x', terminator: 'ST' }]);
  });

  it('cut short: CAN aborts, ESC starts anew, and an ESC in a string not starting ST ends it', () => {
    expect(tokenize('\x1b[12\x18x\x1b[1\x1b[2J\x1b]0;t\x1b[H').map((t) => [t.kind, t.raw])).toEqual([
      ['broken', '\x1b[12\x18'],
      ['text', 'x'],
      ['broken', '\x1b[1'],
      ['csi', '\x1b[2J'],
      ['broken', '\x1b]0;t'],
      ['csi', '\x1b[H'],
    ]);
    expect(tokenize('\x1b]0;a\x18b\x1b]0;c\x1ad\x07').map((t) => [t.kind, t.raw])).toEqual([
      ['broken', '\x1b]0;a\x18'],
      ['text', 'b'],
      ['broken', '\x1b]0;c\x1a'],
      ['text', 'd'],
      ['control', '\x07'],
    ]);
  });

  it('regression: a runaway string is not held for ever; it is let go as broken and its end still ends it', () => {
    const t = new AnsiTokenizer();
    const first = t.push(`\x1b]0;${'x'.repeat(MAX_SEQUENCE)}`);
    expect(first.map((k) => k.kind)).toEqual(['broken']);
    expect(t.push('y'.repeat(1000)).map((k) => k.kind)).toEqual(['broken']);
    const last = t.push(`z\x07after`);
    expect(last).toEqual([{ kind: 'broken', raw: 'z\x07' }, { kind: 'text', raw: 'after' }]);
  });
});

describe('isQuery', () => {
  const one = (s: string): Token => {
    const [t, ...rest] = tokenize(s);
    if (!t || rest.length) throw new Error(`not one token: ${JSON.stringify(s)}`);
    return t;
  };
  const queries = {
    DA1: '\x1b[c',
    'DA1 with 0': '\x1b[0c',
    DA2: '\x1b[>c',
    DA3: '\x1b[=c',
    DSR: '\x1b[5n',
    CPR: '\x1b[6n',
    DECXCPR: '\x1b[?6n',
    'DECDSR keyboard': '\x1b[?26n',
    XTVERSION: '\x1b[>q',
    'DECRQM ANSI': '\x1b[4$p',
    'DECRQM DEC': '\x1b[?2004$p',
    'kitty flags': '\x1b[?u',
    XTQMODKEYS: '\x1b[?4m',
    'XTQMODKEYS > form': '\x1b[>4;?m',
    'XTWINOPS size in cells': '\x1b[18t',
    'XTWINOPS size in pixels': '\x1b[14;2t',
    'XTWINOPS title': '\x1b[21t',
    'OSC 4 palette': '\x1b]4;1;?\x07',
    'OSC 10 foreground': `\x1b]10;?${ST}`,
    'OSC 11 background': '\x1b]11;?\x07',
    'OSC 12 cursor': '\x1b]12;?\x07',
    'OSC 52 clipboard': '\x1b]52;c;?\x07',
    XTGETTCAP: `\x1bP+q544e${ST}`,
    DECRQSS: `\x1bP$qm${ST}`,
    XTSMGRAPHICS: '\x1b[?2;1;0S',
    DECREQTPARM: '\x1b[x',
    'kitty graphics query': `\x1b_Gi=31,s=1,v=1,a=q,t=d,f=24;AAAA${ST}`,
  };
  it.each(Object.entries(queries))('%s is a query', (_, s) => expect(isQuery(one(s))).toBe(true));

  const notQueries = {
    SGR: '\x1b[31m',
    'alternate screen': '\x1b[?1049h',
    'DA1 answer': '\x1b[?62;22c',
    'kitty push': '\x1b[>1u',
    'kitty flags answer': '\x1b[?1u',
    XTMODKEYS: '\x1b[>4;2m',
    'XTWINOPS resize': '\x1b[8;24;80t',
    DECSTR: '\x1b[!p',
    'OSC title': '\x1b]0;title\x07',
    'OSC 10 set': '\x1b]10;rgb:ffff/0000/0000\x07',
    'OSC 52 set': '\x1b]52;c;aGk=\x07',
    sixel: `\x1bPq#0${ST}`,
    text: 'c',
  };
  it.each(Object.entries(notQueries))('%s is not a query', (_, s) => expect(isQuery(one(s))).toBe(false));
});

describe('isTerminalAnswer', () => {
  const one = (s: string): Token => tokenize(s)[0] as Token;
  const answers = {
    'DA1 reply': '\x1b[?62;22c',
    'DA2 reply': '\x1b[>41;390;0c',
    'DA3 reply': `\x1bP!|00000000${ST}`,
    'DSR ok': '\x1b[0n',
    DECXCPR: '\x1b[?5;10;1R',
    'DECRPM DEC': '\x1b[?2004;1$y',
    'DECRPM ANSI': '\x1b[4;2$y',
    'kitty flags reply': '\x1b[?1u',
    'XTQMODKEYS reply': '\x1b[>4;2m',
    'XTWINOPS size reply': '\x1b[8;24;80t',
    'XTVERSION reply': `\x1bP>|tmux 3.3a${ST}`,
    'XTGETTCAP reply': `\x1bP1+r544e=787465726d${ST}`,
    'XTGETTCAP unknown': `\x1bP0+r544e${ST}`,
    'DECRQSS reply': `\x1bP1$r0m${ST}`,
    'OSC 10 reply': `\x1b]10;rgb:ffff/ffff/ffff${ST}`,
    'OSC 4 reply': '\x1b]4;1;rgb:cdcd/0000/0000\x07',
    'OSC title report': `\x1b]lmy title${ST}`,
  };
  it.each(Object.entries(answers))('%s is an answer', (_, s) => expect(isTerminalAnswer(one(s))).toBe(true));

  const keys = {
    'regression: Shift+F3 (CSI 1;2R) is a key, though shaped like a CPR': '\x1b[1;2R',
    'cursor position report, same shape as a modified F3': '\x1b[24;80R',
    'arrow up': '\x1b[A',
    'app-mode arrow': '\x1bOA',
    'bracketed paste start': '\x1b[200~',
    'kitty key': '\x1b[97;5u',
    'focus in': '\x1b[I',
    'SGR mouse': '\x1b[<0;10;5M',
    'Alt+x': '\x1bx',
    text: 'x',
  };
  it.each(Object.entries(keys))('%s is not an answer', (_, s) => expect(isTerminalAnswer(one(s))).toBe(false));
});
