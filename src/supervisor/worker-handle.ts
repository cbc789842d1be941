/** The supervisor's end of one agent worker: spawns the thread, relays typed messages, notices crashes. */
import { Worker } from 'node:worker_threads';
import type { FromWorker, ToWorker, WorkerInit } from '../agent/worker-protocol.js';
import { sharedScan } from '../host/process-scan.js';

export interface HandleListener {
  message(msg: FromWorker): void;
  /** The thread ended without reporting `worker.closed`: an uncaught error or a native crash. */
  crashed(reason: string): void;
}

/** What the supervisor does with a worker (a fake in the supervisor's unit tests). */
export interface WorkerPort {
  send(msg: ToWorker): void;
  /** Resolves once the worker has closed (or its thread has ended). */
  shutdown(): Promise<void>;
}

const WORKER_URL = new URL('../agent/agent-worker.js', import.meta.url);

export class WorkerHandle implements WorkerPort {
  private readonly worker: Worker;
  /** The thread's life: running, closed by its own report, or ended (cleanly or not). */
  private life: 'running' | 'closed' | 'ended' = 'running';
  private crashReason: string | undefined;
  /** Settles once the worker has closed or its thread has ended, whichever comes first. */
  private readonly gone: Promise<void>;
  private shutdownSent = false;

  constructor(init: WorkerInit, private readonly listener: HandleListener) {
    this.worker = new Worker(WORKER_URL, { workerData: init, name: `agent:${init.agent.name}` });
    let settle: () => void = () => undefined;
    this.gone = new Promise((resolve) => (settle = resolve));
    this.worker.on('message', (msg: FromWorker) => {
      if (msg.type === 'worker.closed') {
        this.life = 'closed';
        settle();
        void this.worker.terminate();
        return;
      }
      if (msg.type === 'procs.scan') {
        const { leaderUnreaped, ...id } = msg.query;
        void sharedScan.processes({ ...id, leaderUnreaped: () => leaderUnreaped }).then((found) => this.send({ type: 'procs.found', id: msg.id, found }));
        return;
      }
      this.listener.message(msg);
    });
    this.worker.on('error', (err) => {
      this.crashReason = `worker error: ${err.message}`;
    });
    this.worker.on('exit', (code) => {
      if (this.life === 'running') this.listener.crashed(this.crashReason ?? `worker thread exited with code ${code}`);
      this.life = 'ended';
      settle();
    });
  }

  send(msg: ToWorker): void {
    if (this.life !== 'ended') this.worker.postMessage(msg);
  }

  /**
   * The worker stops its agent (stop sequence), flushes its log, reports `worker.closed`, and only
   * then is terminated: a worker is never terminated while it owns a live PTY.
   */
  shutdown(): Promise<void> {
    if (this.life === 'running' && !this.shutdownSent) {
      this.shutdownSent = true;
      this.send({ type: 'worker.shutdown' });
    }
    return this.gone;
  }
}
