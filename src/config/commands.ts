/**
 * Does an agent's command name a program that can start? Checked as the agent's worker will
 * resolve it at spawn (src/host/command.ts), so `validate` says before `up` what `up` would only
 * find out when the agent dies with "command not found".
 */
import { resolveCommand } from '../host/command.js';
import type { ConfigIssue, KeyPath, Locator } from './issues.js';

/** What the issue is about: the command as resolved, where it was written, whether a preset gave it. */
export interface CommandSite {
  readonly command: string;
  readonly cwd: string;
  readonly path: string | undefined;
  readonly at: KeyPath;
}

/**
 * `command: sleep 3607` (a command line in one string) can never start: always an issue. A
 * program that is not on PATH only when `everyCommand` (validate), since it may be installed
 * by the time `up` spawns it.
 */
export function commandIssue(site: CommandSite, loc: Locator, everyCommand: boolean): ConfigIssue | undefined {
  if (resolveCommand(site.command, site.cwd, site.path ?? '') !== undefined) return undefined;
  const words = site.command.trim().split(/\s+/);
  const [program, ...args] = words;
  if (program !== undefined && args.length > 0) {
    const hint = `did you mean command: ${program}, args: [${args.map((a) => JSON.stringify(a)).join(', ')}]?`;
    return loc.at(site.at, `"${site.command}" is neither a program on PATH nor a file: the command is one program and its arguments go in \`args\`; ${hint}`, { found: false });
  }
  if (!everyCommand) return undefined;
  const where = site.command.includes('/') ? `no executable file "${site.command}" (from ${site.cwd})` : `no program "${site.command}" on PATH`;
  return loc.at(site.at, `${where}: the agent would not start`, { found: false });
}
