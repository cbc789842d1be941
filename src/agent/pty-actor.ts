/**
 * The PTY as an XState callback actor: spawns the agent under node-pty, streams its output to a
 * sink (losslessly, see pty-drain.ts), ends the agent's processes on request (termination.ts: the
 * chart's `pty.stop` is the graceful sequence, `pty.kill` forces it), and returns its own cleanup
 * (kill the agent's processes).
 */
import { spawnSync } from 'node:child_process';
import { closeSync, constants as fsc, openSync } from 'node:fs';
import type * as pty from 'node-pty';
import { fromCallback } from 'xstate';
import type { AgentConfig } from '../config/types.js';
import type { AgentEvent, PtyCommand } from '../machines/agent.js';
import { resolveCommand } from '../host/command.js';
import { isolatedSpawn } from './fd-isolation.js';
import { type AgentIdentity, describeProcesses, type ProcessSource, signalName } from '../host/process-group.js';
import { Termination, type TerminationResult } from '../host/termination.js';
import { type Drain, drainLosslessly } from './pty-drain.js';
import { spawnPty } from './pty-reader.js';

/** What the host may do to a running PTY. Each is a no-op once the process has exited. */
export interface PtyIo {
  write(data: string | Buffer): void;
  resize(cols: number, rows: number): void;
  /** Whether the terminal is in line mode (ICANON), read from the PTY; undefined if unknown. */
  canonical(): boolean | undefined;
}

/** `stty -a` on the PTY's slave side (opened without becoming our controlling terminal). */
export function readCanonical(ptsName: string): boolean | undefined {
  let fd: number | undefined;
  try {
    fd = openSync(ptsName, fsc.O_RDONLY | fsc.O_NOCTTY | fsc.O_NONBLOCK);
    const r = spawnSync('stty', ['-a'], { stdio: [fd, 'pipe', 'ignore'], timeout: 2000 });
    const m = /(^|\s)(-?)icanon(\s|$)/.exec(r.stdout?.toString() ?? '');
    return m ? m[2] === '' : undefined;
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

export interface PtySink {
  /** A new process started; its pid is also its process group id. */
  spawned(pid: number, io: PtyIo): void;
  /** Raw bytes, in order: a view of the read buffer, valid only during the call (copy what you keep). */
  data(chunk: Buffer): void;
  /** Called before the exit is reported: everything read so far must be delivered and logged. */
  flush(): Promise<void>;
  log(level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>): void;
  /** Arguments for this run after the configured ones (resuming a conversation); asked once per spawn. */
  runArgs?(): readonly string[];
  /** The size to start at (its attachers' size, after a restart); the configured one by default. */
  size?(): { readonly cols: number; readonly rows: number };
  /** Where the stop sequence finds the agent's processes (by default, a scan in this thread). */
  readonly processes?: ProcessSource;
}

export function createPtyActor(agent: AgentConfig, env: Record<string, string>, sink: PtySink) {
  return fromCallback<PtyCommand>(({ sendBack: send, receive }) => {
    const sendBack = (event: AgentEvent) => send(event);
    // Deferred: an event sent back during the actor's own start would arrive before it is listening.
    const sendSoon = (event: AgentEvent) => queueMicrotask(() => sendBack(event));
    const fail = (message: string) => {
      sendSoon({ type: 'pty.failed', message });
      return () => undefined;
    };
    const file = resolveCommand(agent.command, agent.cwd, env.PATH);
    if (!file) return fail(`command not found: ${agent.command}`);
    let term: pty.IPty;
    let drain: Drain | undefined;
    const spawn = isolatedSpawn(file, [...agent.args, ...(sink.runArgs?.() ?? [])], env);
    if (!spawn.isolated) sink.log('warn', `no perl found to close inherited descriptors: agent ${agent.name} starts holding the terminals of agents started before it`);
    try {
      // Reads arrive from the next event-loop turn on, once `drain` is set.
      const { cols, rows } = sink.size?.() ?? agent;
      const options = { name: 'xterm-256color', cols, rows, cwd: agent.cwd, env: spawn.env, encoding: null };
      term = spawnPty(spawn.file, spawn.args, options, (view) => drain?.read(view));
    } catch (err) {
      return fail((err as Error).message);
    }
    const pid = term.pid;
    drain = drainLosslessly(term, sink);
    /** Whose processes this run's are: its session, and whatever carries its identity. */
    const identity: AgentIdentity = { sid: pid, run: env.ORCHESTRA_RUN, agent: env.ORCHESTRA_AGENT, leaderUnreaped: () => !exited && !drain?.childGone() };
    /** Logs how the end went, once per run; `why` names the path that asked for it. */
    const report = (why: string, { outcome, escapees, forced }: TerminationResult) => {
      const by = forced ?? why;
      if (escapees.length > 0) sink.log('warn', `${by}: ended processes that had left agent ${agent.name}'s session ${pid} but carry its identity: ${describeProcesses(escapees)}`);
      if (outcome === 'killed') {
        const what = forced === undefined ? `processes of session ${pid} still alive ${agent.stop.graceMs}ms after ${agent.stop.signal}; sent SIGKILL` : `sent SIGKILL to pid ${pid} and the agent's other processes`;
        sink.log('warn', `${by}: ${what}`);
      }
      if (outcome === 'survivors') sink.log('error', `${by}: processes of session ${pid} survived SIGKILL`);
    };

    // --- exit and stop ----------------------------------------------------------------------
    let exited = false;
    const leaderExit = new Promise<void>((res) => term.onExit(() => res()));
    const termination = new Termination(identity, agent.stop, sink.processes);
    let reported: Promise<void> | undefined;
    /**
     * Every path hands its request to the run's one termination (calling stop or force is what
     * acts); the first to ask reports how the sequence ended, forced or not, once.
     */
    const end = (sequence: Promise<TerminationResult>, why: string) => {
      reported ??= sequence.then((result) => report(why, result));
      return reported;
    };
    const keys = agent.stop.keys;

    term.onExit(({ exitCode, signal }) => {
      exited = true;
      const logged = sink.flush();
      void (async () => {
        // The leader is gone; its children may not be. Nothing of this run may outlive it.
        await end(termination.stop(), 'exit');
        // An exit is reported only once every byte of the run is in the log file.
        await logged;
        sendBack({ type: 'pty.exit', code: signal ? null : exitCode, signal: signalName(signal) });
      })();
    });

    receive((cmd) => {
      if (cmd.type === 'pty.stop') void end(termination.stop(keys ? { type: () => term.write(keys), leaderExit } : undefined), 'stop');
      else void end(termination.force(cmd.why), cmd.why);
    });

    sink.spawned(pid, {
      write: (data) => {
        if (!exited) term.write(data);
      },
      resize: (cols, rows) => {
        if (!exited) term.resize(cols, rows);
      },
      canonical: () => (exited ? undefined : readCanonical((term as unknown as { ptsName: string }).ptsName)),
    });
    sendSoon({ type: 'pty.spawned', pid });

    return () => {
      // Leaving `live` any other way (worker shutdown, actor stopped): leave nothing behind.
      // After an exit, the exit path has already ended them (and a new run may share the identity).
      if (!exited) void end(termination.force('cleanup'), 'cleanup');
      drain.stop();
    };
  });
}
