/** "Did you mean …?" for unknown keys: the valid keys come from the schema itself, never a second list. */
import type { z } from 'zod';
import type { KeyPath } from './issues.js';

/** The keys the mapping at `path` takes under `schema`, or undefined when it is not a fixed set. */
export function keysAt(schema: z.ZodType, path: KeyPath): string[] | undefined {
  let s: z.core.$ZodType | undefined = schema;
  for (const key of path) {
    s = s && step(unwrap(s), key);
  }
  const o = s && unwrap(s);
  return o?._zod.def.type === 'object' ? Object.keys((o as z.core.$ZodObject)._zod.def.shape) : undefined;
}

/** Optional, default and preprocess/transform wrappers, down to the schema that checks the shape. */
function unwrap(s: z.core.$ZodType): z.core.$ZodType {
  for (;;) {
    const def = s._zod.def as { type: string; innerType?: z.core.$ZodType; in?: z.core.$ZodType; out?: z.core.$ZodType };
    if (def.innerType) s = def.innerType;
    else if (def.type === 'pipe' && def.in && def.out) s = def.in._zod.def.type === 'transform' ? def.out : def.in;
    else return s;
  }
}

function step(s: z.core.$ZodType, key: string | number): z.core.$ZodType | undefined {
  const def = s._zod.def as { type: string; shape?: Record<string, z.core.$ZodType>; valueType?: z.core.$ZodType; element?: z.core.$ZodType; options?: z.core.$ZodType[] };
  switch (def.type) {
    case 'object':
      return def.shape?.[String(key)];
    case 'record':
      return def.valueType;
    case 'array':
      return def.element;
    case 'union':
      // The first member that has the key (a mapping form beside a shorthand).
      return def.options?.map((o) => step(unwrap(o), key)).find((x) => x !== undefined);
    default:
      return undefined;
  }
}

/**
 * The valid key closest to `key`: the same once case and separators are ignored (`dependsOn`,
 * `Depends-On`), else within a small edit distance (a typo, a letter missing, two swapped).
 */
export function nearest(key: string, valid: readonly string[]): string | undefined {
  const k = normal(key);
  const same = valid.find((v) => normal(v) === k);
  if (same !== undefined) return same;
  const limit = k.length <= 3 ? 1 : k.length <= 6 ? 2 : 3;
  let best: { key: string; d: number } | undefined;
  for (const v of valid) {
    const d = distance(k, normal(v));
    if (d <= limit && (best === undefined || d < best.d)) best = { key: v, d };
  }
  return best?.key;
}

function normal(s: string): string {
  return s.toLowerCase().replace(/[-_ ]/g, '');
}

/** Edit distance where swapping two neighbours counts as one edit (optimal string alignment); three rows, no matrix. */
function distance(a: string, b: string): number {
  if (Math.abs(a.length - b.length) > 3) return Infinity;
  let before: number[] = [];
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min((prev[j] as number) + 1, (row[j - 1] as number) + 1, (prev[j - 1] as number) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, (before[j - 2] as number) + 1);
      row.push(d);
    }
    before = prev;
    prev = row;
  }
  return prev[b.length] as number;
}
