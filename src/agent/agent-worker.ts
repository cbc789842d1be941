/**
 * Worker-thread entry: hosts one agent's machine and owns its PTY, terminal model, ring buffer
 * and log file. Talks to the supervisor only through the typed messages of worker-protocol.ts.
 *
 * The worker never ends itself (process.exit in a worker that owns a PTY can abort the whole
 * process): it reports `worker.closed` and the supervisor terminates it.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parentPort, workerData } from 'node:worker_threads';
import { createActor } from 'xstate';
import { encodeOutput } from '../bus/protocol.js';
import { BLOCKED_KINDS } from '../config/vocabulary.js';
import { type AgentEvent, agentMachine, agentTiming, type Blocked, type BlockedKind, type ChartState, publicState } from '../machines/agent.js';
import { ScreenActivity } from '../machines/screen-activity.js';
import { compileSignatures, ScreenWatch } from '../machines/screen-verdict.js';
import { OutputLog } from './output-log.js';
import { activityWindowFor, OutputPipeline } from './output-pipeline.js';
import { claudeSettings, CONFIRM_MS, relayCommand } from './hooks.js';
import { InputQueue } from './input-queue.js';
import { createPtyActor, type PtyIo } from './pty-actor.js';
import { RemoteScan } from './remote-scan.js';
import { nextRun, runStarting, sessionId } from '../host/resume.js';
import { RingBuffer } from './ring-buffer.js';
import { SidecarServer } from './sidecar.js';
import { TerminalModel } from './terminal-model.js';
import { TAIL_BYTES, unfinished } from '../terminal/attach-stream.js';
import { losingStops, testFaults } from './test-faults.js';
import type { FromWorker, SidecarItem, ToWorker, WorkerInit } from './worker-protocol.js';

const port = parentPort;
if (!port) throw new Error('agent-worker must run in a worker thread');
const init = workerData as WorkerInit;
const { agent } = init;

const post = (msg: FromWorker, transfer?: ArrayBuffer[]) => port.postMessage(msg, transfer ?? []);
const log = (level: 'debug' | 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) =>
  post({ type: 'log', level, msg, ...(fields ? { fields } : {}) });

const ring = new RingBuffer(agent.log.ringSize);
const outputLog = new OutputLog(agent.log.file, agent.log.maxSize, agent.log.keep, (err) =>
  log('error', `cannot write the output log ${agent.log.file}: ${err.message}`),
);
const signatures = compileSignatures(agent.blocked.signatures, agent.readyPattern, agent.busyPattern);

/** The run's screen; made on its first output (a silent agent never loads xterm), or when asked for. */
let model: TerminalModel | undefined;
function screen(): TerminalModel {
  // A new run starts at the size the supervisor last gave (its attachers', or the configured one).
  model ??= new TerminalModel(size.cols, size.rows, (reply) => io.write(reply), checkScreenSoon, agent.log.scrollback);
  return model;
}
let outputSeq = init.outputSeq;
let outputOffset = init.outputOffset;
let io: PtyIo = { write: () => undefined, resize: () => undefined, canonical: () => undefined };
let size = init.size ?? { cols: agent.cols, rows: agent.rows };

const pipeline = new OutputPipeline({
  ring,
  log: outputLog,
  forward: (chunks, size) => {
    const { buffer, parts } = encodeOutput({ run: init.runId, agent: agent.name, ts: Date.now() }, outputSeq + 1, outputOffset, chunks, size);
    outputSeq += parts.length;
    outputOffset += size;
    post({ type: 'output', buffer, parts }, [buffer.buffer as ArrayBuffer]);
  },
  view: (chunk) => screen().write(chunk),
  detach: () => model?.detach(),
  activity: () => {
    if (!screenActivity) actor.send({ type: 'pty.output' });
  },
}, undefined, activityWindowFor(agent.busyAfterMs, agent.idleAfterMs));

const env: Record<string, string> = {};
for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v;
Object.assign(env, agent.env, {
  ORCHESTRA_AGENT: agent.name,
  ORCHESTRA_SESSION: init.session,
  // Finds this run's processes that left the agent's session (setsid, daemons) when it stops.
  ORCHESTRA_RUN: init.runId,
  ORCHESTRA_SIDECAR: agent.sidecar.path,
  TERM: 'xterm-256color',
});

// --- sidecar: events from the agent ---------------------------------------------------------------
let sidecarBatch: SidecarItem[] = [];
let sidecarFlush: NodeJS.Immediate | undefined;
function flushSidecar(): void {
  if (sidecarFlush) clearImmediate(sidecarFlush);
  sidecarFlush = undefined;
  if (sidecarBatch.length === 0) return;
  post({ type: 'sidecar', items: sidecarBatch });
  sidecarBatch = [];
}

/** Events that drive the machine; every item (valid or not) goes to the bus first, in order. */
const MACHINE_EVENTS: Record<string, 'sidecar.ready' | 'sidecar.busy' | undefined> = {
  ready: 'sidecar.ready',
  idle: 'sidecar.ready',
  busy: 'sidecar.busy',
  progress: 'sidecar.busy',
  // The agent took a prompt (claude's UserPromptSubmit): it works on it now.
  prompt: 'sidecar.busy',
};

function onSidecar(item: SidecarItem): void {
  sidecarBatch.push(item);
  if (!item.ok) {
    sidecarFlush ??= setImmediate(flushSidecar);
    return;
  }
  const blocked = item.type === 'blocked' ? blockedEvent(item.event) : undefined;
  if (blocked) {
    flushSidecar();
    actor.send(blocked);
    return;
  }
  const drives = Object.hasOwn(MACHINE_EVENTS, item.type) ? MACHINE_EVENTS[item.type] : undefined;
  const beat = item.type === 'heartbeat' || item.type === 'progress';
  if (!drives && !beat) {
    sidecarFlush ??= setImmediate(flushSidecar);
    return;
  }
  // The event is published before the state change it causes.
  flushSidecar();
  if (beat) actor.send({ type: 'sidecar.heartbeat' });
  if (drives) actor.send({ type: drives });
  if (item.type === 'prompt' && typeof item.event.text === 'string') input.prompted(item.event.text, item.event.truncated === true);
}

/** `{"type":"blocked","on":"permission","text":"…"}`: the agent (its hooks) waits for a human. */
function blockedEvent(event: Record<string, unknown>): AgentEvent | undefined {
  const on = event.on;
  if (typeof on !== 'string' || !(BLOCKED_KINDS as readonly string[]).includes(on)) return undefined;
  return { type: 'sidecar.blocked', on: on as BlockedKind, evidence: typeof event.text === 'string' ? [event.text.slice(0, 200)] : [] };
}

const sidecar = new SidecarServer(agent.sidecar.path, agent.sidecar.maxLine, onSidecar);

// One conversation for every run of this agent, with the provider's resume flags (src/host/resume.ts).
const resumeId = agent.resume ? sessionId(init.session, agent.name, agent.cwd) : undefined;
let runsStarted = 0;
function runArgs(): readonly string[] {
  return [...resumeArgs(), ...hookArgs()];
}

function resumeArgs(): readonly string[] {
  const ranBefore = runsStarted++ > 0;
  if (!agent.resume || resumeId === undefined) return [];
  const run = nextRun(agent.resume, resumeId, agent.cwd, env, ranBefore);
  try {
    runStarting(agent.resume, run, Date.now());
  } catch (err) {
    log('error', `cannot record the run's start in ${agent.resume.state} (${(err as Error).message}): its conversation will not be captured`);
  }
  if (run.note) log('warn', run.note);
  log('info', run.resumed ? `resuming conversation ${run.id}` : `new conversation ${run.id ?? '(its id is captured once the CLI saved it)'}`, { session: run.id, resumed: run.resumed });
  return run.args;
}

/**
 * claude's hooks report to the sidecar (hooks.ts): a settings file of the agent's own, beside its
 * socket, given with --settings (claude merges it with the user's settings, which stay untouched).
 * Written at every spawn, so a run never starts without it; if it cannot be written, the agent
 * runs without hooks.
 */
const settingsFile = join(dirname(agent.sidecar.path), `${agent.name}.claude-settings.json`);
const relay = fileURLToPath(new URL('./hook-relay.js', import.meta.url));
// Under Deno, process.execPath is deno, which runs a script with `run -A`.
const runtime = 'Deno' in globalThis ? [process.execPath, 'run', '-A'] : [process.execPath];
function hookArgs(): readonly string[] {
  if (agent.hooks !== 'claude') return [];
  try {
    mkdirSync(dirname(settingsFile), { recursive: true, mode: 0o700 });
    writeFileSync(settingsFile, `${JSON.stringify(claudeSettings((event) => relayCommand(runtime, relay, event)), null, 2)}\n`, { mode: 0o600 });
  } catch (err) {
    log('error', `cannot write claude's hook settings ${settingsFile}: ${(err as Error).message}; the agent runs without hooks`);
    return [];
  }
  return ['--settings', settingsFile];
}

const processes = new RemoteScan(post);
const ptyActor = createPtyActor(agent, env, {
  processes,
  runArgs,
  size: () => size,
  spawned(pid, ptyIo) {
    io = ptyIo;
    model?.close();
    model = undefined;
    // A new run's chart starts with no verdict: the same screen as the last run's end is news to it.
    watch.reset();
    screenActivity?.reset();
    post({ type: 'spawned', pid });
    injectFault();
  },
  data: (chunk) => pipeline.push(chunk),
  flush: () => {
    pipeline.flush();
    return outputLog.drained();
  },
  log,
});

/**
 * Test hook: ORCHESTRA_TEST_FAULT=worker-crash:AGENT makes the first worker of AGENT throw right
 * after its PTY spawned, so the supervisor's worker-crash recovery can be tested end to end.
 */
function injectFault(): void {
  if (process.env.ORCHESTRA_TEST_FAULT === `worker-crash:${agent.name}` && !init.replacement) {
    setImmediate(() => {
      throw new Error('injected worker crash (ORCHESTRA_TEST_FAULT)');
    });
  }
}

/**
 * What the rendered screen says (blocked on a dialog, ready, nothing), told to the chart when it
 * changes: the chart decides once it has held. The byte stream is never matched, only the screen.
 */
const watch = new ScreenWatch(signatures);
/** `activity.from: screen`: output is activity only once the screen shows it (src/machines/screen-activity.ts). */
const screenActivity = agent.activity.from === 'screen' ? new ScreenActivity(agent.activity.ignore) : undefined;
/** Without blocked or busy signatures, the screen matters only while a ready pattern can still decide. */
const screenAlwaysMatters = signatures.blocked.length > 0 || signatures.busy !== undefined;
/**
 * Reading the screen costs ~0.15 ms (its text, then the signatures): after a burst of parsed
 * batches it is read once, at most every SCREEN_CHECK_MS, and always after the last batch. A
 * verdict is then seen that much later, well inside the time it must hold.
 */
const SCREEN_CHECK_MS = 40;
let lastScreenCheck = 0;
let screenCheckTimer: NodeJS.Timeout | undefined;
function checkScreenSoon(): void {
  if (screenCheckTimer) return;
  const wait = lastScreenCheck + SCREEN_CHECK_MS - Date.now();
  if (wait <= 0) return checkScreen();
  screenCheckTimer = setTimeout(() => {
    screenCheckTimer = undefined;
    checkScreen();
  }, wait);
}

function checkScreen(): void {
  lastScreenCheck = Date.now();
  if (!model) return;
  if (screenActivity?.changed(model.screenText())) actor.send({ type: 'pty.output' });
  if (!screenAlwaysMatters) {
    if (!signatures.ready) return;
    const now = publicState(actor.getSnapshot().value);
    if (now !== 'starting' && now !== 'blocked') return;
  }
  const verdict = watch.news(model.screenText());
  if (verdict) actor.send({ type: 'screen.seen', verdict });
}

const input = new InputQueue(agent.input, {
  write: (data) => io.write(data),
  pasteMode: () => model?.pasteMode ?? false,
  canonical: () => io.canonical(),
  submitted: () => actor.send({ type: 'input.submitted' }),
  outcome: (id, outcome, reason) => post({ type: 'input.outcome', id, outcome, reason }),
  progress: (id, outcome, reason) => post({ type: 'input.progress', id, outcome, reason }),
}, agent.hooks === 'claude' ? { timeoutMs: CONFIRM_MS, screen: () => model?.screenText() ?? '' } : undefined);

const faults = testFaults(agent.name);
const pty = faults.has('lose-stop') ? losingStops(ptyActor) : ptyActor;
/** blocked.after passed: the bus says so (and how long, on what); an interrupt if so configured. */
function escalate(blocked: Blocked | null): void {
  if (!blocked) return;
  post({ type: 'escalation', on: blocked.on, evidence: blocked.evidence, forMs: agent.blocked.afterMs, then: agent.blocked.then });
  if (agent.blocked.then === 'interrupt') io.write('\x03');
}

const actor = createActor(agentMachine.provide({ actors: { pty }, actions: { escalate: ({ context }) => escalate(context.blocked) } }), { input: agentTiming(agent) });

let last: ChartState | null = null;
/** What the last published `blocked` was on (a change of dialog is news too). */
let lastBlocked: string | undefined;
/** The host's own lifecycle (the agent's is the chart): serving until asked to shut down. */
let host: 'serving' | 'shutting-down' | 'closed' = 'serving';

actor.subscribe((snap) => {
  const to = publicState(snap.value);
  const b = to === 'blocked' ? snap.context.blocked : null;
  // Another dialog is news; the same one redrawn (a "Retrying in Ns" countdown) is not.
  const on = b?.on;
  if (to === last && on === lastBlocked) return;
  last = to;
  lastBlocked = on;
  const blocked = b ? { on: b.on, evidence: b.evidence, ...(b.resets ? { resets: b.resets } : {}) } : undefined;
  post({ type: 'state', to, reason: snap.context.reason, pid: snap.context.pid, ...(blocked ? { blocked } : {}) });
  input.stateChanged(to, b?.on);
  if (to === 'exited' && snap.context.exit) {
    const { code, signal, cause } = snap.context.exit;
    const { screen } = snap.context.exit;
    post({ type: 'exit', pid: snap.context.pid, code, signal, cause, ...(screen ? { screen } : {}) });
    if (host === 'shutting-down') actor.send({ type: 'agent.stop' });
  }
  if (host === 'shutting-down' && to === 'stopped') close();
});

function close(): void {
  if (host === 'closed') return;
  host = 'closed';
  pipeline.close();
  flushSidecar();
  input.close();
  clearTimeout(screenCheckTimer);
  actor.stop();
  model?.close();
  void Promise.all([outputLog.close(), sidecar.close()]).then(() => post({ type: 'worker.closed' }));
}

port.on('message', (msg: ToWorker) => {
  if (faults.has('deaf-worker') && (msg.type === 'worker.shutdown' || msg.type === 'agent.stop')) return;
  if (msg.type === 'worker.shutdown') {
    host = 'shutting-down';
    if (publicState(actor.getSnapshot().value) === 'stopped') close();
    else actor.send({ type: 'agent.stop' });
    return;
  }
  switch (msg.type) {
    case 'input.send':
      return input.send(msg);
    case 'input.key':
      return input.key(msg.id, msg.data);
    case 'input.raw':
      input.raw(Buffer.from(msg.data));
      return;
    case 'resize':
      size = { cols: msg.cols, rows: msg.rows };
      io.resize(msg.cols, msg.rows);
      model?.resize(msg.cols, msg.rows);
      return;
    case 'supervisor.state':
      input.stateChanged(msg.to);
      return;
    case 'procs.found':
      processes.answer(msg.id, msg.found);
      return;
    case 'screen.read': {
      // Forward what is pending first: the screen is then the one the output up to outputSeq draws.
      pipeline.flush();
      if (msg.format !== 'attach') {
        post({ type: 'screen', id: msg.id, data: screen().screen({ scrollback: msg.scrollback, ansi: msg.format === 'ansi' }), seq: outputSeq, ...size });
        return;
      }
      const tail = new Uint8Array(unfinished(ring.tail(TAIL_BYTES)));
      post({ type: 'screen', id: msg.id, data: screen().snapshot(), seq: outputSeq, ...size, tail }, [tail.buffer as ArrayBuffer]);
      return;
    }
    case 'ring.read': {
      // Forward what is pending first: the ring then holds exactly the output up to outputSeq.
      pipeline.flush();
      const data = ring.tail(msg.bytes);
      post({ type: 'ring', id: msg.id, data, seq: outputSeq, total: ring.total, ...size }, [data.buffer as ArrayBuffer]);
      return;
    }
    default:
      actor.send(msg);
  }
});

// The agent may report from its first instant: listen before it is spawned.
sidecar.listen().then(
  () => actor.start(),
  (err: Error) => {
    log('error', `cannot listen on the sidecar socket ${agent.sidecar.path}: ${err.message}; the agent runs without sidecar events`);
    actor.start();
  },
);
