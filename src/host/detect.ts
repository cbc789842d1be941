/**
 * Which agent CLIs this machine can run, from what is on disk and in the environment only: no
 * request is sent and no token spent. A provider is installed when its preset's command is on
 * PATH, authenticated when one of the preset's `auth` evidences is there (a variable that is set,
 * or a credential file holding a non-empty JSON object), and checked when its `--version` is one
 * the preset's signatures were checked against. Which evidence counts is data, in the presets.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { resolveCommand } from './command.js';
import { transcriptPath } from './resume.js';
import type { Preset } from '../config/providers.js';

export type Env = Readonly<Record<string, string | undefined>>;

/** What the checks that spawn nothing found. */
export interface Presence {
  readonly provider: string;
  /** The command found on PATH (absolute); undefined when it is not installed. */
  readonly path: string | undefined;
  /** The first evidence of a login: a variable's name, or a credential file (`~` for the home directory). */
  readonly auth: string | undefined;
}

/** Detection as `provider: auto` uses it: a test passes its own instead of the machine's. */
export type Detector = (preset: Preset, env: Env, cwd: string) => Presence;

/** Version probes that hang (a CLI waiting on a prompt or a network) give up after this long. */
const VERSION_TIMEOUT_MS = 5000;

/** Where `preset`'s command is and whether it is logged in, for a program started with `env` in `cwd`. */
export const detect: Detector = (preset, env, cwd) => ({
  provider: preset.name,
  path: resolveCommand(preset.fields.command ?? preset.name, cwd, env.PATH ?? ''),
  auth: authEvidence(preset, env),
});

/** The first of the preset's evidences of a login present in `env` and on disk. */
export function authEvidence(preset: Preset, env: Env): string | undefined {
  const evidence = preset.auth ?? { env: [], files: [] };
  const variable = evidence.env.find((name) => (env[name] ?? '') !== '');
  if (variable !== undefined) return variable;
  // Credential files take the syntax of resume.transcript (`~`, `${VAR:-default}`), one syntax for paths in presets.
  const files = evidence.files.map((template) => transcriptPath(template, '', '', env));
  const found = files.find(holdsCredentials);
  return found === undefined ? undefined : tildify(found, env.HOME ?? homedir());
}

/** An empty file or `{}` is what a logout leaves behind, not a login. */
function holdsCredentials(file: string): boolean {
  try {
    const value: unknown = JSON.parse(readFileSync(file, 'utf8'));
    return value !== null && typeof value === 'object' && Object.keys(value).length > 0;
  } catch {
    return false;
  }
}

function tildify(path: string, home: string): string {
  return path.startsWith(`${home}/`) ? `~${path.slice(home.length)}` : path;
}

/** The version `path --version` prints (the first dotted number, on stdout or else stderr); undefined if none within 5 s. */
export function cliVersion(path: string, env: Env): Promise<string | undefined> {
  return new Promise((done) => {
    execFile(path, ['--version'], { env: { ...env }, timeout: VERSION_TIMEOUT_MS, encoding: 'utf8' }, (_err, stdout, stderr) => {
      done(firstVersion(stdout) ?? firstVersion(stderr));
    });
  });
}

function firstVersion(text: string): string | undefined {
  return /\b\d+\.\d+(?:\.\d+)?(?:-[0-9A-Za-z.]+)?/.exec(text)?.[0];
}

/** Everything `orchestra doctor` reports about one provider. */
export interface Diagnosis extends Presence {
  /** What `--version` printed; undefined when not installed or it printed none. */
  readonly version: string | undefined;
  /** Whether that version is one the preset's `checked` lists. */
  readonly checked: boolean;
}

/** Detects `preset` and asks an installed CLI its version. */
export async function diagnose(preset: Preset, env: Env, cwd: string): Promise<Diagnosis> {
  const presence = detect(preset, env, cwd);
  const version = presence.path === undefined ? undefined : await cliVersion(presence.path, env);
  return { ...presence, version, checked: version !== undefined && preset.checked.includes(version) };
}
