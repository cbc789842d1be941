/**
 * The YAML parser's errors in the user's words, each at the place to fix: an unclosed quote or
 * bracket is reported where it opened (the parser notices only at the end of the file).
 */
import type { Document, Node, YAMLError } from 'yaml';
import { isCollection, isMap, isScalar, isSeq, visit } from 'yaml';
import type { ConfigIssue, Locator } from './issues.js';

/** One issue per parser error. */
export function syntaxIssues(doc: Document, loc: Locator): ConfigIssue[] {
  // Further errors on a line that has one follow from it (a list item where a key was due is three).
  const lines = new Set<number>();
  return doc.errors
    .map((e) => syntaxIssue(e, doc, loc))
    .filter((i) => !lines.has(i.line) && lines.add(i.line));
}

function syntaxIssue(e: YAMLError, doc: Document, loc: Locator): ConfigIssue {
  const [at, end] = e.pos;
  const said = e.message.split('\n')[0] ?? e.message;
  switch (e.code) {
    case 'MISSING_CHAR': {
      const quote = /Missing closing (["'])quote/.exec(said)?.[1];
      if (quote === undefined) break;
      const open = opening(doc, at, (n) => isScalar(n) && (n.type === 'QUOTE_DOUBLE' || n.type === 'QUOTE_SINGLE'));
      if (open === undefined) return loc.atOffset(at, `a string opened with ${quote} is never closed (the file ends at ${loc.where(at)})`);
      return loc.atOffset(open, `the string opened with ${quote} here is never closed: it runs to the end of the file (${loc.where(at)})`);
    }
    case 'BAD_INDENT': {
      const bracket = /Flow (map|sequence) in block collection/.exec(said)?.[1];
      if (bracket === undefined) break;
      const [o, c] = bracket === 'map' ? ['{', '}'] : ['[', ']'];
      const open = opening(doc, at, (n) => isCollection(n) && n.flow === true && (bracket === 'map' ? isMap(n) : isSeq(n)));
      const closing = `is not closed with "${c}" before ${loc.where(at)} (or the lines inside it are indented less than its key)`;
      return open === undefined ? loc.atOffset(at, `a "${o}" ${closing}`) : loc.atOffset(open, `the "${o}" opened here ${closing}`);
    }
    case 'MULTIPLE_DOCS':
      return loc.atOffset(at, `a second YAML document starts here ("---"), running to ${loc.where(end)}; a config file holds one document`);
  }
  return loc.atOffset(at, PLAIN[said] ?? plainPrefix(said) ?? `invalid YAML: ${said}`);
}

const FLOW_ITEMS = 'expected "," between the items of a [ ] list or { } mapping (quote a value that holds {, }, [, ] or ",", as "${VAR}")';

/** Messages the parser gives for mistakes users make, said the way a user would fix them. */
const PLAIN: Record<string, string> = {
  'Nested mappings are not allowed in compact mappings':
    'a value on the same line as its key cannot be another "key: value"; put the inner mapping on the lines below, indented, or quote the value',
  'Tabs are not allowed as indentation': 'a tab indents this line; YAML is indented with spaces only',
  'All mapping items must start at the same column': 'this key is indented differently from the keys before it in the same mapping',
  'Implicit keys need to be on a single line': 'expected "key: value" on one line (is a ":" missing, or a line indented too far?)',
  'Implicit map keys need to be followed by map values': 'expected ":" after this key',
  'Missing , or : between flow sequence items': FLOW_ITEMS,
  'Missing , or : between flow map items': FLOW_ITEMS,
  'A block sequence may not be used as an implicit map key': 'a list item ("- ") cannot stand here; indent it under the key it belongs to',
};

/** Parser messages with a variable part. */
function plainPrefix(said: string): string | undefined {
  const escape = /^Invalid escape sequence (.*)$/.exec(said);
  if (escape) return `${escape[1]} is not an escape in a "double-quoted" string; write \\\\ for a backslash, or use 'single quotes'`;
  const reserved = /^Plain value cannot start with reserved character (.)$/.exec(said);
  if (reserved) return `a value cannot start with ${reserved[1]} unless it is quoted`;
  const token = /^Unexpected .* token in YAML stream: (".*")$/.exec(said);
  if (token) return `unexpected ${token[1]} here`;
  return undefined;
}

/** The offset of the innermost node of a kind that is open at `at` (started before it, ends at or after it). */
function opening(doc: Document, at: number, kind: (n: Node) => boolean): number | undefined {
  let best: number | undefined;
  visit(doc, {
    Node(_, n) {
      const r = n.range;
      if (r && r[0] < at && r[1] >= at && kind(n) && (best === undefined || r[0] > best)) best = r[0];
    },
  });
  return best;
}
