/**
 * Provider presets: `providers/NAME.yaml` in the package, each an agent entry as written in
 * orchestra.yaml (so it can be copied into one) plus what it is and which CLI versions its
 * signatures were checked against. Knowledge of an agent CLI is data: a new CLI version is a
 * change to one of these files, never to the code.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError } from './issues.js';
import { parseYaml } from './parse.js';
import { type AgentFields, presetSchema } from './schema.js';

/** The package's `providers/` directory: two levels above this module, from src/config/ and dist/config/ alike. */
export const PROVIDERS_DIR = fileURLToPath(new URL('../../providers/', import.meta.url));

export interface Preset {
  readonly name: string;
  /** Absolute path of the preset's file. */
  readonly file: string;
  /** The file as written, for `orchestra provider show`. */
  readonly text: string;
  readonly description: string;
  /** The CLI versions the signatures were checked against. */
  readonly checked: readonly string[];
  readonly docs: string | undefined;
  /** Evidence of a login that costs no request: environment variables, and credential files as path templates. */
  readonly auth: { readonly env: readonly string[]; readonly files: readonly string[] } | undefined;
  /** The agent settings, merged under an agent's own (and over `defaults:`). */
  readonly fields: AgentFields;
}

/** The names of the presets in `dir`, sorted. */
export function presetNames(dir: string = PROVIDERS_DIR): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.yaml'))
    .map((f) => basename(f, '.yaml'))
    .sort();
}

/** The preset `name` from `dir`, validated; undefined when there is none; ConfigError (at the preset's own lines) when it is broken. */
export function loadPreset(name: string, dir: string = PROVIDERS_DIR): Preset | undefined {
  if (!presetNames(dir).includes(name)) return undefined;
  const file = join(dir, `${name}.yaml`);
  const text = readFileSync(file, 'utf8');
  const { data, loc } = parseYaml(text, file, presetSchema, 'a mapping of agent settings with `name`, `description` and `checked`');
  const { name: declared, description, checked, docs, auth: rawAuth, ...fields } = data;
  if (declared !== name) throw new ConfigError([loc.at(['name'], `expected "${name}", the file's name`)]);
  const auth = rawAuth && { env: rawAuth.env ?? [], files: rawAuth.files ?? [] };
  return { name, file, text, description, checked, docs, auth, fields };
}
