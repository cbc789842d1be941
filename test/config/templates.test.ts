/** `templates:` in the config: resolved like agents, plus prompt, prompt files with front matter, vars, keep_finished, worktree. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { configErrors } from './config-errors.js';

const dir = mkdtempSync(join(tmpdir(), 'orch-tpl-'));
const file = join(dir, 'orchestra.yaml');
const CREW = 'agents:\n  a: { command: sh }\n';

const errorsOf = (text: string): string[] => configErrors(() => parseConfig(text, file), `${dir}/`, 'D/');

describe('templates in the config', () => {
  it('a template is an agent resolved over defaults, restart "no" unless it says so, with its prompt, vars, keep_finished and worktree', () => {
    const cfg = parseConfig(
      `session: s\nstate_dir: st\ndefaults: { restart: always, idle_after: 300ms }\n${CREW}templates:\n  fix:\n    command: node\n    vars: { issue: "1" }\n    prompt: "fix {{issue}}"\n    keep_finished: 1m\n    worktree: true\n  keep:\n    command: node\n    restart: on-failure\n    worktree: { branch: "w/{{name}}", base: main, root: trees }\n`,
      file,
    );
    const [fix, keep] = cfg.templates;
    expect(fix).toMatchObject({ name: 'fix', prompt: 'fix {{issue}}', vars: { issue: '1' }, keepFinishedMs: 60_000 });
    expect(fix?.agent).toMatchObject({ name: 'fix', command: 'node', idleAfterMs: 300, restart: { policy: 'no' }, worktree: { branch: 'orchestra/{{name}}', base: 'HEAD', root: join(dir, 'st', 'worktrees') } });
    expect(fix?.agent.prompt).toBeUndefined();
    expect(keep).toMatchObject({ prompt: undefined, keepFinishedMs: 600_000, agent: { worktree: { branch: 'w/{{name}}', base: 'main', root: join(dir, 'trees') } } });
    expect(keep?.agent.restart.policy).toBe('on-failure');
    expect(cfg.agents.map((a) => a.name)).toEqual(['a']);
  });

  it('a crew agent may have an initial prompt and a worktree', () => {
    const a = parseConfig('agents:\n  a: { command: sh, prompt: "go", worktree: true }\n  b: { command: sh }\n', file).agents;
    expect(a[0]).toMatchObject({ prompt: 'go', worktree: { branch: 'orchestra/{{name}}', base: 'HEAD' } });
    expect(a[1]?.worktree).toBeUndefined();
  });

  it('a prompt file: its front matter is agent settings under the template\'s own; the rest is the prompt', () => {
    writeFileSync(join(dir, 'review.md'), '---\ncommand: claude\nargs: [--verbose]\nidle_after: 1s\n---\nReview {{pr}}.\n');
    const cfg = parseConfig(`${CREW}templates:\n  review:\n    prompt_file: review.md\n    idle_after: 2s\n`, file);
    expect(cfg.templates[0]).toMatchObject({ prompt: 'Review {{pr}}.\n', promptSource: join(dir, 'review.md') });
    expect(cfg.templates[0]?.agent).toMatchObject({ command: 'claude', args: ['--verbose'], idleAfterMs: 2000 });
  });

  it('errors in a prompt file\'s front matter are positioned in that file, listed with the config\'s', () => {
    writeFileSync(join(dir, 'bad.md'), '---\ncommand: x\nidle_after: soon\nbogus: 1\n---\nhi\n');
    expect(errorsOf(`${CREW}templates:\n  t:\n    prompt_file: bad.md\n  u: { args: [x] }\n`)).toEqual([
      'D/orchestra.yaml:6:6: templates.u.command: missing required key',
      'D/bad.md:3:13: idle_after: expected a duration such as "500ms", "2s" or "5m", found "soon"',
      'D/bad.md:4:1: bogus: unknown key "bogus"',
    ]);
  });

  it('a template is validated as an agent is: its keys first, then missing command, bad name, both prompts, unreadable file, unknown dependency', () => {
    expect(errorsOf(`${CREW}templates:\n  t2: { command: sh, comand: x, keep_finished: never, worktree: { brnch: x } }\n`)).toEqual([
      'D/orchestra.yaml:4:22: templates.t2.comand: unknown key "comand" (did you mean "command"?)',
      'D/orchestra.yaml:4:48: templates.t2.keep_finished: expected a duration such as "500ms", "2s" or "5m", found "never"',
      'D/orchestra.yaml:4:67: templates.t2.worktree.brnch: unknown key "brnch"',
    ]);
    expect(
      errorsOf(`${CREW}templates:\n  t1: { args: [x] }\n  "a/b": { command: sh }\n  t3: { command: sh, prompt: x, prompt_file: p.md }\n  t4: { command: sh, prompt_file: nope.md }\n  t5: { command: sh, depends_on: [zz] }\n`),
    ).toEqual([
      'D/orchestra.yaml:4:7: templates.t1.command: missing required key',
      'D/orchestra.yaml:5:3: templates.a/b: template names use letters, digits, "-" and "_" (max 64) and start with a letter or digit',
      'D/orchestra.yaml:6:46: templates.t3.prompt_file: expected either prompt or prompt_file, not both',
      expect.stringMatching(/^D\/orchestra\.yaml:7:35: templates\.t4\.prompt_file: expected a readable file \(.*nope\.md: ENOENT\), found "nope\.md"$/),
      'D/orchestra.yaml:8:35: templates.t5.depends_on[0]: expected the name of an agent in this file, found "zz"',
    ]);
  });
});
