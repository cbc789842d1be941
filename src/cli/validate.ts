/** `orchestra validate [FILE]`: prints "ok" or every config error with its position. */
import { loadConfig } from '../config/load.js';

export function validate(file: string, out: NodeJS.WritableStream): number {
  const cfg = loadConfig(file);
  const templates = cfg.templates.length > 0 ? `; ${cfg.templates.length} template(s): ${cfg.templates.map((t) => t.name).join(', ')}` : '';
  out.write(`ok: ${cfg.file}: session "${cfg.session}", ${cfg.agents.length} agent(s): ${cfg.agents.map((a) => a.name).join(', ')}${templates}\n`);
  return 0;
}
