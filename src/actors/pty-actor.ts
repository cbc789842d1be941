/**
 * The PTY as an XState callback actor: spawns the agent under node-pty, streams its output to a
 * sink, runs the stop sequence on request, and returns its own cleanup (kill the group).
 *
 * Lossless exit (node-pty #72): on Node, node-pty can lose the last KBs of output when the child
 * exits right after writing — the master sees EIO, or node-pty destroys the socket 200 ms after
 * the exit while data is still unread. We hold the slave side open ourselves (so the master never
 * sees EIO), and when the child exits we write a unique marker into the slave: everything the
 * child wrote is ahead of it in the same queue, so once the marker comes back out of the master,
 * the output is complete. Only then is the socket destroyed and the exit reported.
 */
import { randomBytes } from 'node:crypto';
import { accessSync, closeSync, constants as fsc, openSync, statSync, writeSync } from 'node:fs';
import { delimiter, isAbsolute, join, resolve } from 'node:path';
import * as pty from 'node-pty';
import { fromCallback } from 'xstate';
import type { AgentConfig } from '../config/types.js';
import type { AgentEvent, PtyCommand } from '../machines/agent.js';
import { signalGroup, signalName, terminateGroup, waitGroupEmpty } from './process-group.js';

export interface PtySink {
  /** A new process started; its pid is also its process group id. */
  spawned(pid: number, write: (data: string | Buffer) => void): void;
  /** Raw bytes, in order. */
  data(chunk: Buffer): void;
  /** Called before the exit is reported: everything read so far must be delivered and logged. */
  flush(): Promise<void>;
  log(level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>): void;
}

/** node-pty internals the drain relies on (pinned node-pty version; covered by a regression test). */
interface PtyInternals {
  _socket: { destroy: (...args: unknown[]) => unknown };
  _pty: string;
  once: (event: string, listener: (...args: unknown[]) => void) => void;
}

const DRAIN_TIMEOUT_MS = 5000;

/** Resolves `command` like execvp would, so "not found" is a clear error instead of a crash loop. */
export function resolveCommand(command: string, cwd: string, path = process.env.PATH ?? ''): string | undefined {
  const isFile = (p: string) => {
    try {
      accessSync(p, fsc.X_OK);
      return statSync(p).isFile();
    } catch {
      return false;
    }
  };
  if (command.includes('/')) {
    const p = isAbsolute(command) ? command : resolve(cwd, command);
    return isFile(p) ? p : undefined;
  }
  for (const dir of path.split(delimiter)) if (dir && isFile(join(dir, command))) return join(dir, command);
  return undefined;
}

export function createPtyActor(agent: AgentConfig, env: Record<string, string>, sink: PtySink) {
  return fromCallback<PtyCommand>(({ sendBack: send, receive }) => {
    const sendBack = (event: AgentEvent) => send(event);
    const file = resolveCommand(agent.command, agent.cwd, env.PATH);
    if (!file) {
      // Deferred: an event sent back during the actor's own start would arrive before it is listening.
      queueMicrotask(() => sendBack({ type: 'pty.failed', message: `command not found: ${agent.command}` }));
      return () => undefined;
    }
    let term: pty.IPty;
    try {
      term = pty.spawn(file, [...agent.args], { name: 'xterm-256color', cols: agent.cols, rows: agent.rows, cwd: agent.cwd, env, encoding: null });
    } catch (err) {
      const message = (err as Error).message;
      queueMicrotask(() => sendBack({ type: 'pty.failed', message }));
      return () => undefined;
    }
    const pid = term.pid;
    const internals = term as unknown as PtyInternals;
    let slaveFd: number | null = null;
    try {
      slaveFd = openSync(internals._pty, fsc.O_RDWR | fsc.O_NOCTTY | fsc.O_NONBLOCK);
    } catch (err) {
      sink.log('warn', 'could not hold the PTY slave open; output tail may be lost on exit', { err: String(err) });
    }
    const closeSlave = () => {
      if (slaveFd !== null) {
        closeSync(slaveFd);
        slaveFd = null;
      }
    };

    // --- lossless drain -------------------------------------------------------------------
    const marker = Buffer.from(`\x1b_orchestra-drain-${randomBytes(8).toString('hex')}\x1b\\`);
    let phase: 'running' | 'draining' | 'drained' = 'running';
    let pending: Buffer = Buffer.alloc(0);
    const realDestroy = internals._socket.destroy.bind(internals._socket);
    let drainTimer: NodeJS.Timeout | undefined;
    const finishDrain = () => {
      if (phase === 'drained') return;
      phase = 'drained';
      if (drainTimer) clearTimeout(drainTimer);
      if (markerRetry) clearTimeout(markerRetry);
      closeSlave();
      realDestroy();
    };
    // node-pty calls this (after the child exits) to close the socket: wait for the drain instead.
    internals._socket.destroy = () => {
      if (phase === 'drained') return realDestroy();
      return undefined;
    };
    const originalOnce = internals.once.bind(term);
    internals.once = (event, listener) => {
      // node-pty registers its 'close' listener synchronously in its exit callback: the child is gone.
      if (event === 'close' && phase === 'running') startDrain();
      originalOnce(event, listener);
    };
    let markerSent = 0;
    let markerRetry: NodeJS.Timeout | undefined;
    /** Writes (the rest of) the marker into the slave; retried while the slave's queue is full. */
    const pushMarker = () => {
      markerRetry = undefined;
      if (phase !== 'draining') return;
      if (slaveFd === null) {
        finishDrain();
        return;
      }
      try {
        while (markerSent < marker.length) markerSent += writeSync(slaveFd, marker, markerSent, marker.length - markerSent);
      } catch (err) {
        // EAGAIN: the reader is behind and the queue is full. Reading frees room (see onData);
        // the timer covers output stopped by XOFF, until the drain timeout gives up.
        if ((err as NodeJS.ErrnoException).code === 'EAGAIN') {
          if (markerRetry === undefined && markerSent === 0) sink.log('info', 'drain: PTY queue full at exit; waiting for room to write the marker');
          markerRetry = setTimeout(pushMarker, 10);
        } else {
          finishDrain();
        }
      }
    };
    const startDrain = () => {
      phase = 'draining';
      drainTimer = setTimeout(() => {
        sink.log('warn', 'output drain timed out after exit; closing the PTY');
        flushPending();
        finishDrain();
      }, DRAIN_TIMEOUT_MS);
      pushMarker();
    };
    const flushPending = () => {
      if (pending.length > 0) sink.data(pending);
      pending = Buffer.alloc(0);
    };

    term.onData((chunk) => {
      const data = chunk as unknown as Buffer;
      if (phase !== 'draining') {
        sink.data(data);
        return;
      }
      if (markerSent < marker.length) pushMarker(); // this read made room in the queue
      pending = pending.length ? Buffer.concat([pending, data]) : data;
      const at = pending.indexOf(marker);
      if (at >= 0) {
        if (at > 0) sink.data(pending.subarray(0, at));
        pending = Buffer.alloc(0);
        finishDrain();
        return;
      }
      // Keep back what could be the start of a split marker.
      const keep = Math.min(pending.length, marker.length - 1);
      if (pending.length > keep) sink.data(pending.subarray(0, pending.length - keep));
      pending = pending.subarray(pending.length - keep);
    });

    // --- exit and stop ----------------------------------------------------------------------
    let exited = false;
    /** The stop sequence, once requested: it owns the end of the process group. */
    let stopRun: Promise<void> | undefined;
    const exitWaiters: (() => void)[] = [];
    const waitExit = (ms: number) =>
      new Promise<boolean>((res) => {
        if (exited) return res(true);
        const t = setTimeout(() => res(false), ms);
        exitWaiters.push(() => {
          clearTimeout(t);
          res(true);
        });
      });

    /** Signal the whole group, one grace period for all of it to go, then SIGKILL and verify. */
    const endGroup = async (why: string) => {
      const { signal, graceMs } = agent.stop;
      const outcome = await terminateGroup(pid, signal, graceMs);
      if (outcome === 'killed') sink.log('warn', `${why}: process group ${pid} still alive ${graceMs}ms after ${signal}; sent SIGKILL`);
      if (outcome === 'survivors') sink.log('error', `${why}: processes of group ${pid} survived SIGKILL`);
    };

    const stopSequence = async () => {
      if (agent.stop.keys && !exited) {
        term.write(agent.stop.keys);
        await waitExit(agent.stop.graceMs);
      }
      await endGroup('stop');
    };

    term.onExit(({ exitCode, signal }) => {
      exited = true;
      for (const w of exitWaiters.splice(0)) w();
      flushPending();
      const logged = sink.flush();
      void (async () => {
        // The leader is gone; its children may not be. Nothing of this run may outlive it.
        await (stopRun ?? endGroup('exit'));
        // An exit is reported only once every byte of the run is in the log file.
        await logged;
        sendBack({ type: 'pty.exit', code: signal ? null : exitCode, signal: signalName(signal) });
      })();
    });

    receive((cmd) => {
      if (cmd.type === 'pty.stop' && !stopRun) stopRun = stopSequence();
    });

    sink.spawned(pid, (data) => {
      if (!exited) term.write(data);
    });
    // Deferred for the same reason as above: the machine is still entering `live`.
    queueMicrotask(() => sendBack({ type: 'pty.spawned', pid }));

    return () => {
      // Leaving `live` any other way (worker shutdown, actor stopped): leave nothing behind.
      if (!exited) signalGroup(pid, 'SIGKILL');
      void waitGroupEmpty(pid, 2000);
      if (phase !== 'drained') {
        if (drainTimer) clearTimeout(drainTimer);
        if (markerRetry) clearTimeout(markerRetry);
        phase = 'drained';
        closeSlave();
      }
    };
  });
}
