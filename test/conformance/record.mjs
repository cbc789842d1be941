#!/usr/bin/env node
// Records what a real agent CLI draws and is sent, as asciicast v2, for the conformance kit
// (test/conformance/README.md). A tool, not a test: its `sleep` step paces a human-like session.
//
//   node test/conformance/record.mjs record --out FILE.cast [--home DIR] [--cwd DIR] [--env K=V]...
//        [--home-file PATH=CONTENT]... [--title T] [--step STEP]... [--script FILE] -- COMMAND [ARGS...]
//   node test/conformance/record.mjs screens FILE.cast [--quiet-ms 300]
//   node test/conformance/record.mjs trim FILE.cast FROM_S TO_S
//
// Steps (one per --step or per line of --script; `#` starts a comment line):
//   wait-for REGEX [TIMEOUT_MS]   until REGEX matches the rendered screen or the raw output since
//                                 the previous step (default 15000 ms; a timeout ends the script)
//   type TEXT                     writes TEXT (escapes: \r \n \t \e \xHH \uHHHH \\)
//   sleep MS | resize COLS ROWS | kill [SIGNAL] | wait-exit [TIMEOUT_MS]
//
// The CLI gets a throwaway HOME and a throwaway git repository as cwd unless --home / --cwd name
// existing ones (a second start in the same HOME); --home-file writes a file under HOME before the
// start (a CLI's own config, to reach a screen past a first-run one). The CLI gets none of this
// process's environment but PATH. Its terminal queries are answered by @xterm/headless, the
// recording's terminal, and each one is logged to stderr with the answer it got, or UNANSWERED.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';

// Resolved from this file, so the project's own node-pty and xterm are used from the repository.
const require = createRequire(import.meta.url);
const pty = require('node-pty');
const { Terminal } = require('@xterm/headless');

const COLS = 120;
const ROWS = 40;
const TERM = 'xterm-256color';
const DEFAULT_WAIT_MS = 15_000;
/** After a kill, how long the process group gets before SIGKILL. */
const KILL_GRACE_MS = 2_000;

const log = (...parts) => process.stderr.write(`${parts.join(' ')}\n`);
/** A sequence as readable text, e.g. "\x1b[6n" → "ESC[6n". */
const show = (s) => JSON.stringify(s).slice(1, -1).replaceAll('\\u001b', 'ESC').replaceAll('\\u0007', 'BEL');

function unescape(text) {
  return text.replace(/\\(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|[rnte\\])/g, (_, e) => {
    if (e[0] === 'x' || e[0] === 'u') return String.fromCharCode(parseInt(e.slice(1), 16));
    return { r: '\r', n: '\n', t: '\t', e: '\x1b', '\\': '\\' }[e];
  });
}

/** A step line → {op, ...}; `wait-for` takes everything up to an optional trailing timeout. */
function parseStep(line) {
  const [op, ...rest] = line.trim().split(/\s+/);
  const arg = line.trim().slice(op.length).trim();
  switch (op) {
    case 'wait-for': {
      const m = /^(.*?)(?:\s+(\d+))?$/.exec(arg);
      return { op, re: new RegExp(m[1], 'm'), timeout: Number(m[2] ?? DEFAULT_WAIT_MS), text: m[1] };
    }
    case 'type': return { op, data: unescape(arg) };
    case 'sleep': return { op, ms: Number(rest[0]) };
    case 'resize': return { op, cols: Number(rest[0]), rows: Number(rest[1]) };
    case 'kill': return { op, signal: rest[0] ?? 'SIGTERM' };
    case 'wait-exit': return { op, timeout: Number(rest[0] ?? DEFAULT_WAIT_MS) };
    default: throw new Error(`unknown step "${line}"`);
  }
}

/**
 * Finds the terminal queries in a stream of output, across chunk boundaries. `feed` returns the
 * chunk cut just after each complete query, so the answers xterm gives while parsing a piece
 * belong to the query that ends it.
 */
class QueryScanner {
  state = 'ground';
  seq = '';

  feed(chunk) {
    const pieces = [];
    let from = 0;
    for (let i = 0; i < chunk.length; i++) {
      const kind = this.step(chunk[i]);
      if (kind) {
        pieces.push({ data: chunk.slice(from, i + 1), query: { kind, seq: this.done } });
        from = i + 1;
      }
    }
    if (from < chunk.length) pieces.push({ data: chunk.slice(from), query: undefined });
    return pieces;
  }

  /** Advances by one character; returns the query's name when a query sequence just ended. */
  step(c) {
    if (this.state === 'ground') {
      if (c === '\x1b') [this.state, this.seq] = ['esc', c];
      return undefined;
    }
    this.seq += c;
    if (this.seq.length > 4096) [this.state, this.seq] = ['ground', ''];
    switch (this.state) {
      case 'esc':
        this.state = { '[': 'csi', ']': 'osc', P: 'dcs', _: 'str', '^': 'str', X: 'str' }[c] ?? 'ground';
        return undefined;
      case 'csi':
        if (c >= '\x40' && c <= '\x7e') return this.end(classifyCsi(this.seq));
        return undefined;
      case 'osc':
        if (c === '\x07' || this.seq.endsWith('\x1b\\')) return this.end(classifyOsc(this.seq));
        return undefined;
      default: // dcs, str
        if (this.seq.endsWith('\x1b\\')) return this.end(this.state === 'dcs' ? classifyDcs(this.seq) : undefined);
        return undefined;
    }
  }

  end(kind) {
    this.done = this.seq;
    [this.state, this.seq] = ['ground', ''];
    return kind;
  }
}

function classifyCsi(seq) {
  const m = /^\x1b\[([<=>?]?)([\d;:?]*)([ -/]*)([@-~])$/.exec(seq);
  if (!m) return undefined;
  const [, prefix, params, inter, final] = m;
  if (final === 'c' && inter === '') return { '': 'DA1', '>': 'DA2', '=': 'DA3' }[prefix];
  if (final === 'n' && /^(5|6)$/.test(params)) return params === '6' ? `DSR-CPR${prefix}` : 'DSR-status';
  if (final === 'u' && prefix === '?') return 'kitty-keyboard-query';
  if (final === 'm' && prefix === '>' && params.includes('?')) return 'modifyOtherKeys-query(CSI >4;?m)';
  if (final === 'm' && prefix === '?') return 'XTQMODKEYS';
  if (final === 'q' && prefix === '>') return 'XTVERSION';
  if (final === 'p' && inter === '$') return `DECRQM${prefix}${params}`;
  if (final === 't' && prefix === '' && /^(11|13|14|15|16|18|19|20|21)(;|$)/.test(params)) return `XTWINOPS-report(${params})`;
  return undefined;
}

function classifyOsc(seq) {
  const body = seq.slice(2).replace(/(\x07|\x1b\\)$/, '');
  const [code, ...args] = body.split(';');
  return args.includes('?') ? `OSC${code}-query` : undefined;
}

function classifyDcs(seq) {
  if (seq.startsWith('\x1bP+q')) {
    const names = seq.slice(4, -2).split(';').map((h) => Buffer.from(h, 'hex').toString('latin1'));
    return `XTGETTCAP(${names.join(',')})`;
  }
  return seq.startsWith('\x1bP$q') ? `DECRQSS(${seq.slice(4, -2)})` : undefined;
}

/** The visible screen as text, one line per row, trailing spaces trimmed. */
function screenText(term) {
  const buf = term.buffer.active;
  const lines = [];
  for (let y = 0; y < term.rows; y++) lines.push(buf.getLine(buf.viewportY + y)?.translateToString(true) ?? '');
  return lines.join('\n');
}

function makeGitRepo() {
  const dir = mkdtempSync(join(tmpdir(), 'conformance-repo-'));
  execFileSync('git', ['init', '-q', dir]);
  writeFileSync(join(dir, 'README.md'), '# scratch\n');
  return dir;
}

/** Pids whose environment carries this recording's marker: the CLI and anything it left behind. */
function markedPids(marker) {
  const pids = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${name}/environ`, 'latin1').split('\0').includes(marker)) pids.push(Number(name));
    } catch {
      // gone, or not ours to read
    }
  }
  return pids;
}

/** "K=V" → ["K", "V"]; V may hold "=". */
const pair = (kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)];

function parseArgs(argv) {
  const opts = { steps: [], env: {}, homeFiles: [], command: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => argv[++i];
    if (a === '--') { opts.command = argv.slice(i + 1); break; }
    else if (a === '--out') opts.out = next();
    else if (a === '--home') opts.home = next();
    else if (a === '--cwd') opts.cwd = next();
    else if (a === '--title') opts.title = next();
    else if (a === '--step') opts.steps.push(next());
    else if (a === '--script') opts.steps.push(...readFileSync(next(), 'utf8').split('\n'));
    else if (a === '--home-file') opts.homeFiles.push(pair(next()));
    else if (a === '--env') { const [k, v] = pair(next()); opts.env[k] = v; }
    else throw new Error(`unknown option ${a}`);
  }
  if (!opts.out || opts.command.length === 0) throw new Error('usage: record --out FILE.cast [options] -- COMMAND [ARGS...]');
  opts.steps = opts.steps.filter((l) => l.trim() && !l.trim().startsWith('#')).map(parseStep);
  return opts;
}

async function record(opts) {
  const home = opts.home ?? mkdtempSync(join(tmpdir(), 'conformance-home-'));
  const cwd = opts.cwd ?? makeGitRepo();
  for (const [path, content] of opts.homeFiles) {
    mkdirSync(dirname(join(home, path)), { recursive: true });
    writeFileSync(join(home, path), content);
  }
  // Marks every process of this recording, even one that leaves the CLI's session (as ORCHESTRA_RUN does).
  const recording = `${process.pid}-${Date.now()}`;
  const marker = `ORCHESTRA_RECORDING=${recording}`;
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home, TERM, LANG: 'C.UTF-8', USER: 'user', ...opts.env, ORCHESTRA_RECORDING: recording };
  log(`home ${home}`, `cwd ${cwd}`);

  const events = [];
  const t0 = performance.now();
  const now = () => Math.round(performance.now() - t0) / 1000;
  const header = {
    version: 2, width: COLS, height: ROWS, timestamp: Math.floor(Date.now() / 1000),
    env: { TERM, ...(env.COLORTERM ? { COLORTERM: env.COLORTERM } : {}) },
    title: opts.title ?? opts.command.join(' '),
  };

  const child = pty.spawn(opts.command[0], opts.command.slice(1), { name: TERM, cols: COLS, rows: ROWS, cwd, env });
  const term = new Terminal({ cols: COLS, rows: ROWS, allowProposedApi: true, scrollback: 0, logLevel: 'off' });
  const scanner = new QueryScanner();
  const queries = [];
  let answers = [];
  const input = (data) => {
    events.push([now(), 'i', data]);
    child.write(data);
  };
  term.onData((d) => answers.push(d));

  let raw = '';
  let wake = () => {};
  let exit;
  const exited = new Promise((resolve) => child.onExit((e) => {
    exit = e;
    // asciicast v2 has no exit event and a replay ends at the last event: an empty output marks
    // when the CLI exited, so a quiet end of the session is kept.
    events.push([now(), 'o', '']);
    log(`exit code ${e.exitCode} signal ${e.signal} at ${now()}s`);
    resolve();
    wake();
  }));
  child.onData((data) => {
    events.push([now(), 'o', data]);
    raw += data;
    for (const piece of scanner.feed(data)) {
      term.write(piece.data, () => {
        if (piece.query) {
          const at = now();
          const answer = answers.join('');
          queries.push({ at, ...piece.query, answer });
          log(`query ${at}s ${piece.query.kind} "${show(piece.query.seq)}" -> ${answer ? `"${show(answer)}"` : 'UNANSWERED'}`);
        } else if (answers.length > 0) {
          log(`answer to an unrecognised sequence: "${show(answers.join(''))}"`);
        }
        if (answers.length > 0) input(answers.join(''));
        answers = [];
        wake();
      });
    }
  });

  /** Resolves true when `test()` holds (checked after each parsed chunk), false after `ms`. */
  const until = (test, ms) => new Promise((resolve) => {
    const timer = setTimeout(() => { wake = () => {}; resolve(false); }, ms);
    wake = () => {
      if (!test()) return;
      clearTimeout(timer);
      wake = () => {};
      resolve(true);
    };
    wake();
  });

  for (const step of opts.steps) {
    if (exit && step.op !== 'sleep') break;
    log(`step ${now()}s ${step.op} ${step.text ?? ''}`);
    if (step.op === 'wait-for') {
      const since = raw.length;
      const ok = await until(() => step.re.test(screenText(term)) || step.re.test(raw.slice(since)), step.timeout);
      if (!ok) {
        log(`wait-for ${step.text} timed out; the screen was:\n${screenText(term).trimEnd()}`);
        break;
      }
    } else if (step.op === 'type') input(step.data);
    else if (step.op === 'sleep') await new Promise((r) => setTimeout(r, step.ms));
    else if (step.op === 'resize') {
      child.resize(step.cols, step.rows);
      term.resize(step.cols, step.rows);
      events.push([now(), 'r', `${step.cols}x${step.rows}`]);
    } else if (step.op === 'kill') process.kill(-child.pid, step.signal);
    else if (step.op === 'wait-exit') await until(() => exit !== undefined, step.timeout);
  }

  if (!exit) {
    process.kill(-child.pid, 'SIGHUP');
    if (!(await until(() => exit !== undefined, KILL_GRACE_MS))) process.kill(-child.pid, 'SIGKILL');
    await exited;
  }
  // Daemons the CLI started in sessions of their own (codex app-server) outlive its group.
  for (const pid of markedPids(marker)) {
    log(`killing left-behind pid ${pid}: ${readFileSync(`/proc/${pid}/cmdline`, 'latin1').replaceAll('\0', ' ').trim()}`);
    try { process.kill(pid, 'SIGKILL'); } catch { /* already gone */ }
  }
  log(`final screen at ${now()}s:\n${screenText(term).trimEnd()}`);
  const byKind = new Map();
  for (const q of queries) {
    const k = byKind.get(q.kind) ?? { count: 0, answered: 0 };
    k.count++;
    if (q.answer) k.answered++;
    byKind.set(q.kind, k);
  }
  for (const [kind, k] of byKind) log(`queries ${kind}: ${k.count} sent, ${k.answered} answered`);
  writeCast(opts.out, header, events);
  log(`wrote ${opts.out}: ${events.length} events`);
  term.dispose();
}

function readCast(file) {
  const [head, ...lines] = readFileSync(file, 'utf8').trim().split('\n');
  return { header: JSON.parse(head), events: lines.map((l) => JSON.parse(l)) };
}

function writeCast(file, header, events) {
  writeFileSync(file, [JSON.stringify(header), ...events.map((e) => JSON.stringify(e))].join('\n') + '\n');
}

/** Replays the events through xterm, yielding the screen text after each output or resize. */
async function* frames({ header, events }) {
  const term = new Terminal({ cols: header.width, rows: header.height, allowProposedApi: true, scrollback: 0, logLevel: 'off' });
  for (let i = 0; i < events.length; i++) {
    const [t, type, data] = events[i];
    if (type === 'o') await new Promise((r) => term.write(data, r));
    else if (type === 'r') term.resize(...data.split('x').map(Number));
    else continue;
    // Cells painted with a background colour are not trimmed by xterm.
    yield { i, t, screen: screenText(term).split('\n').map((l) => l.trimEnd()).join('\n').trimEnd() };
  }
  term.dispose();
}

/** Prints each screen of a cast that then stayed unchanged for `quietMs`, with its time. */
async function screens(file, quietMs) {
  const cast = readCast(file);
  const outputAt = cast.events.filter((e) => e[1] === 'o').map((e) => e[0]);
  let next = 0;
  let last = '';
  for await (const { t, screen } of frames(cast)) {
    while (next < outputAt.length && outputAt[next] <= t) next++;
    const quiet = next < outputAt.length ? (outputAt[next] - t) * 1000 : Infinity;
    if (quiet < quietMs || screen === last) continue;
    last = screen;
    console.log(`=== ${t}s (quiet ${Number.isFinite(quiet) ? `${Math.round(quiet)} ms` : 'to the end'})\n${screen}`);
  }
}

/**
 * Cuts the output between `from` and `to` seconds (a long animation) and moves later events back
 * by the length of the cut, so the output keeps flowing as it did; refused when input falls in
 * the cut or when any screen after it differs from the uncut recording's.
 */
async function trim(file, from, to) {
  const cast = readCast(file);
  const cut = cast.events.filter(([t]) => t >= from && t < to);
  if (cut.some((e) => e[1] !== 'o')) throw new Error(`input or a resize between ${from}s and ${to}s: not cut`);
  const shift = Math.round((to - from) * 1000) / 1000;
  const kept = cast.events.filter(([t]) => t < from || t >= to).map(([t, type, data]) =>
    [t >= to ? Math.round((t - shift) * 1000) / 1000 : t, type, data]);
  const before = [];
  for await (const f of frames(cast)) if (f.t >= to) before.push(f.screen);
  const after = [];
  for await (const f of frames({ header: cast.header, events: kept })) if (f.t >= from) after.push(f.screen);
  if (before.join('\0') !== after.join('\0')) throw new Error('the screens after the cut differ from the recording: not cut');
  writeCast(file, cast.header, kept);
  log(`cut ${cut.length} output events (${from}s to ${to}s) from ${file}; later events moved back ${shift}s`);
}

const [command, ...rest] = process.argv.slice(2);
if (command === 'record') await record(parseArgs(rest));
else if (command === 'screens') await screens(rest[0], rest.includes('--quiet-ms') ? Number(rest[rest.indexOf('--quiet-ms') + 1]) : 300);
else if (command === 'trim') await trim(rest[0], Number(rest[1]), Number(rest[2]));
else {
  log('usage: record.mjs record --out FILE.cast [options] -- COMMAND [ARGS...] | screens FILE.cast | trim FILE.cast FROM TO');
  process.exit(2);
}
