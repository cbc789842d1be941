/**
 * The supervisor against a fake worker on a simulated clock: every lifecycle path the main thread
 * owns (start order, stop order, restarts, group strategies, budgets, forced stop) in milliseconds.
 */
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LEASE_MS } from '../../src/supervisor/attachers.js';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { SimulatedClock } from 'xstate';
import type { FromWorker, ToWorker, WorkerInit } from '../../src/agent/worker-protocol.js';
import { parseConfig } from '../../src/config/load.js';
import type { Reaper } from '../../src/host/reaper.js';
import type { BlockedInfo, ChartState } from '../../src/machines/agent.js';
import { FORCED_CLOSE_MS } from '../../src/machines/shutdown-deadline.js';
import type { AgentConfig } from '../../src/config/types.js';
import { Supervisor } from '../../src/supervisor/supervisor.js';
import { Work } from '../../src/work/work.js';
import type { HandleListener, WorkerPort } from '../../src/supervisor/worker-handle.js';
import { recordingPublisher } from './recording-publisher.js';

type Published = { kind: string; agent: string } & Record<string, unknown>;

/**
 * A worker that plays the agent chart's part as the tests say: a run starts `starting`; a stop ends
 * `stopped` at once unless the agent is `deaf`; a kill always does.
 */
class FakeWorker implements WorkerPort {
  state: ChartState = 'starting';
  closed = false;
  constructor(
    readonly init: WorkerInit,
    private readonly listener: HandleListener,
    private readonly fleet: Fleet,
  ) {
    fleet.log.push(`spawn ${this.name}`);
    this.run('created');
  }
  get name(): string {
    return this.init.agent.name;
  }
  private run(reason: string): void {
    this.pid = this.fleet.nextPid++;
    this.listener.message({ type: 'spawned', pid: this.pid });
    this.report('starting', reason);
  }
  pid = 0;
  report(to: ChartState, reason: string = to, blocked?: BlockedInfo): void {
    this.state = to;
    this.listener.message({ type: 'state', to, reason, pid: this.pid, ...(blocked ? { blocked } : {}) });
  }
  post(msg: FromWorker): void {
    this.listener.message(msg);
  }
  send(msg: ToWorker): void {
    if (msg.type === 'supervisor.state') return;
    this.fleet.log.push(msg.type === 'resize' ? `resize ${this.name} ${msg.cols}x${msg.rows}` : `${msg.type} ${this.name}`);
    if (msg.type === 'screen.read') this.post({ type: 'screen', id: msg.id, data: `screen of ${this.name}`, seq: 7, cols: 80, rows: 24 });
    if (msg.type === 'agent.start') this.run(msg.reason);
    else if (msg.type === 'agent.stop') {
      if (this.fleet.frozen.has(this.name)) return;
      if (this.state === 'exited') return this.report('stopped', 'stop requested');
      if (this.state === 'stopped') return;
      this.report('stopping', 'stop requested');
      if (!this.fleet.deaf.has(this.name)) this.report('stopped', 'stopped (signal SIGTERM)');
    } else if (msg.type === 'agent.kill') {
      if (this.state === 'stopped' || this.fleet.frozen.has(this.name)) return;
      this.report('stopped', 'stopped (signal SIGKILL)');
    }
  }
  /** The run ends by itself. */
  exit(code: number, screen?: string): void {
    this.report('exited', `exit code ${code}`);
    this.listener.message({ type: 'exit', pid: this.pid, code, signal: null, cause: 'exit', ...(screen ? { screen } : {}) });
  }
  crash(): void {
    this.listener.crashed('worker thread exited with code 1');
  }
  /** As the real worker: a chart still in `exited` is stopped first, then the worker closes. */
  shutdown(): Promise<void> {
    if (this.state === 'exited') this.report('stopped', 'stop requested');
    this.closed = true;
    this.fleet.log.push(`close ${this.name}`);
    return Promise.resolve();
  }
}

interface Fleet {
  log: string[];
  nextPid: number;
  /** Agents whose stop never ends by itself (a kill still ends it). */
  deaf: Set<string>;
  /** Workers that answer nothing, not even a kill. */
  frozen: Set<string>;
  /** Timers armed on the clock. */
  timers: number;
}

function crew(agents: string, extra = '') {
  const config = parseConfig(`session: t\n${extra}agents:\n${agents}`, join(tmpdir(), 'orchestra-supervisor-test.yaml'));
  const fleet: Fleet = { log: [], nextPid: 100, deaf: new Set(), frozen: new Set(), timers: 0 };
  const clock = new SimulatedClock();
  const arm = clock.setTimeout.bind(clock);
  clock.setTimeout = (fn, ms) => {
    fleet.timers++;
    return arm(fn, ms);
  };
  const published: Published[] = [];
  const workers = new Map<string, FakeWorker>();
  const killed: string[] = [];
  const publisher = recordingPublisher(published as Record<string, unknown>[]);
  const reaper = { track: () => undefined, untrack: () => undefined } as unknown as Reaper;
  const sup = new Supervisor(config, {
    publisher,
    logger: pino({ level: 'silent' }),
    reaper,
    clock,
    random: () => 0.5,
    workers: (init, listener) => {
      const w = new FakeWorker(init, listener, fleet);
      workers.set(init.agent.name, w);
      return w;
    },
    killOrphans: async (id) => void killed.push(`${id.agent}:${id.sid}`),
  });
  const worker = (name: string) => {
    const w = workers.get(name);
    if (!w) throw new Error(`no worker for ${name}`);
    return w;
  };
  return {
    config,
    publisher,
    sup,
    clock,
    fleet,
    killed,
    published,
    worker,
    shown: (name: string) => sup.state.slots[name]?.shown ?? null,
    states: (name: string) => published.filter((m) => m.kind === 'state' && m.agent === name).map((m) => m.to),
    decisions: (name?: string) => published.filter((m) => m.kind === 'restart' && (name === undefined || m.agent === name)),
    ready: (...names: string[]) => names.forEach((n) => worker(n).report('ready')),
    /** Lets promise continuations (the fake's async kill, awaited waits) run. */
    flush: () => new Promise<void>((resolve) => setImmediate(resolve)),
  };
}

const agent = (name: string, deps: string[] = [], more = '') =>
  `  ${name}:\n    command: sh\n${deps.length ? `    depends_on: [${deps.join(', ')}]\n` : ''}${more}`;
const FAST = '    restart: { policy: always, backoff: { initial: 1s, max: 10s, jitter: 0 }, budget: { max_restarts: 3, window: 1m } }\n';

describe('supervisor (simulated clock, fake workers)', () => {
  it('starts agents in dependency order: a dependent only once its dependency is ready', () => {
    const c = crew(agent('db') + agent('api', ['db']) + agent('web', ['api']));
    c.sup.start();
    expect(c.fleet.log).toEqual(['spawn db']);
    c.ready('db');
    expect(c.fleet.log).toEqual(['spawn db', 'spawn api']);
    c.ready('api');
    expect(c.fleet.log).toEqual(['spawn db', 'spawn api', 'spawn web']);
    expect(c.published.find((m) => m.kind === 'supervisor')).toMatchObject({ event: 'started' });
  });

  it('regression: an agent whose dependency is dead waited in silence for ever; it is blocked on it (transitively), and unblocked when the dependency starts again', async () => {
    const c = crew(agent('db', [], '    restart: no\n') + agent('api', ['db']) + agent('web', ['api']));
    c.sup.start();
    c.worker('db').exit(1);
    expect(c.shown('db')).toBe('dead');
    const blocked = c.published.filter((m) => m.kind === 'state' && m.to === 'blocked');
    expect(blocked.map((m) => [m.agent, m.from, m.reason])).toEqual([
      ['api', null, 'waiting for dependency db, which is dead'],
      ['web', null, 'waiting for dependency api, which is blocked'],
    ]);
    expect(c.sup.status().find((a) => a.name === 'api')).toMatchObject({ state: 'blocked', reason: 'waiting for dependency db, which is dead' });
    const started = c.sup.startAgent('db');
    c.ready('db');
    await started;
    expect(c.fleet.log.filter((l) => l.startsWith('spawn'))).toEqual(['spawn db', 'spawn api']);
    expect(c.states('api')).toEqual(['blocked', 'starting']);
  });

  it('stops in reverse dependency order, dependents first, and the crew ends stopped', async () => {
    const c = crew(agent('db') + agent('api', ['db']) + agent('web', ['api']));
    c.sup.start();
    c.ready('db');
    c.ready('api');
    c.ready('web');
    c.fleet.log.length = 0;
    expect(await c.sup.shutdown()).toBe('graceful');
    expect(c.fleet.log.filter((l) => l.startsWith('agent.stop'))).toEqual(['agent.stop web', 'agent.stop api', 'agent.stop db']);
    expect(c.sup.state.phase).toBe('stopped');
    expect(c.published.filter((m) => m.kind === 'supervisor').map((m) => m.event)).toEqual(['started', 'stopping', 'stopped']);
    expect(c.fleet.log.filter((l) => l.startsWith('close'))).toHaveLength(3);
  });

  it('a crash is restarted after the backoff delay, by the supervisor, in the same worker', () => {
    const c = crew(agent('a', [], FAST));
    c.sup.start();
    c.ready('a');
    c.worker('a').exit(1);
    expect(c.states('a')).toEqual(['starting', 'ready', 'exited', 'restarting']);
    expect(c.decisions('a')[0]).toMatchObject({ action: 'restart', delayMs: 1000, attempt: 1 });
    c.clock.increment(999);
    expect(c.fleet.log).not.toContain('agent.start a');
    c.clock.increment(1);
    expect(c.fleet.log).toContain('agent.start a');
    expect(c.states('a').at(-1)).toBe('starting');
    expect(c.published.filter((m) => m.kind === 'state').at(-1)).toMatchObject({ from: 'restarting', to: 'starting', reason: 'restart delay elapsed' });
  });

  it('regression: a restart stayed in restarting for ever when its timer fired a moment before the clock said it was due (the step saw it not due, the timer check saw it due and armed nothing)', () => {
    const c = crew(agent('a', [], FAST));
    // Node fires a timer by its loop's monotonic time; Date.now() can still read a ms short of the
    // due time at the first look, and the due time at the next.
    const simulated = c.clock.now.bind(c.clock);
    const arm = c.clock.setTimeout.bind(c.clock);
    let early = false;
    c.clock.now = () => {
      const t = simulated();
      if (!early) return t;
      early = false;
      return t - 1;
    };
    c.clock.setTimeout = (fn, ms) =>
      arm(() => {
        early = true;
        fn();
      }, ms);
    c.sup.start();
    c.ready('a');
    c.worker('a').exit(1);
    c.clock.increment(1000);
    c.clock.increment(1);
    expect(c.fleet.log).toContain('agent.start a');
    expect(c.states('a').at(-1)).toBe('starting');
  });

  it('a worker crash kills the orphaned processes, is published as an exit, and restarts in a new worker', async () => {
    const c = crew(agent('a', [], FAST));
    c.sup.start();
    c.ready('a');
    const pid = c.worker('a').pid;
    c.worker('a').crash();
    await c.flush();
    expect(c.killed).toEqual([`a:${pid}`]);
    expect(c.published.find((m) => m.kind === 'exit')).toMatchObject({ cause: 'worker-crash', pid });
    expect(c.states('a').slice(-2)).toEqual(['exited', 'restarting']);
    c.clock.increment(1000);
    expect(c.fleet.log.filter((l) => l === 'spawn a')).toHaveLength(2);
    expect(c.worker('a').init.replacement).toBe(true);
  });

  it('a stop while restarting cancels the restart: stopped, and no run starts when the delay passes', async () => {
    const c = crew(agent('a', [], FAST));
    c.sup.start();
    c.ready('a');
    c.worker('a').exit(1);
    expect(await c.sup.stopAgent('a')).toEqual({ state: 'stopped' });
    c.clock.increment(60_000);
    expect(c.fleet.log).not.toContain('agent.start a');
    expect(c.states('a')).toEqual(['starting', 'ready', 'exited', 'restarting', 'stopped']);
    // Started again on request, with a fresh budget.
    await Promise.all([c.sup.startAgent('a'), c.flush()]);
    expect(c.fleet.log).toContain('agent.start a');
  });

  it('budget exhausted: the agent is dead, loudly, and stays dead', () => {
    const c = crew(agent('a', [], FAST));
    c.sup.start();
    for (let i = 0; i < 3; i++) {
      c.worker('a').exit(1);
      c.clock.increment(10_000);
    }
    c.worker('a').exit(1);
    expect(c.decisions('a').at(-1)).toMatchObject({ action: 'give-up', why: 'budget-exhausted' });
    expect(c.shown('a')).toBe('dead');
    c.clock.increment(600_000);
    expect(c.fleet.log.filter((l) => l === 'agent.start a')).toHaveLength(3);
  });

  it('regression: a dead agent was published dead -> stopped at shutdown (the chart of its worker, left in exited, reported the stop)', async () => {
    const c = crew(agent('a', [], '    restart: { policy: "no" }\n'));
    c.sup.start();
    c.ready('a');
    c.worker('a').exit(1);
    expect(c.shown('a')).toBe('dead');
    expect(await c.sup.shutdown()).toBe('graceful');
    expect(c.states('a')).toEqual(['starting', 'ready', 'exited', 'dead']);
  });

  it('a blocked agent: its state says on what (and a new dialog is published too), ps says since when, an escalation is an alert; dependents wait', () => {
    const c = crew(agent('a') + agent('b', ['a']));
    c.sup.start();
    c.clock.increment(1000);
    const trust = { on: 'trust' as const, evidence: ['Do you trust the files in this folder?'] };
    c.worker('a').report('blocked', 'blocked on trust: Do you trust the files in this folder?', trust);
    expect(c.published.filter((m) => m.kind === 'state').at(-1)).toMatchObject({ from: 'starting', to: 'blocked', blocked: trust });
    expect(c.fleet.log).toEqual(['spawn a']);
    c.clock.increment(5000);
    c.worker('a').report('blocked', 'blocked on login: Sign in', { on: 'login', evidence: ['Sign in'] });
    expect(c.published.filter((m) => m.kind === 'state').at(-1)).toMatchObject({ from: 'blocked', to: 'blocked', blocked: { on: 'login' } });
    expect(c.sup.status()[0]).toMatchObject({ state: 'blocked', blocked: { on: 'login', since: 1000 } });
    c.worker('a').post({ type: 'escalation', on: 'login', evidence: ['Sign in'], forMs: 600_000, then: 'none' });
    expect(c.published.at(-1)).toMatchObject({ kind: 'alert', agent: 'a', alert: 'blocked', on: 'login', forMs: 600_000 });
    c.ready('a');
    expect(c.sup.status()[0]?.blocked).toBeUndefined();
    expect(c.fleet.log).toEqual(['spawn a', 'spawn b']);
  });

  it('an "Unable to connect" crash loop ends dead by budget, and every decision says what the screen said', () => {
    const c = crew(agent('a', [], FAST));
    c.sup.start();
    for (let i = 0; i < 4; i++) {
      c.worker('a').exit(1, 'Unable to connect to Anthropic services');
      c.clock.increment(10_000);
    }
    expect(c.shown('a')).toBe('dead');
    expect(c.published.find((m) => m.kind === 'exit')).toMatchObject({ code: 1, screen: 'Unable to connect to Anthropic services' });
    const reasons = c.decisions('a').map((d) => [d.action, d.reason]);
    expect(reasons.at(-1)).toEqual(['give-up', expect.stringMatching(/^exit code 1 \(screen: Unable to connect to Anthropic services\); restart budget exhausted/)]);
    expect(reasons.slice(0, 3).every(([, r]) => String(r).includes('(screen: Unable to connect to Anthropic services)'))).toBe(true);
  });

  it('one_for_one: a crash restarts only the crashed agent', () => {
    const c = crew(agent('a', [], FAST) + agent('b', ['a'], FAST));
    c.sup.start();
    c.ready('a', 'b');
    c.worker('a').exit(1);
    expect(c.decisions().map((d) => d.agent)).toEqual(['a']);
    expect(c.fleet.log).not.toContain('agent.stop b');
  });

  it('one_for_all: stops the others in reverse start order, then restarts all in start order, each restart published with its cause', () => {
    const c = crew(agent('a', [], FAST) + agent('b', ['a'], FAST) + agent('c', ['b'], FAST) + agent('d', [], FAST), 'supervision: { strategy: one_for_all }\n');
    c.sup.start();
    c.ready('a', 'd');
    c.ready('b');
    c.ready('c');
    c.fleet.log.length = 0;
    c.worker('b').exit(1);
    // Reverse start order, dependents first: d and c at once, a only once c (which depends on it
    // through b) has stopped; b's run has already ended.
    expect(c.fleet.log).toEqual(['agent.stop d', 'agent.stop c', 'agent.stop a']);
    const d = c.decisions();
    expect(d[0]).toMatchObject({ agent: 'b', action: 'restart', strategy: 'one_for_all' });
    expect(d.slice(1).map((x) => [x.agent, x.because, x.strategy])).toEqual([
      ['a', 'b', 'one_for_all'],
      ['c', 'b', 'one_for_all'],
      ['d', 'b', 'one_for_all'],
    ]);
    for (const n of ['a', 'b', 'c', 'd']) expect(c.shown(n)).toBe('restarting');
    c.fleet.log.length = 0;
    c.clock.increment(1000);
    // In start order: a and d have no dependencies; b waits for a, c for b.
    expect(c.fleet.log).toEqual(['agent.start a', 'agent.start d']);
    c.ready('a');
    expect(c.fleet.log.at(-1)).toBe('agent.start b');
    c.ready('b');
    expect(c.fleet.log.at(-1)).toBe('agent.start c');
  });

  it('a group stop waits for each dependent to have stopped before stopping what it depends on', () => {
    const c = crew(agent('a', [], FAST) + agent('b', ['a'], FAST) + agent('x', [], FAST), 'supervision: { strategy: one_for_all }\n');
    c.fleet.deaf.add('b');
    c.sup.start();
    c.ready('a', 'x');
    c.ready('b');
    c.fleet.log.length = 0;
    c.worker('x').exit(1);
    expect(c.fleet.log).toEqual(['agent.stop b']);
    c.clock.increment(60_000);
    // Due, but b is still stopping: nothing restarts while a member of the group runs.
    expect(c.fleet.log).toEqual(['agent.stop b']);
    c.worker('b').report('stopped', 'stopped (signal SIGTERM)');
    expect(c.fleet.log).toEqual(['agent.stop b', 'agent.stop a', 'agent.start a', 'agent.start x']);
    c.ready('a');
    expect(c.fleet.log.slice(4)).toEqual(['agent.start b']);
  });

  it('rest_for_one: a chain of three: a crash of the first restarts all three; of the middle, it and the last; of the last, only it', () => {
    const c = crew(agent('a', [], FAST) + agent('b', ['a'], FAST) + agent('c', ['b'], FAST) + agent('x', [], FAST), 'supervision: { strategy: rest_for_one }\n');
    const upAll = () => {
      c.ready('a', 'x');
      c.ready('b');
      c.ready('c');
    };
    c.sup.start();
    upAll();
    c.fleet.log.length = 0;
    c.worker('a').exit(1);
    expect(c.fleet.log).toEqual(['agent.stop c', 'agent.stop b']);
    expect(c.decisions().map((d) => [d.agent, d.because])).toEqual([
      ['a', undefined],
      ['b', 'a'],
      ['c', 'a'],
    ]);
    expect(c.shown('x')).toBe('ready');
    c.clock.increment(1000);
    upAll();
    c.published.length = 0;
    c.worker('b').exit(1);
    expect(c.decisions().map((d) => [d.agent, d.because])).toEqual([
      ['b', undefined],
      ['c', 'b'],
    ]);
    expect(c.shown('a')).toBe('ready');
    c.clock.increment(2000);
    c.ready('b');
    c.ready('c');
    c.published.length = 0;
    c.worker('c').exit(1);
    expect(c.decisions().map((d) => [d.agent, d.because])).toEqual([['c', undefined]]);
  });

  it('a group strategy counts each group restart once against the group budget', () => {
    const c = crew(agent('a', [], FAST) + agent('b', [], FAST), 'supervision: { strategy: one_for_all, budget: { max_restarts: 2, window: 1m } }\n');
    c.sup.start();
    c.ready('a', 'b');
    c.worker('a').exit(1);
    expect(c.decisions().at(-2)).toMatchObject({ agent: 'a', budgetLeft: 1 });
    c.clock.increment(10_000);
    c.ready('a', 'b');
    c.worker('b').exit(1);
    expect(c.decisions().at(-2)).toMatchObject({ agent: 'b', budgetLeft: 0 });
    c.clock.increment(10_000);
    c.ready('a', 'b');
    c.worker('a').exit(1);
    expect(c.decisions().at(-1)).toMatchObject({ agent: 'a', action: 'give-up', why: 'budget-exhausted', strategy: 'one_for_all' });
    expect(c.shown('a')).toBe('dead');
    expect(c.shown('b')).toBe('ready');
  });

  it('a forced stop during a graceful one aborts it: the agent stuck in its stop is killed, not waited for', async () => {
    const c = crew(agent('a') + agent('b', ['a']));
    c.fleet.deaf.add('a');
    c.sup.start();
    c.ready('a');
    c.ready('b');
    const graceful = c.sup.shutdown();
    await c.flush();
    expect(c.shown('a')).toBe('stopping');
    expect(c.sup.state.phase).toBe('stopping');
    await c.sup.forceStop();
    expect(c.fleet.log).toContain('agent.kill a');
    expect(c.shown('a')).toBe('stopped');
    expect(c.sup.state.phase).toBe('stopped');
    expect(await graceful).toBe('forced');
    expect(c.published.filter((m) => m.kind === 'supervisor').map((m) => m.event)).toEqual(['started', 'stopping', 'stopped']);
  });

  it('regression: a relaunch due while its group still stopped re-armed a 0 ms timer in a loop; no timer is armed for a due restart', () => {
    const c = crew(agent('a', [], FAST) + agent('x', [], FAST), 'supervision: { strategy: one_for_all }\n');
    c.fleet.deaf.add('a');
    c.sup.start();
    c.ready('a', 'x');
    c.worker('x').exit(1);
    const armed = c.fleet.timers;
    c.clock.increment(5000);
    c.clock.increment(5000);
    expect(c.fleet.timers - armed).toBe(0);
    expect(c.shown('x')).toBe('restarting');
    c.worker('a').report('stopped', 'stopped (signal SIGKILL)');
    expect(c.fleet.log.slice(-2)).toEqual(['agent.start a', 'agent.start x']);
  });

  it('regression: an agent started on purpose during a group stop held the stop of its dependency for ever', async () => {
    const c = crew(agent('a', [], FAST) + agent('b', ['a'], FAST) + agent('d', ['a'], FAST) + agent('c', [], FAST), 'supervision: { strategy: one_for_all }\n');
    c.fleet.deaf.add('d');
    c.sup.start();
    c.ready('a', 'c');
    c.ready('b', 'd');
    void c.sup.stopAgent('b');
    c.worker('c').exit(1);
    // a waits for d; b is started on purpose meanwhile.
    void c.sup.startAgent('b');
    await c.flush();
    expect(c.shown('b')).toBe('starting');
    c.worker('d').report('stopped', 'stopped (signal SIGTERM)');
    expect(c.fleet.log).toContain('agent.stop a');
    c.clock.increment(1000);
    expect(c.shown('a')).toBe('starting');
  });

  it('regression: a forced stop whose worker answered nothing never ended the crew stopped (no lifecycle stopped published)', async () => {
    const c = crew(agent('a'));
    c.fleet.frozen.add('a');
    c.sup.start();
    c.ready('a');
    const forced = c.sup.forceStop();
    await c.flush();
    c.clock.increment(FORCED_CLOSE_MS);
    await forced;
    expect(c.killed).toHaveLength(1);
    expect(c.sup.state.phase).toBe('stopped');
    expect(c.published.filter((m) => m.kind === 'supervisor').map((m) => m.event)).toEqual(['started', 'stopping', 'stopped']);
  });

  it('a shutdown asked for after a forced stop does not turn it back into a graceful one', async () => {
    const c = crew(agent('a'));
    c.fleet.deaf.add('a');
    c.sup.start();
    c.ready('a');
    c.fleet.frozen.add('a');
    const forced = c.sup.forceStop();
    void c.sup.shutdown();
    expect(c.sup.state.phase).toBe('forcing');
    await c.flush();
    c.clock.increment(FORCED_CLOSE_MS);
    await forced;
    expect(c.sup.state).toMatchObject({ phase: 'stopped', forced: true });
  });

  it('a stop of an agent waiting to be relaunched reaches its worker (its waiting sends fail now)', async () => {
    const c = crew(agent('a', [], FAST) + agent('b', ['a'], FAST), 'supervision: { strategy: rest_for_one }\n');
    c.sup.start();
    c.ready('a');
    c.ready('b');
    c.worker('a').exit(1);
    c.clock.increment(1000);
    expect(c.sup.state.slots.b?.phase).toBe('waiting');
    c.fleet.log.length = 0;
    await c.sup.stopAgent('b');
    expect(c.fleet.log).toEqual(['agent.stop b']);
  });

  it('one_for_one: a restart does not wait for a dependency that is stopped (it did not before group strategies)', () => {
    const c = crew(agent('a', [], FAST) + agent('b', ['a'], FAST));
    c.sup.start();
    c.ready('a');
    c.ready('b');
    void c.sup.stopAgent('a');
    c.worker('b').exit(1);
    c.clock.increment(1000);
    expect(c.fleet.log.at(-1)).toBe('agent.start b');
  });

  it('group strategies leave agents with restart "no" alone; start of a dead agent gives the group a fresh budget', async () => {
    const once = '    restart: { policy: always, backoff: { initial: 1s, jitter: 0 } }\n';
    const c = crew(agent('a', [], once) + agent('n', [], '    restart: { policy: "no" }\n'), 'supervision: { strategy: one_for_all, budget: { max_restarts: 1, window: 1m } }\n');
    c.sup.start();
    c.ready('a', 'n');
    c.worker('a').exit(1);
    expect(c.decisions().map((d) => d.agent)).toEqual(['a']);
    expect(c.shown('n')).toBe('ready');
    c.clock.increment(1000);
    c.worker('a').exit(1);
    expect(c.shown('a')).toBe('dead');
    void c.sup.startAgent('a');
    await c.flush();
    c.worker('a').exit(1);
    expect(c.decisions().at(-1)).toMatchObject({ agent: 'a', action: 'restart' });
  });

  it('the shutdown deadline turns a graceful stop that cannot finish into a forced one, on the clock', async () => {
    const c = crew(agent('a', [], '    stop: { grace: 1s }\n'));
    c.fleet.deaf.add('a');
    c.sup.start();
    c.ready('a');
    const how = c.sup.shutdown();
    await c.flush();
    expect(c.fleet.log).not.toContain('agent.kill a');
    c.clock.increment(60_000);
    expect(await how).toBe('forced');
    expect(c.fleet.log).toContain('agent.kill a');
  });

  it('attachments: a driver sizes the agent at once; one whose client vanished loses it when its lease runs out; a replacement worker starts at the attachers\' size', async () => {
    const c = crew(agent('a'));
    c.sup.start();
    c.ready('a');
    c.fleet.log.length = 0;
    const first = await c.sup.attach('a', { cols: 100, rows: 30 }, false);
    expect(first).toMatchObject({ screen: 'screen of a', seq: 7, state: 'ready', lease_ms: LEASE_MS });
    // The resize goes first: the screen is read at the attacher's size.
    expect(c.fleet.log).toEqual(['resize a 100x30', 'screen.read a']);
    await c.sup.attach('a', { cols: 60, rows: 20 }, true);
    c.clock.increment(LEASE_MS - 1);
    expect(c.sup.keepalive('a', first.attach)).toBe(true);
    c.worker('a').crash();
    await c.flush();
    c.clock.increment(1000); // the restart's backoff
    expect(c.worker('a').init.size).toEqual({ cols: 100, rows: 30 });
    c.fleet.log.length = 0;
    c.clock.increment(LEASE_MS);
    expect(c.fleet.log).toEqual(['resize a 120x40']);
    expect(c.sup.keepalive('a', first.attach)).toBe(false);
    expect(() => c.sup.resize('a', { cols: 90, rows: 30 }, first.attach)).toThrow(/no attachment .* \(detached, or its lease ran out: attach again\)/);
  });
});

/** An agent's config made as the file would make it, to add at runtime. */
function spare(name: string, deps: string[] = [], more = ''): AgentConfig {
  const known = deps.map((d) => agent(d)).join('');
  const a = parseConfig(`session: t\nagents:\n${known}${agent(name, deps, more)}`, join(tmpdir(), 'orchestra-supervisor-test.yaml')).agents.find((x) => x.name === name);
  if (!a) throw new Error(`no ${name}`);
  return a;
}

describe('agents added and removed at runtime (simulated clock, fake workers)', () => {
  it('an agent added while the crew runs starts at once, is in ps, and touches no other agent', () => {
    const c = crew(agent('a'));
    c.sup.start();
    c.ready('a');
    c.fleet.log.length = 0;
    c.sup.addAgent(spare('x'), 'crew');
    expect(c.fleet.log).toEqual(['spawn x']);
    expect(c.sup.status().map((s) => s.name)).toEqual(['a', 'x']);
    expect(c.states('a')).toEqual(['starting', 'ready']);
  });

  it('an added agent waits for its dependencies; one depending on an unknown agent, or with a taken name, is refused', () => {
    const c = crew(agent('db'));
    c.sup.start();
    c.sup.addAgent(spare('api', ['db']), 'crew');
    expect(c.fleet.log).toEqual(['spawn db']);
    c.ready('db');
    expect(c.fleet.log).toEqual(['spawn db', 'spawn api']);
    expect(() => c.sup.addAgent(spare('db'), 'ephemeral')).toThrow(/an agent named "db" already exists in session "t": choose another name/);
    expect(() => c.sup.addAgent(spare('web', ['nope']), 'crew')).toThrow(/depends on "nope", not in session "t"/);
  });

  it('removing an agent stops it, then forgets it: it leaves ps and its worker closes; the others run on', async () => {
    const c = crew(agent('a') + agent('b'));
    c.sup.start();
    c.ready('a', 'b');
    c.fleet.log.length = 0;
    await c.sup.removeAgent('b');
    expect(c.fleet.log).toEqual(['agent.stop b', 'close b']);
    expect(c.sup.status().map((s) => s.name)).toEqual(['a']);
    expect(Object.keys(c.sup.state.slots)).toEqual(['a']);
    expect(c.shown('a')).toBe('ready');
    // The removed worker's late reports are not news for the chart (it would not know the agent).
    expect(() => c.worker('b').report('stopped')).not.toThrow();
    await expect(c.sup.stopAgent('b')).rejects.toThrow(/no agent named "b"/);
  });

  it('an agent others depend on cannot be removed', async () => {
    const c = crew(agent('db') + agent('api', ['db']));
    c.sup.start();
    await expect(c.sup.removeAgent('db')).rejects.toThrow(/agent "db" cannot be removed: api depends on it/);
  });

  it('a removed agent that had exited (dead) is forgotten at once, without a stop of a process', async () => {
    const c = crew(agent('a', [], '    restart: no\n'));
    c.sup.start();
    c.worker('a').exit(0);
    expect(c.shown('a')).toBe('dead');
    await c.sup.removeAgent('a');
    expect(c.sup.status()).toEqual([]);
  });

  it('an ephemeral agent is outside group strategies: its crash restarts no crew agent, a crew crash does not restart it', () => {
    const c = crew(agent('a', [], FAST) + agent('b', [], FAST), 'supervision: { strategy: one_for_all }\n');
    c.sup.start();
    c.ready('a', 'b');
    c.sup.addAgent(spare('e', [], FAST), 'ephemeral');
    c.ready('e');
    c.fleet.log.length = 0;
    c.worker('e').exit(1);
    // Its own policy restarts it, alone.
    expect(c.decisions().map((d) => d.agent)).toEqual(['e']);
    expect(c.fleet.log.filter((l) => l.startsWith('agent.stop'))).toEqual([]);
    c.clock.increment(1000);
    c.ready('e');
    c.worker('a').exit(1);
    expect(c.decisions().map((d) => d.agent)).toEqual(['e', 'a', 'b']);
    expect(c.fleet.log).not.toContain('agent.stop e');
    expect(c.shown('e')).toBe('ready');
  });

  it('an initial prompt goes through the send path once the worker exists, on the first run only', () => {
    const c = crew(agent('a', [], `${FAST}    prompt: hello\n`));
    c.sup.start();
    expect(c.fleet.log).toEqual(['spawn a', 'input.send a']);
    expect(c.published.find((m) => m.kind === 'input')).toMatchObject({ agent: 'a', request: 'send', outcome: 'queued', bytes: 5 });
    c.ready('a');
    c.worker('a').exit(1);
    c.clock.increment(1000);
    expect(c.fleet.log.filter((l) => l === 'input.send a')).toHaveLength(1);
  });
});

describe('ephemeral agents from templates (simulated clock, fake workers)', () => {
  const TEMPLATES = 'templates:\n  fix:\n    command: sh\n    keep_finished: 5s\n    vars: { who: world }\n    prompt: "hi {{who}}: {{prompt}}"\n';

  function session() {
    const c = crew(agent('crew'), TEMPLATES);
    c.sup.start();
    c.ready('crew');
    const work = new Work(c.config, c.sup, { publisher: c.publisher, logger: pino({ level: 'silent' }), clock: c.clock });
    const agentEvents = (name: string) => c.published.filter((m) => m.kind === 'agent' && m.agent === name);
    return { ...c, work, agentEvents };
  }

  it('spawn renders the prompt (vars over defaults, the spawn text as {{prompt}}) and hands it to the new agent as its first input', async () => {
    const c = session();
    const { name } = await c.work.spawn('fix', { vars: { who: 'you' }, prompt: 'the bug' });
    expect(name).toMatch(/^fix-[0-9a-f]{6}$/);
    expect(c.worker(name).init.agent).toMatchObject({ prompt: 'hi you: the bug', restart: { policy: 'no' } });
    expect(c.worker(name).init.agent.log.file).toMatch(new RegExp(`logs/${name}\\.log$`));
    expect(c.fleet.log).toContain(`input.send ${name}`);
    expect(c.agentEvents(name)).toEqual([expect.objectContaining({ event: 'spawned', template: 'fix', worktree: null })]);
  });

  it('a missing variable is refused naming it and where it is; a taken name and an unknown template are refused', async () => {
    const c = crew(agent('crew'), 'templates:\n  t:\n    command: sh\n    prompt: "line one\\nfix {{issue}} now"\n');
    c.sup.start();
    const work = new Work(c.config, c.sup, { publisher: c.publisher, logger: pino({ level: 'silent' }), clock: c.clock });
    await expect(work.spawn('t')).rejects.toThrow(/no value for "issue" \({{issue}} at template "t" prompt \(.*\):2:5\): give --var issue=\.\.\./);
    await expect(work.spawn('t', { name: 'crew', vars: { issue: '1' } })).rejects.toThrow(/an agent named "crew" already exists/);
    await expect(work.spawn('nope')).rejects.toThrow(/no template named "nope" \(templates: t\)/);
    expect(c.sup.status().map((s) => s.name)).toEqual(['crew']);
  });

  it('an ephemeral that exits is not restarted, is published ended, and is reaped after keep_finished: gone from ps', async () => {
    const c = session();
    const { name } = await c.work.spawn('fix', { name: 'job', prompt: 'x' });
    const ended: unknown[] = [];
    c.work.onEnded((e) => ended.push(e));
    c.ready(name);
    c.worker(name).exit(0);
    expect(c.shown(name)).toBe('dead');
    expect(ended).toEqual([{ agent: 'job', template: 'fix', how: 'exited', result: null, exit: { code: 0, signal: null } }]);
    expect(c.sup.status().map((s) => s.name)).toEqual(['crew', 'job']);
    c.clock.increment(4999);
    expect(c.sup.status().map((s) => s.name)).toEqual(['crew', 'job']);
    c.clock.increment(1);
    await c.flush();
    expect(c.sup.status().map((s) => s.name)).toEqual(['crew']);
    expect(c.agentEvents('job').map((m) => m.event)).toEqual(['spawned', 'ended', 'reaped']);
    expect(c.shown('crew')).toBe('ready');
  });

  it('a sidecar done ends the agent (stopped, not restarted) with its result on the bus', async () => {
    const c = session();
    const { name } = await c.work.spawn('fix', { name: 'job', prompt: 'x' });
    c.ready(name);
    c.worker(name).post({ type: 'sidecar', items: [{ ok: true, type: 'done', event: { type: 'done', result: { pr: 42 } } }] });
    await c.flush();
    expect(c.fleet.log).toContain('agent.stop job');
    expect(c.shown(name)).toBe('stopped');
    expect(c.agentEvents('job').at(-1)).toMatchObject({ event: 'ended', how: 'done', result: { pr: 42 }, exit: null });
  });

  it('an agent removed before the crew starts is forgotten at once', async () => {
    const c = crew(agent('a') + agent('b'));
    await c.sup.removeAgent('b');
    expect(c.sup.status().map((s) => s.name)).toEqual(['a']);
    c.sup.start();
    expect(c.fleet.log).toEqual(['spawn a']);
  });
});
