/** Which config files a command reads: `-f` (repeatable, in order), else the defaults beside each other. */
import { existsSync } from 'node:fs';
import { join } from 'node:path';

export const DEFAULT_FILE = 'orchestra.yaml';
/** Read after DEFAULT_FILE when it exists beside it and no `-f` was given, as compose reads its override file. */
export const OVERRIDE_FILE = 'orchestra.override.yaml';

/** The files given, or `orchestra.yaml` (and `orchestra.override.yaml` when there is one). */
export function configFiles(given: readonly string[], cwd = process.cwd()): readonly string[] {
  if (given.length > 0) return given;
  const override = join(cwd, OVERRIDE_FILE);
  return existsSync(override) ? [join(cwd, DEFAULT_FILE), override] : [join(cwd, DEFAULT_FILE)];
}

/** Agent names never contain "." or "/" (config names them): an argument that does is a config file. */
export function isConfigPath(arg: string): boolean {
  return arg.includes('.') || arg.includes('/');
}

/** For repeatable options: each value appended. */
export function collect(value: string, previous: readonly string[] = []): string[] {
  return [...previous, value];
}

/** Colours on stdout: a terminal, unless `--no-color` or NO_COLOR (any non-empty value, no-color.org). */
export function useColour(flag: boolean, stream: NodeJS.WriteStream = process.stdout): boolean {
  return flag && stream.isTTY === true && !process.env.NO_COLOR;
}
