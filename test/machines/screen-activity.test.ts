import { describe, expect, it } from 'vitest';
import { createActor, fromCallback, SimulatedClock } from 'xstate';
import { type AgentTiming, agentMachine, type PtyCommand, publicState } from '../../src/machines/agent.js';
import { relevantText, ScreenActivity } from '../../src/machines/screen-activity.js';

const screen = (...rows: string[]) => rows.join('\n');
const rowsRegion = (from: number, to = from) => ({ rows: { from, to } });

describe('screen activity', () => {
  it('the same text redrawn is no activity; a change outside the ignored regions is', () => {
    const a = new ScreenActivity([rowsRegion(1)]);
    expect(a.changed(screen('12:00:00', 'body', 'IDLE>'))).toBe(true);
    expect(a.changed(screen('12:00:00', 'body', 'IDLE>'))).toBe(false);
    expect(a.changed(screen('12:00:01', 'body', 'IDLE>'))).toBe(false);
    expect(a.changed(screen('12:00:02', 'body', 'IDLE> ls'))).toBe(true);
  });

  it('rows count from 1 at the top and from -1 at the bottom, ranges are inclusive, and one row past the screen is no error', () => {
    const s = screen('a', 'b', 'c', 'd', 'e');
    expect(relevantText(s, [rowsRegion(2, 3)])).toBe(screen('a', '', '', 'd', 'e'));
    expect(relevantText(s, [rowsRegion(-2, -1)])).toBe(screen('a', 'b', 'c'));
    // From row 2 to the last, whatever the height.
    expect(relevantText(s, [rowsRegion(2, -1)])).toBe('a');
    expect(relevantText(s, [rowsRegion(4, 9)])).toBe(screen('a', 'b', 'c'));
    expect(relevantText(s, [rowsRegion(-9, -4)])).toBe(screen('', '', 'c', 'd', 'e'));
    // Beyond the screen on both sides: nothing to ignore.
    expect(relevantText(s, [rowsRegion(7, 9), rowsRegion(-9, -7)])).toBe(s);
  });

  it('lines matching a pattern are ignored wherever they are (a status line of an inline CLI moves)', () => {
    const a = new ScreenActivity([{ lines: '^Every \\d+\\.\\ds:' }]);
    expect(a.changed(screen('Every 2.0s: date   12:00:00', '', 'Tue Dec  1'))).toBe(true);
    expect(a.changed(screen('', 'Every 2.0s: date   12:00:02', 'Tue Dec  1'))).toBe(false);
    expect(a.changed(screen('', 'Every 2.0s: date   12:00:04', 'Wed Dec  2'))).toBe(true);
  });

  it('a run starts from a blank screen: drawing nothing visible is no activity, the first drawing is', () => {
    const a = new ScreenActivity([rowsRegion(1)]);
    expect(a.changed(screen('', '', ''))).toBe(false);
    // Only the ignored header drawn: still nothing.
    expect(a.changed(screen('12:00:00', '', ''))).toBe(false);
    expect(a.changed(screen('12:00:00', 'body', ''))).toBe(true);
    a.reset();
    expect(a.changed(screen('12:00:09', 'body', ''))).toBe(true);
  });
});

/**
 * htop as the chart sees it for 10 minutes (simulated clock): every 100 ms the whole screen is
 * redrawn, its meters (rows 1-3) change each time, and its process list changes now and then (a
 * process appears, its CPU column moves). `report` turns one frame into chart events.
 */
function htopForTenMinutes(report: (frame: string) => boolean) {
  const timing: AgentTiming = { hasReadyPattern: false, hasBusyPattern: false, readyTimeoutMs: 60_000, idleAfterMs: 2000, busyAfterMs: 250, stopDeadlineMs: 13_000, hangTimeoutMs: 0, screenHoldMs: 0, blockedAfterMs: 0, blockedThen: 'none' };
  const clock = new SimulatedClock();
  const pty = fromCallback<PtyCommand>(({ sendBack }) => {
    sendBack({ type: 'pty.spawned', pid: 1 });
    return () => undefined;
  });
  const actor = createActor(agentMachine.provide({ actors: { pty } }), { input: timing, clock });
  const published: { at: number; to: string }[] = [];
  actor.subscribe((snap) => {
    const to = publicState(snap.value);
    if (published.at(-1)?.to !== to) published.push({ at: clock.now(), to });
  });
  actor.start();
  for (let t = 0; t < 600_000; t += 100) {
    const processes = Math.floor(t / 45_000); // a process appears every 45 s
    const frame = screen(
      `  CPU[|||  ${(t % 997) / 10}%]`,
      `  Mem[||| ${(t * 7) % 4096}M/8G]`,
      `  Tasks: ${30 + processes}; Load average: 0.${t % 100}  Uptime: ${t / 1000}s`,
      '  PID USER      CPU% Command',
      ...Array.from({ length: processes + 1 }, (_, i) => `  ${100 + i} agent      0.0 worker-${i}`),
      'F1Help  F10Quit',
    );
    if (report(frame)) actor.send({ type: 'pty.output' });
    clock.increment(100);
  }
  return published;
}

describe('an idle htop (simulated clock, 10 minutes)', () => {
  it('with activity from the screen, its meters ignored: ready, then not one published state change', () => {
    const activity = new ScreenActivity([rowsRegion(1, 3)]);
    const published = htopForTenMinutes((frame) => activity.changed(frame));
    expect(published.map((p) => p.to)).toEqual(['starting', 'ready']);
    const ready = published[1]?.at ?? Infinity;
    expect(ready).toBeLessThan(3000);
  });

  it('regression: with activity from output (every redraw), it never got ready and the ready timeout ended the run', () => {
    const published = htopForTenMinutes(() => true);
    expect(published.slice(0, 2).map((p) => p.to)).toEqual(['starting', 'stopping']);
  });
});
