/** `sessions:` in the config: the template `orchestra session` cold-starts by default, and the idle timeout. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { configErrors } from './config-errors.js';

const dir = mkdtempSync(join(tmpdir(), 'orch-sessions-cfg-'));
const file = join(dir, 'orchestra.yaml');
const errorsOf = (text: string): string[] => configErrors(() => parseConfig(text, file), `${dir}/`, 'D/');
const AGENTS = 'agents:\n  a: { command: sh }\ntemplates:\n  chat: { command: sh }\n';

describe('session settings in the config', () => {
  it('resolves sessions.template and idle_timeout; without them, no default template and 30 minutes', () => {
    expect(parseConfig(AGENTS, file).sessions).toEqual({ template: undefined, idleTimeoutMs: 1_800_000 });
    expect(parseConfig(`${AGENTS}sessions: { template: chat, idle_timeout: 5m }\n`, file).sessions).toEqual({ template: 'chat', idleTimeoutMs: 300_000 });
    expect(parseConfig(`${AGENTS}sessions: { idle_timeout: 0s }\n`, file).sessions.idleTimeoutMs).toBe(0);
  });

  it('bad session settings are each reported at their position; a template that is not there names those that are', () => {
    expect(errorsOf(`${AGENTS}sessions: { template: chta, idle_timeout: soon, pool: x }\n`)).toEqual([
      'D/orchestra.yaml:5:23: sessions.template: expected the name of a template (chat), found "chta"',
      'D/orchestra.yaml:5:43: sessions.idle_timeout: expected a duration such as "500ms", "2s" or "5m", found "soon"',
      'D/orchestra.yaml:5:49: sessions.pool: unknown key "pool"',
    ]);
  });

  it('sessions.template must be interactive: a headless template has no agent to keep', () => {
    expect(errorsOf(`${AGENTS}  once: { command: sh, mode: headless, output: text }\nsessions: { template: once }\n`)).toEqual([
      'D/orchestra.yaml:6:23: sessions.template: expected an interactive template: "once" is mode: headless (one run per prompt, no agent to keep), found "once"',
    ]);
  });

  it('regression: idle_timeout: 720h stopped every session as soon as it was ready (a Node timer past 2^31-1 ms fires after 1 ms); a duration past the timer limit is refused', () => {
    expect(errorsOf(`${AGENTS}sessions: { idle_timeout: 720h }\n`)).toEqual([
      'D/orchestra.yaml:5:27: sessions.idle_timeout: expected a duration of at most 596h (2147483647ms, the longest timer Node keeps; a longer one would fire at once), found "720h"',
    ]);
    expect(parseConfig(`${AGENTS}sessions: { idle_timeout: 596h }\n`, file).sessions.idleTimeoutMs).toBe(596 * 3_600_000);
  });
});
