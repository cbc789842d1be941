/** Finding a program as a shell would: the agent's worker before it spawns, `doctor` and `provider: auto` before that. */
import { accessSync, constants as fsc, statSync } from 'node:fs';
import { delimiter, isAbsolute, join, resolve } from 'node:path';

/** Resolves `command` like execvp would, so "not found" is a clear error instead of a crash loop. */
export function resolveCommand(command: string, cwd: string, path = process.env.PATH ?? ''): string | undefined {
  const isFile = (p: string) => {
    try {
      accessSync(p, fsc.X_OK);
      return statSync(p).isFile();
    } catch {
      return false;
    }
  };
  if (command.includes('/')) {
    const p = isAbsolute(command) ? command : resolve(cwd, command);
    return isFile(p) ? p : undefined;
  }
  for (const dir of path.split(delimiter)) if (dir && isFile(join(dir, command))) return join(dir, command);
  return undefined;
}
