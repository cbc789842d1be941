/**
 * Compose's variable interpolation, the one implementation: `${VAR}`, `${VAR:-default}`,
 * `${VAR-default}`, `${VAR:?message}`, `${VAR?message}`, `${VAR:+other}`, `${VAR+other}`, `$VAR`,
 * and `$$` for a literal `$`. Defaults and messages may hold interpolations themselves.
 *
 * Unlike compose, a `$` that starts nothing of the above (`$`, `$ `, `$)`) stays as written:
 * regular expressions end with `$` (`ready.pattern: '> $'`) far more often than anyone means an
 * interpolation there.
 *
 * No YAML here: agent workers expand resume templates with it at run time and should not load a parser.
 */
import { homedir } from 'node:os';

/** A variable's value, or undefined when it is not set. */
export type Vars = (name: string) => string | undefined;

export type Interpolated = { readonly value: string } | { readonly error: string };

const NAME_START = /[A-Za-z_]/;
const NAME = /[A-Za-z_][A-Za-z0-9_]*/y;
const FORMS = '${NAME}, ${NAME:-default}, ${NAME:?message}, $NAME, or $$ for a literal $';

class Failure extends Error {}

/** `text` with its variables replaced, or why it cannot be. */
export function interpolate(text: string, vars: Vars): Interpolated {
  if (!text.includes('$')) return { value: text };
  try {
    return { value: expand(text, vars) };
  } catch (err) {
    if (err instanceof Failure) return { error: err.message };
    throw err;
  }
}

/** `~` or `~/…` at the start of a path is the home directory (`~user` is left alone). */
export function expandHome(path: string, home: string = process.env.HOME ?? homedir()): string {
  return path === '~' || path.startsWith('~/') ? home + path.slice(1) : path;
}

function expand(s: string, vars: Vars): string {
  let out = '';
  let i = 0;
  while (i < s.length) {
    const at = s.indexOf('$', i);
    if (at < 0) break;
    out += s.slice(i, at);
    const next = s[at + 1];
    if (next === '$') {
      out += '$';
      i = at + 2;
    } else if (next === '{') {
      const end = closingBrace(s, at + 2);
      out += braced(s.slice(at + 2, end), vars);
      i = end + 1;
    } else if (next !== undefined && NAME_START.test(next)) {
      NAME.lastIndex = at + 1;
      const name = NAME.exec(s)?.[0] ?? '';
      out += required(name, vars(name));
      i = at + 1 + name.length;
    } else {
      out += '$';
      i = at + 1;
    }
  }
  return out + s.slice(i);
}

/** The index of the `}` that closes a `${` whose body starts at `from` (nested `${…}` included). */
function closingBrace(s: string, from: number): number {
  let depth = 0;
  for (let i = from; i < s.length; i++) {
    if (s[i] === '$' && (s[i + 1] === '$' || s[i + 1] === '{')) {
      if (s[i + 1] === '{') depth++;
      i++;
    } else if (s[i] === '}') {
      if (depth === 0) return i;
      depth--;
    }
  }
  throw new Failure(`"\${${s.slice(from, from + 20)}" is not closed with "}"`);
}

/** The body of `${…}`: a name, then an operator and its operand (expanded only when used). */
function braced(body: string, vars: Vars): string {
  NAME.lastIndex = 0;
  const name = NAME.exec(body)?.[0];
  if (name === undefined) throw new Failure(`invalid "\${${body}}": expected ${FORMS}`);
  const rest = body.slice(name.length);
  const value = vars(name);
  if (rest === '') return required(name, value);
  const colon = rest.startsWith(':');
  const op = rest[colon ? 1 : 0];
  const operand = rest.slice(colon ? 2 : 1);
  // With a colon, an empty value counts as unset (compose's and the shell's rule).
  const set = value !== undefined && (!colon || value !== '');
  switch (op) {
    case '-':
      return set ? value : expand(operand, vars);
    case '+':
      return set ? expand(operand, vars) : '';
    case '?':
      if (set) return value;
      throw new Failure(`variable ${name} is ${colon ? 'unset or empty' : 'unset'}${operand ? `: ${expand(operand, vars)}` : ''}`);
    default:
      throw new Failure(`invalid "\${${body}}": expected ${FORMS}`);
  }
}

function required(name: string, value: string | undefined): string {
  if (value !== undefined) return value;
  throw new Failure(`variable ${name} is not set (give a default with \${${name}:-default}, or write $$ for a literal $)`);
}

