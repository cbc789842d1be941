/**
 * What activity means (`activity.from`), through a real PTY and the supervisor: a full-screen TUI
 * that redraws everything every 100 ms (test/fixtures/redraw-tui.mjs) is idle when only its header
 * changes, and busy while its body shows work.
 */
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Received } from '../../src/bus/client.js';
import { type Crew, FIX, isState, runCli, startCrew, until } from './harness.js';

let crew: Crew | undefined;
afterEach(async () => {
  await crew?.stop();
  crew = undefined;
});

const tui = (settings: string) => `  tui:\n    command: node\n    args: [${join(FIX, 'redraw-tui.mjs')}]\n    cols: 80\n    rows: 24\n    idle_after: 1s\n${settings}`;
const SCREEN = '    activity: { from: screen, ignore: [{ rows: 1 }] }\n';

/** The TUI's frame counter (its header: `frame N`) as last seen in its output on the bus. */
function frameCounter() {
  let frame = 0;
  return {
    now: () => frame,
    /** `pred`, counting frames in every message it is asked about. */
    watching: (pred: (r: Received) => boolean) => (r: Received) => {
      if (r.msg.kind === 'output' && r.msg.agent === 'tui') {
        for (const m of Buffer.from(r.msg.data).toString().matchAll(/frame (\d+)/g)) frame = Math.max(frame, Number(m[1]));
      }
      return pred(r);
    },
  };
}
type Frames = ReturnType<typeof frameCounter>;

/** Reads the bus until the TUI has drawn `n` more frames (n × 100 ms of redraws); every message read is kept in `seen`. */
async function redraws(c: Crew, f: Frames, n: number, seen: Received[]): Promise<void> {
  const target = f.now() + n;
  await until(c.bus, f.watching(() => f.now() >= target), 20_000, seen);
}

const statesOf = (seen: Received[]) => seen.flatMap((r) => (r.msg.kind === 'state' && r.msg.agent === 'tui' ? [r.msg.to] : []));

describe('activity from the screen', () => {
  it('regression: a TUI redrawing its clock every 100 ms was busy for ever; with activity from the screen it gets ready, stays ready, and its work still makes it busy', async () => {
    crew = startCrew(tui(SCREEN));
    const f = frameCounter();
    const start: Received[] = [];
    await until(crew.bus, f.watching(isState('tui', 'ready')), 20_000, start);
    expect(statesOf(start)).toEqual(['starting', 'ready']);
    const ready = start.at(-1)?.msg;
    expect(ready?.kind === 'state' && ready.reason).toBe('quiet for 1000ms after start-up output');

    // 3 s of full-screen redraws: not one state change.
    const idle: Received[] = [];
    await redraws(crew, f, 30, idle);
    expect(statesOf(idle)).toEqual([]);

    // Work shows in the body for 10 frames: busy until it ends, ready 1 s after, while the clock ticks on.
    expect((await runCli(['send', 'tui', 'build', '--file', crew.file])).code).toBe(0);
    const work: Received[] = [];
    let text = '';
    const ended = (r: Received) => {
      if (r.msg.kind === 'output' && r.msg.agent === 'tui') text += Buffer.from(r.msg.data).toString();
      return isState('tui', 'ready')(r);
    };
    await until(crew.bus, f.watching(ended), 20_000, work);
    expect(statesOf(work)).toEqual(['busy', 'ready']);
    expect(text).toContain('working 10/10 on: build');
    const back = work.at(-1)?.msg;
    expect(back?.kind === 'state' && back.reason).toBe('quiet for 1000ms');

    const after: Received[] = [];
    await redraws(crew, f, 20, after);
    expect(statesOf(after)).toEqual([]);
  }, 60_000);

  it('the same TUI with activity from output (the default) is busy as soon as it is ready, and stays busy', async () => {
    crew = startCrew(tui('    ready: { pattern: "^IDLE> " }\n'));
    const f = frameCounter();
    const seen: Received[] = [];
    await until(crew.bus, f.watching(isState('tui', 'busy')), 20_000, seen);
    await redraws(crew, f, 30, seen);
    expect(statesOf(seen)).toEqual(['starting', 'ready', 'busy']);
  }, 60_000);

  it('with activity from the screen and a ready pattern, the TUI is ready by its pattern and stays ready', async () => {
    crew = startCrew(tui(`    ready: { pattern: "^IDLE> " }\n${SCREEN}`));
    const f = frameCounter();
    const seen: Received[] = [];
    await until(crew.bus, f.watching(isState('tui', 'ready')), 20_000, seen);
    await redraws(crew, f, 30, seen);
    expect(statesOf(seen)).toEqual(['starting', 'ready']);
  }, 60_000);

  it('regression: a restarted run that draws what the last run ended with must still count it as its start-up output (compared with a blank screen, not the last run\'s)', async () => {
    crew = startCrew(
      `  r:\n    command: sh\n    args: [-c, "printf 'same screen'; sleep 0.4; exit 1"]\n    idle_after: 200ms\n    ready: { timeout: 3s }\n` +
        `    activity: screen\n    restart: { policy: always, backoff: { initial: 100ms, jitter: 0 } }\n`,
    );
    let readies = 0;
    const seen = await until(crew.bus, (r) => isState('r', 'ready')(r) && ++readies === 3, 20_000);
    expect(seen.some((r) => r.msg.kind === 'exit' && r.msg.cause === 'ready-timeout')).toBe(false);
  }, 60_000);
});
