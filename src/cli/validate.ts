/** `orchestra validate [FILE]`: prints "ok" or every config error with its position. */
import { loadConfigFiles } from '../config/load.js';

export function validate(files: readonly string[], out: NodeJS.WritableStream): number {
  // As `up` will spawn them: a command that is not on PATH is an error here, not a dead agent later.
  const cfg = loadConfigFiles(files, { everyCommand: true });
  const templates = cfg.templates.length > 0 ? `; ${cfg.templates.length} template(s): ${cfg.templates.map((t) => t.name).join(', ')}` : '';
  out.write(`ok: ${cfg.file}: session "${cfg.session}", ${cfg.agents.length} agent(s): ${cfg.agents.map((a) => a.name).join(', ')}${templates}\n`);
  return 0;
}
