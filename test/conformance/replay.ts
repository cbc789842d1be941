/**
 * Replays a recorded terminal session (asciicast v2) through what decides an agent's state in
 * production — the terminal model, the provider's screen signatures and the agent chart — on a
 * simulated clock, and returns the state the chart was in at each moment asked for.
 */
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createActor, fromCallback, SimulatedClock } from 'xstate';
import { TerminalModel } from '../../src/agent/terminal-model.js';
import { parseConfig } from '../../src/config/load.js';
import type { AgentConfig } from '../../src/config/types.js';
import { agentMachine, agentTiming, type PtyCommand, publicState } from '../../src/machines/agent.js';
import { compileSignatures, ScreenWatch } from '../../src/machines/screen-verdict.js';

export interface Cast {
  readonly width: number;
  readonly height: number;
  /** [seconds, "o" | "i" | "r", data] */
  readonly events: readonly (readonly [number, string, string])[];
}

/** What a recording must produce: at `at` seconds, the agent is in `state` (`blocked.KIND` for a block). */
export interface Expected {
  /** When the state should have begun (the recording's moment that causes it). */
  readonly from?: number;
  /** A settled moment to check it at. */
  readonly at: number;
  readonly state: string;
  readonly evidence?: readonly string[];
  /** On `exited`: how the CLI ended (the recording shows it only as its last event). */
  readonly exit?: { readonly code: number | null; readonly signal: string | null };
  /** On `exited`: the screen line the exit's reason must quote (an error the CLI died on). */
  readonly exitScreen?: string;
}

export function readCast(file: string): Cast {
  const [head, ...lines] = readFileSync(file, 'utf8').split('\n').filter(Boolean);
  const h = JSON.parse(head ?? '{}') as { width: number; height: number };
  return { width: h.width, height: h.height, events: lines.map((l) => JSON.parse(l) as [number, string, string]) };
}

/** The agent settings a provider's preset gives (as `provider: NAME` in an orchestra.yaml would). */
export function presetAgent(provider: string, extra = ''): AgentConfig {
  const config = parseConfig(`agents:\n  a:\n    provider: ${provider}\n${extra}`, join(tmpdir(), 'orchestra-conformance.yaml'));
  const agent = config.agents[0];
  if (!agent) throw new Error('no agent');
  return agent;
}

export interface Replayed {
  /** The chart's state (`blocked.KIND` when blocked) at each moment asked for. */
  readonly states: string[];
  /** When the run ended: the screen line its exit quotes, if any. */
  readonly exitScreen: string | undefined;
}

/** Replays `cast` for `agent`, sampling the chart's state at each of `times` (seconds). */
export async function replay(cast: Cast, agent: AgentConfig, times: readonly number[], opts: { exit?: { at: number; code: number | null; signal: string | null } } = {}): Promise<Replayed> {
  const clock = new SimulatedClock();
  const pty = fromCallback<PtyCommand>(({ sendBack }) => {
    sendBack({ type: 'pty.spawned', pid: 1 });
    return () => undefined;
  });
  const actor = createActor(agentMachine.provide({ actors: { pty } }), {
    clock,
    // No hang watchdog and no escalation: a recording has no sidecar, and only the screen is judged.
    input: { ...agentTiming(agent), hangTimeoutMs: 0, blockedAfterMs: 0, blockedThen: 'none' },
  });
  actor.start();
  const watch = new ScreenWatch(compileSignatures(agent.blocked.signatures, agent.readyPattern, agent.busyPattern));
  let parsed: () => void = () => undefined;
  const model = new TerminalModel(cast.width, cast.height, () => undefined, () => parsed());
  const now = () => {
    const snap = actor.getSnapshot();
    const s = publicState(snap.value);
    return s === 'blocked' && snap.context.blocked ? `blocked.${snap.context.blocked.on}` : s;
  };
  const out: string[] = [];
  const pending = [...times].sort((a, b) => a - b);
  /** Moves the clock to `t`, sampling every asked-for moment on the way (those at `t` too, unless an event happens at `t`). */
  const until = (t: number, sampleAtT = false) => {
    while (pending.length > 0 && ((pending[0] ?? Infinity) < t || (sampleAtT && pending[0] === t))) {
      const at = pending.shift() ?? 0;
      clock.set(Math.max(clock.now(), Math.round(at * 1000)));
      out.push(now());
    }
    clock.set(Math.max(clock.now(), Math.round(t * 1000)));
  };
  try {
    const exitAt = opts.exit?.at ?? Infinity;
    let exited = false;
    const exit = () => {
      if (exited || !opts.exit) return;
      exited = true;
      until(opts.exit.at);
      actor.send({ type: 'pty.exit', code: opts.exit.code, signal: opts.exit.signal });
    };
    for (const [t, kind, data] of cast.events) {
      if (t > exitAt) exit();
      until(t);
      // What a human typed: an Enter while the agent is ready submits a prompt (as a delivered send does).
      if (kind === 'i' && data.includes('\r') && publicState(actor.getSnapshot().value) === 'ready') actor.send({ type: 'input.submitted' });
      if (kind === 'r') {
        const [cols, rows] = data.split('x').map(Number);
        if (cols && rows) model.resize(cols, rows);
        continue;
      }
      // The recorder marks the CLI's exit with an empty output event (asciicast v2 has no exit event).
      if (kind !== 'o' || data.length === 0) continue;
      await new Promise<void>((resolve) => {
        parsed = resolve;
        model.write(Buffer.from(data));
      });
      actor.send({ type: 'pty.output' });
      const verdict = watch.news(model.screenText());
      if (verdict) actor.send({ type: 'screen.seen', verdict });
    }
    const end = cast.events.at(-1)?.[0] ?? 0;
    exit();
    until(Math.max(end, ...times) + 1, true);
    return { states: out, exitScreen: actor.getSnapshot().context.exit?.screen };
  } finally {
    model.close();
    actor.stop();
  }
}
