import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { planReload } from '../../src/machines/reconfigure.js';

const crew = (agents: string) => parseConfig(`session: r\nagents:\n${agents}`, '/tmp/orchestra-reload-test.yaml').agents;
const agent = (name: string, args = 'a', deps: string[] = []) => `  ${name}:\n    command: sh\n    args: [${args}]\n${deps.length ? `    depends_on: [${deps.join(', ')}]\n` : ''}`;

describe('planReload (what a changed config does to a running crew)', () => {
  it('creates new agents, removes dropped ones, recreates changed ones, leaves the rest', () => {
    const plan = planReload(crew(agent('db') + agent('api') + agent('old')), crew(agent('db') + agent('api', 'b') + agent('new')));
    expect(plan.actions).toEqual([
      { agent: 'db', action: 'unchanged' },
      { agent: 'api', action: 'recreated', why: 'its settings changed' },
      { agent: 'new', action: 'created' },
      { agent: 'old', action: 'removed' },
    ]);
    expect(plan.remove).toEqual(['old', 'api']);
    expect(plan.add.map((a) => a.name)).toEqual(['api', 'new']);
  });

  it('recreates what depends on a recreated agent, dependents removed first and added last', () => {
    const before = crew(agent('db') + agent('api', 'a', ['db']) + agent('web', 'a', ['api']) + agent('lone'));
    const plan = planReload(before, crew(agent('db', 'changed') + agent('api', 'a', ['db']) + agent('web', 'a', ['api']) + agent('lone')));
    expect(plan.actions.filter((a) => a.action === 'recreated')).toEqual([
      { agent: 'db', action: 'recreated', why: 'its settings changed' },
      { agent: 'api', action: 'recreated', why: 'db, which it depends on, is recreated' },
      { agent: 'web', action: 'recreated', why: 'api, which it depends on, is recreated' },
    ]);
    expect(plan.remove).toEqual(['web', 'api', 'db']);
    expect(plan.add.map((a) => a.name)).toEqual(['db', 'api', 'web']);
  });

  it('the same config changes nothing', () => {
    const c = crew(agent('db') + agent('api', 'a', ['db']));
    expect(planReload(c, crew(agent('db') + agent('api', 'a', ['db'])))).toMatchObject({ remove: [], add: [] });
  });
});
