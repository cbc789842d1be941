/** A name used again in a session after its agent was reaped (simulated clock, fake workers). */
import { describe, expect, it } from 'vitest';
import { workSession } from './work-session.js';

describe('an agent name taken again after its agent was reaped', () => {
  it("regression: the new agent started its output seq over, and subscribers dropped all its output as duplicates of the reaped one's", async () => {
    const s = workSession('agents:\n  crew: { command: sh }\ntemplates:\n  job: { command: sh, keep_finished: 1s }\n');
    s.sup.start();
    await s.work.spawn('job', { name: 'x' });
    s.worker('x').report('ready');
    s.worker('x').output('hi ');
    s.worker('x').output('there');
    await s.sup.stopAgent('x');
    s.clock.increment(1_000);
    await s.flush();
    expect(s.sup.status().map((a) => a.name)).toEqual(['crew']);
    await s.work.spawn('job', { name: 'x' });
    const [first, again] = s.made.filter((w) => w.init.agent.name === 'x');
    expect([first?.init.outputSeq, first?.init.outputOffset]).toEqual([0, 0]);
    // It continues where the reaped one ended: seq and offset (its log file, appended to, too).
    expect([again?.init.outputSeq, again?.init.outputOffset]).toEqual([2, 8]);
  });

  it('regression: an agent started again by hand before it was reaped was reaped anyway when its worker had not reported the new run yet', async () => {
    const s = workSession('agents:\n  crew: { command: sh }\ntemplates:\n  job: { command: sh, keep_finished: 1s }\n');
    s.sup.start();
    await s.work.spawn('job', { name: 'x' });
    s.worker('x').report('ready');
    await s.sup.stopAgent('x');
    s.worker('x').holdStarts = true;
    const started = s.sup.startAgent('x');
    await s.flush();
    // Its keep_finished runs out before the worker says the new run is up.
    s.clock.increment(1_000);
    await s.flush();
    s.worker('x').release();
    await started;
    expect(s.sup.status().find((a) => a.name === 'x')?.state).toBe('starting');
    expect(s.published.filter((m) => m.kind === 'agent' && m.agent === 'x').map((m) => m.event)).not.toContain('reaped');
  });
});
