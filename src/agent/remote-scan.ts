/**
 * The stop sequence's process source in an agent worker: the main thread's scan (process-scan.ts),
 * asked through the worker protocol, so that however many agents stop at once, each poll interval
 * costs one pass over /proc instead of one per agent.
 */
import type { AgentIdentity, AgentProcess, ProcessSource } from '../host/process-scan.js';
import type { FromWorker } from './worker-protocol.js';

export class RemoteScan implements ProcessSource {
  private next = 0;
  private readonly waiting = new Map<number, (found: AgentProcess[]) => void>();

  constructor(private readonly post: (msg: Extract<FromWorker, { type: 'procs.scan' }>) => void) {}

  processes(id: AgentIdentity): Promise<AgentProcess[]> {
    return new Promise((resolve) => {
      const n = this.next++;
      this.waiting.set(n, resolve);
      // The leader's reap is known only here: it travels as it is now.
      this.post({ type: 'procs.scan', id: n, query: { sid: id.sid, run: id.run, agent: id.agent, leaderUnreaped: id.leaderUnreaped?.() === true } });
    });
  }

  answer(id: number, found: AgentProcess[]): void {
    this.waiting.get(id)?.(found);
    this.waiting.delete(id);
  }
}
