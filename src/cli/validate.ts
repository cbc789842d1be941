/** `orchestra validate [FILE]`: prints "ok" or every config error with its position. */
import { loadConfig } from '../config/load.js';

export function validate(file: string, out: NodeJS.WritableStream): number {
  const cfg = loadConfig(file);
  out.write(`ok: ${cfg.file}: session "${cfg.session}", ${cfg.agents.length} agent(s): ${cfg.agents.map((a) => a.name).join(', ')}\n`);
  return 0;
}
