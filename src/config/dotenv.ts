/**
 * `.env` files (beside the config, and an agent's `env_file:`) in compose's format: `NAME=value`
 * lines, `#` comments, an optional `export `, values unquoted (an inline ` #` starts a comment),
 * in 'single quotes' (literal) or "double quotes" (escapes such as \n), quoted values may span
 * lines; unquoted and double-quoted values are interpolated, with the names defined above them.
 */
import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { expandHome, interpolate, type Vars } from './interpolate.js';
import type { ConfigIssue, KeyPath, Locator } from './issues.js';
import { readText, relativeName } from './parse.js';

export interface Dotenv {
  readonly values: ReadonlyMap<string, string>;
  readonly issues: readonly ConfigIssue[];
}

const LINE = /^[ \t]*(?:export[ \t]+)?([A-Za-z_][A-Za-z0-9_.-]*)[ \t]*(=[ \t]*)?/;
const ESCAPES: Record<string, string> = { n: '\n', t: '\t', r: '\r', '\\': '\\', '"': '"', $: '$$' };

/** Parses the text of `file` (as shown in messages); `vars` come first, as the process environment does in compose. */
export function parseDotenv(text: string, file: string, vars: Vars): Dotenv {
  const values = new Map<string, string>();
  const issues: ConfigIssue[] = [];
  const lookup: Vars = (n) => vars(n) ?? values.get(n);
  // A byte order mark is how some editors start a UTF-8 file; it is not part of the first name.
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  const issue = (line: number, col: number, message: string) => issues.push({ file, line: line + 1, col, path: '', message });
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string;
    if (/^\s*(#|$)/.test(line)) continue;
    const m = LINE.exec(line);
    if (!m) {
      issue(i, 1, 'expected NAME=value (a name of letters, digits and "_", not starting with a digit)');
      continue;
    }
    const name = m[1] as string;
    if (m[2] === undefined) {
      // A name alone passes the variable through from the environment, when it is set there.
      if (line.slice(m[0].length).trim() !== '') issue(i, m[0].length + 1, `expected "=" after ${name}`);
      else if (vars(name) !== undefined) values.set(name, vars(name) as string);
      continue;
    }
    const col = m[0].length + 1;
    let rest = line.slice(m[0].length);
    const quote = rest[0];
    let raw: string;
    if (quote === '"' || quote === "'") {
      // The value runs to the matching quote, on this line or a later one.
      let body = rest.slice(1);
      let end = closing(body, quote);
      const start = i;
      while (end < 0 && i + 1 < lines.length) {
        body += `\n${lines[++i] as string}`;
        end = closing(body, quote);
      }
      if (end < 0) {
        issue(start, col, `the value opened with ${quote} here is never closed: it runs to the end of the file`);
        continue;
      }
      rest = body.slice(end + 1);
      if (!/^\s*(#.*)?$/.test(rest)) issue(i, 1, `unexpected text after the closing ${quote}`);
      body = body.slice(0, end);
      if (quote === "'") {
        values.set(name, body);
        continue;
      }
      raw = body.replace(/\\(.)/g, (all, c: string) => ESCAPES[c] ?? all);
    } else {
      raw = rest.replace(/\s+#.*$/, '').trim();
    }
    const r = interpolate(raw, lookup);
    if ('value' in r) values.set(name, r.value);
    else issue(i, col, `${name}: ${r.error}`);
  }
  return { values, issues };
}

/** The `.env` beside a config (none is fine): for interpolation only, as in compose. */
export function readDotenv(file: string): Dotenv {
  return existsSync(file) ? parseDotenv(readText(file), relativeName(file), () => undefined) : { values: new Map(), issues: [] };
}

/**
 * `env_file:` (a path or a list, relative to the config, `~` for home): each file read and parsed
 * once, its issues at its own lines; later files win over earlier ones.
 */
export function envFileReader(dir: string, vars: Vars) {
  const read = new Map<string, Dotenv | undefined>();
  const reported = new Set<string>();
  return (files: string | readonly string[] | undefined, at: KeyPath, loc: Locator, issues: ConfigIssue[]): Record<string, string> => {
    const out: Record<string, string> = {};
    const list = typeof files === 'string' ? [files] : (files ?? []);
    for (const [i, f] of list.entries()) {
      const abs = resolve(dir, expandHome(f));
      if (!read.has(abs)) read.set(abs, existsSync(abs) && statSync(abs).isFile() ? parseDotenv(readText(abs), relativeName(abs), vars) : undefined);
      const env = read.get(abs);
      const where = typeof files === 'string' ? at : [...at, i];
      if (env === undefined) issues.push(loc.at(where, `expected an existing file (resolved to ${abs})`));
      else {
        if (!reported.has(abs)) issues.push(...env.issues);
        reported.add(abs);
        for (const [k, v] of env.values) out[k] = v;
      }
    }
    return out;
  };
}

/** The index of the quote that closes a value (a double quote may be escaped). */
function closing(s: string, quote: string): number {
  for (let i = 0; i < s.length; i++) {
    if (quote === '"' && s[i] === '\\') i++;
    else if (s[i] === quote) return i;
  }
  return -1;
}
