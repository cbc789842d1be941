/**
 * The JSON Schema of the config file, generated from the zod schema (schema.ts) that `validate`
 * runs, so the two cannot drift apart. Two things zod cannot say by itself are derived here:
 * a string shorthand (`restart: always` for `restart: {policy: always}`, written with
 * z.preprocess) becomes `anyOf: [the field it stands for, the mapping]`, and top-level `x-` keys
 * are allowed, as the loader ignores them.
 */
import { z } from 'zod';
import { fileSchema } from './schema.js';

type Json = Record<string, unknown>;

interface PreprocessDef {
  readonly type: string;
  readonly in?: { readonly _zod: { readonly def: { readonly type: string; readonly transform?: (v: unknown, ctx: unknown) => unknown } } };
}

/** What a shorthand string turns into, probed with a marker: the schema of the place the string lands in. */
function shorthand(transform: (v: unknown, ctx: unknown) => unknown, generated: Json): Json | undefined {
  const marker = '\u0000shorthand';
  const probe = transform(marker, { issues: [] });
  if (Array.isArray(probe) && probe[0] === marker) return (generated.items as Json | undefined) ?? undefined;
  if (probe !== null && typeof probe === 'object') {
    const key = Object.entries(probe).find(([, v]) => v === marker)?.[0];
    const props = generated.properties as Record<string, Json> | undefined;
    if (key !== undefined && props?.[key]) return props[key];
  }
  return undefined;
}

/** The config file's JSON Schema (draft 2020-12). */
export function configJsonSchema(): Json {
  const schema = z.toJSONSchema(fileSchema, {
    io: 'input',
    unrepresentable: 'any',
    override: (ctx) => {
      const def = ctx.zodSchema._zod.def as PreprocessDef;
      const transform = def.type === 'pipe' && def.in?._zod.def.type === 'transform' ? def.in._zod.def.transform : undefined;
      if (!transform) return;
      const generated = { ...(ctx.jsonSchema as Json) };
      const short = shorthand(transform, generated);
      if (!short) return;
      for (const k of Object.keys(ctx.jsonSchema)) delete (ctx.jsonSchema as Json)[k];
      Object.assign(ctx.jsonSchema, { anyOf: [short, generated] });
    },
  }) as Json;
  return {
    ...schema,
    title: 'orchestra config',
    // `x-` keys at the top level hold the user's anchors and notes.
    patternProperties: { '^x-': {} },
  };
}
