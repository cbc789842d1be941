/**
 * The files an agent CLI keeps its conversations in, read as a preset's `resume` describes them:
 * a path pattern, fields the first line (a JSON object) must have, and lines that show a real
 * message. Synchronous: it runs once per run of an agent, before the spawn or a restart decision.
 */
import { closeSync, type Dirent, openSync, readdirSync, readFileSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** codex's first line carries its whole system prompt (tens of KiB); a longer one is not a header. */
const MAX_HEADER = 1024 * 1024;
const CHUNK = 64 * 1024;

/** The files a pattern matches, sorted: `*` and `?` match within one path segment, as in a shell. */
export function globFiles(pattern: string): string[] {
  const segments = pattern.split('/').filter((s) => s !== '');
  let paths = [pattern.startsWith('/') ? '/' : '.'];
  segments.forEach((segment, i) => {
    const last = i === segments.length - 1;
    if (!/[*?]/.test(segment)) {
      paths = paths.map((p) => join(p, segment));
      return;
    }
    const re = new RegExp(`^${segment.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`);
    paths = paths.flatMap((dir) => entries(dir).filter((e) => re.test(e.name) && (last || e.isDirectory() || e.isSymbolicLink())).map((e) => join(dir, e.name)));
  });
  return paths.filter(isFile).sort();
}

function entries(dir: string): Dirent[] {
  try {
    return readdirSync(dir, { withFileTypes: true });
  } catch {
    return [];
  }
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/** The file's first line as a JSON object; undefined when it is not one (or the file is gone). */
export function readHeader(file: string): Record<string, unknown> | undefined {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch {
    return undefined;
  }
  try {
    const chunks: Buffer[] = [];
    for (let size = 0; size < MAX_HEADER; ) {
      const buf = Buffer.alloc(CHUNK);
      const n = readSync(fd, buf, 0, CHUNK, size);
      if (n === 0) break;
      const nl = buf.subarray(0, n).indexOf(0x0a);
      chunks.push(buf.subarray(0, nl >= 0 ? nl : n));
      if (nl >= 0) break;
      size += n;
    }
    return asObject(Buffer.concat(chunks).toString('utf8'));
  } finally {
    closeSync(fd);
  }
}

function asObject(line: string): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(line);
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** A field of a parsed line by dotted path (`payload.cwd`). */
export function fieldOf(record: unknown, path: string): unknown {
  let v = record;
  for (const key of path.split('.')) {
    if (typeof v !== 'object' || v === null) return undefined;
    v = (v as Record<string, unknown>)[key];
  }
  return v;
}

/** Whether a header has every field with its value (values already expanded). */
export function headerHas(header: Record<string, unknown> | undefined, want: Readonly<Record<string, string>>): boolean {
  return header !== undefined && Object.entries(want).every(([path, value]) => fieldOf(header, path) === value);
}

/** Whether a line after the first has, in one of the fields, one of its values (gemini: a user or model message). */
export function hasMessage(file: string, want: Readonly<Record<string, readonly string[]>>): boolean {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return false;
  }
  const lines = text.split('\n').slice(1);
  return lines.some((line) => {
    const record = asObject(line);
    return record !== undefined && Object.entries(want).some(([path, values]) => values.includes(fieldOf(record, path) as string));
  });
}
