/**
 * A session of the work layer on a simulated clock: a real Supervisor and Work over fake workers
 * whose agents do what the test says (the task queue's and the sessions' unit tests build on it).
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { SimulatedClock } from 'xstate';
import type { ToWorker, WorkerInit } from '../../src/agent/worker-protocol.js';
import { parseConfig } from '../../src/config/load.js';
import type { Reaper } from '../../src/host/reaper.js';
import type { BlockedInfo, ChartState } from '../../src/machines/agent.js';
import { Supervisor } from '../../src/supervisor/supervisor.js';
import type { HandleListener, WorkerPort } from '../../src/supervisor/worker-handle.js';
import { Work } from '../../src/work/work.js';
import { recordingPublisher } from '../supervisor/recording-publisher.js';

/** A worker whose agent does what the test says; sends are delivered at once, and make it busy; its screen shows what it was sent. */
export class FakeWorker implements WorkerPort {
  readonly sent: string[] = [];
  private pid = 0;
  private outputSeq: number;
  private outputOffset: number;
  constructor(
    readonly init: WorkerInit,
    private readonly listener: HandleListener,
  ) {
    this.outputSeq = init.outputSeq;
    this.outputOffset = init.outputOffset;
    this.run('created');
  }
  private run(reason: string): void {
    this.pid = Math.floor(Math.random() * 100_000) + 1000;
    this.listener.message({ type: 'spawned', pid: this.pid });
    this.report('starting', reason);
  }
  report(to: ChartState, reason: string = to, blocked?: BlockedInfo): void {
    this.listener.message({ type: 'state', to, reason, pid: this.pid, ...(blocked ? { blocked } : {}) });
  }
  /** While set, a new run waits for `release()` to start (a real worker reports its new run later). */
  holdStarts = false;
  private held: (() => void)[] = [];
  release(): void {
    this.holdStarts = false;
    for (const start of this.held.splice(0)) start();
  }
  send(msg: ToWorker): void {
    if (msg.type === 'agent.start') {
      if (this.holdStarts) this.held.push(() => this.run(msg.reason));
      else this.run(msg.reason);
    }
    else if (msg.type === 'agent.stop' || msg.type === 'agent.kill') this.report('stopped', 'stop requested');
    else if (msg.type === 'input.send') {
      this.sent.push(msg.text);
      this.listener.message({ type: 'input.outcome', id: msg.id, outcome: 'delivered', reason: 'typed and submitted' });
      this.report('busy', 'input delivered');
    } else if (msg.type === 'screen.read') this.listener.message({ type: 'screen', id: msg.id, data: this.sent.map((t) => `> ${t}`).join('\n'), seq: 1, cols: 80, rows: 24 });
  }
  /** Output of its agent, numbered on from where its worker was told to start. */
  output(text: string): void {
    const data = Buffer.from(text);
    this.outputSeq++;
    this.listener.message({ type: 'output', buffer: data, parts: [{ offset: 0, length: data.length, seq: this.outputSeq, at: this.outputOffset, size: data.length }] });
    this.outputOffset += data.length;
  }
  exit(code: number): void {
    this.report('exited', `exit code ${code}`);
    this.listener.message({ type: 'exit', pid: this.pid, code, signal: null, cause: 'exit' });
  }
  sidecar(event: Record<string, unknown>): void {
    this.listener.message({ type: 'sidecar', items: [{ ok: true, type: String(event.type), event }] });
  }
  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}

/** The config of session `t` in `stateDir`: `yaml` is the rest of the file. */
export const configOf = (yaml: string, stateDir: string) => parseConfig(`session: t\nstate_dir: ${stateDir}\n${yaml}`, join(tmpdir(), 'orchestra-work-test.yaml'));

/** Session `t` of the config `yaml` (with `state_dir`), its supervisor not started yet. */
export function workSession(yaml: string, stateDir = mkdtempSync(join(tmpdir(), 'orch-work-'))) {
  const config = configOf(yaml, stateDir);
  const clock = new SimulatedClock();
  const published: Record<string, unknown>[] = [];
  const publisher = recordingPublisher(published);
  const logger = pino({ level: 'silent' });
  /** Every worker made, in order (an agent started again after it was reaped has a second one). */
  const made: FakeWorker[] = [];
  const workers = new Map<string, FakeWorker>();
  const reaper = { track: () => undefined, untrack: () => undefined } as unknown as Reaper;
  const sup = new Supervisor(config, {
    publisher,
    logger,
    reaper,
    clock,
    random: () => 0.5,
    workers: (init, listener) => {
      const w = new FakeWorker(init, listener);
      made.push(w);
      workers.set(init.agent.name, w);
      return w;
    },
    killOrphans: async () => undefined,
  });
  const work = new Work(config, sup, { publisher, logger, clock });
  const worker = (name: string) => {
    const w = workers.get(name);
    if (!w) throw new Error(`no worker for ${name} (workers: ${[...workers.keys()].join(', ')})`);
    return w;
  };
  // What runs after the event that caused it (planning, spawning): let it.
  const flush = () => new Promise<void>((resolve) => setImmediate(resolve));
  return { config, sup, work, clock, publisher, logger, worker, workers, made, flush, published, stateDir };
}
