import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { isolatedSpawn } from '../../src/agent/fd-isolation.js';

/** Runs `env` through the closing step, with `env` as the agent's environment. */
function agentEnv(env: Record<string, string>): { stderr: string; vars: Map<string, string> } {
  const s = isolatedSpawn('/usr/bin/env', [], { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env });
  const r = spawnSync(s.file, s.args, { env: s.env, encoding: 'utf8' });
  const vars = new Map(r.stdout.split('\n').filter(Boolean).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)] as [string, string]));
  return { stderr: r.stderr, vars };
}

describe('the descriptor-closing step before an agent starts', () => {
  it('a LANG naming a locale that is not installed printed perl locale warnings into the agent terminal: now nothing', () => {
    const { stderr, vars } = agentEnv({ LANG: 'xx_YY.UTF-8', LC_ALL: 'xx_YY.UTF-8' });
    expect(stderr).toBe('');
    expect(vars.get('LANG')).toBe('xx_YY.UTF-8');
    expect(vars.has('PERL_BADLANG')).toBe(false);
  });

  it("perl's own variables reach the agent unchanged and do not act on the step itself", () => {
    const { stderr, vars } = agentEnv({ PERL5OPT: '-Mstrict -w', PERL5LIB: '/nonexistent', PERL_BADLANG: '1', PERL_UNICODE: 'SDA', FOO: 'a=b' });
    expect(stderr).toBe('');
    expect(Object.fromEntries(vars)).toMatchObject({ PERL5OPT: '-Mstrict -w', PERL5LIB: '/nonexistent', PERL_BADLANG: '1', PERL_UNICODE: 'SDA', FOO: 'a=b' });
  });
});
