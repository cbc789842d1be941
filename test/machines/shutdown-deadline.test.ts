import { describe, expect, it } from 'vitest';
import { shutdownDeadlineMs } from '../../src/machines/shutdown-deadline.js';
import { parseConfig } from '../../src/config/load.js';
import { stopDeadlineMs } from '../../src/machines/agent.js';

const agent = (name: string, extra = '') => `  ${name}:\n    command: sh\n    stop: { grace: 4s }\n${extra}`;
const crew = (agents: string) => parseConfig(`session: d\nstate_dir: /tmp/orch-deadline\nagents:\n${agents}`, '/tmp/orchestra.yaml').agents;

describe('the shutdown deadline', () => {
  const one = stopDeadlineMs({ keys: undefined, graceMs: 4000 });

  it('a chain of three (c depends on b, b on a) stops one after the other: its deadline covers all three (it covered one, and forced the rest mid-grace)', () => {
    const chain = crew(agent('a') + agent('b', '    depends_on: [a]\n') + agent('c', '    depends_on: [b]\n'));
    const independent = crew(agent('a') + agent('b') + agent('c'));
    expect(shutdownDeadlineMs(chain) - shutdownDeadlineMs(independent)).toBe(2 * one);
  });

  it('independent agents stop concurrently: one stop deadline, whatever their number', () => {
    expect(shutdownDeadlineMs(crew(agent('a') + agent('b') + agent('c')))).toBe(shutdownDeadlineMs(crew(agent('a'))));
  });

  it('the longest path counts, not the sum of all agents (a diamond: d depends on b and c, both on a)', () => {
    const diamond = crew(agent('a') + agent('b', '    depends_on: [a]\n') + agent('c', '    depends_on: [a]\n') + agent('d', '    depends_on: [b, c]\n'));
    expect(shutdownDeadlineMs(diamond) - shutdownDeadlineMs(crew(agent('a')))).toBe(2 * one);
  });
});
