/**
 * `orchestra reload` (and `orchestra up` on a running session): the running crew takes the config
 * as it is now. It is read and checked here, with this shell's environment (as `up` would), then
 * the supervisor carries out what changed (src/machines/reconfigure.ts); each agent's line says
 * what was done, like compose's Created / Recreated / Removed / Running.
 */
import type { ReloadResult } from '../bus/control-protocol.js';
import { loadConfigFiles } from '../config/load.js';
import { withSession } from './ops.js';
import { ask } from './session-client.js';

/** Long enough for the removed agents to stop (each within its stop grace) and the rest to be added. */
const RELOAD_TIMEOUT_MS = 300_000;

const WORDS = { created: 'Created', recreated: 'Recreated', removed: 'Removed', unchanged: 'Running' } as const;

export function reloadLines(r: ReloadResult): { out: string; err: string } {
  const width = Math.max(0, ...r.actions.map((a) => a.agent.length));
  const out = r.actions.map((a) => `${a.agent.padEnd(width)}  ${WORDS[a.action]}${a.why ? ` (${a.why})` : ''}\n`).join('');
  const failed = r.failed.map((f) => `orchestra: ${f.agent}: not applied: ${f.error}\n`).join('');
  const top = r.not_applied.length > 0 ? `orchestra: ${r.not_applied.join(', ')} changed: a running session keeps them; they apply after orchestra down and up\n` : '';
  return { out, err: failed + top };
}

export async function reload(files: readonly string[], out: NodeJS.WritableStream, err: NodeJS.WritableStream): Promise<number> {
  const config = loadConfigFiles(files);
  return withSession(files, async (s) => {
    const r = await ask(s.client, 'reload', { config }, 'reload', RELOAD_TIMEOUT_MS);
    const lines = reloadLines(r);
    out.write(lines.out);
    err.write(lines.err);
    return r.failed.length > 0 ? 1 : 0;
  });
}
