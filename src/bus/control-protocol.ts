/**
 * The control protocol (version 1): requests to a running supervisor and its replies, over a
 * ZeroMQ ROUTER socket. One source of truth: these schemas validate what arrives, the types are
 * what the client library sends, docs/control.md describes both.
 *
 * Request: one msgpack frame `{id, cmd, args}` (a REQ client puts an empty delimiter frame first;
 * see control-frames.ts). Strings must be valid UTF-8 (control-utf8.ts).
 * Reply:   `{id, ok: true, result}` or `{id, ok: false, error: {code, message}}`.
 */
import { z } from 'zod';
import { orchestraConfigSchema } from '../config/types.js';
import type { ReloadPlan } from '../machines/reconfigure.js';
import type { Role } from '../machines/supervision.js';
import type { BlockedInfo, ExitCause, PublicState } from '../machines/agent.js';
import type { RefusedWhy, TaskStatus } from '../work/task-queue.js';
import type { InputOutcome, Message } from './protocol.js';

export const CONTROL_VERSION = 1;
/** Requests larger than this get a `too-large` error (the socket drops frames beyond MAX_FRAME). */
export const MAX_REQUEST_BYTES = 1024 * 1024;
export const MAX_FRAME_BYTES = 8 * 1024 * 1024;

export const ERROR_CODES = ['bad-request', 'unknown-command', 'unknown-agent', 'too-large', 'not-running', 'shutting-down', 'overloaded', 'internal'] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

export class ControlError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
  }
}

const agent = z.string({ error: 'expected args.agent: an agent name (string)' });
const id = z.string().min(1).max(128).optional();
const attachId = z.string({ error: 'expected args.attach: the id the attach request returned' }).min(1).max(64);
const cols = z.number({ error: 'expected a number of columns' }).int().min(2).max(1000);
const rows = z.number({ error: 'expected a number of rows' }).int().min(2).max(1000);

/** The task queue's requests (docs/work.md, "Tasks"), part of REQUESTS. */
export const TASK_REQUESTS = {
  /** Queues a task for a template (an ephemeral agent per task) or a pool (a send to its first ready agent). */
  'task.add': z
    .strictObject({
      template: z.string({ error: 'expected args.template: a template name (string)' }).min(1).optional(),
      pool: z.string({ error: 'expected args.pool: a pool name (string)' }).min(1).optional(),
      prompt: z.string({ error: 'expected args.prompt: the task (string)' }),
      priority: z.number({ error: 'expected args.priority: an integer (lower runs first)' }).int().min(-1_000_000).max(1_000_000).default(0),
      key: z.string({ error: 'expected args.key: a de-duplication key (string)' }).min(1).max(256).optional(),
      vars: z.record(z.string().min(1), z.string(), { error: 'expected args.vars: a map of variable names to strings' }).default({}),
      /** Default: the template's or pool's `attempts:` (1 when it has none). */
      attempts: z.number({ error: 'expected args.attempts: an integer from 1 to 100' }).int().min(1).max(100).optional(),
    })
    .refine((a) => (a.template === undefined) !== (a.pool === undefined), { error: 'expected exactly one of template (spawn an agent per task) and pool (send to a ready agent of the pool)' }),
  /** The status snapshot; `recent`: finished tasks to include, newest first. */
  'task.list': z.strictObject({ recent: z.number().int().min(0).max(1000).default(20) }),
  /** Cancels a queued or running task (a running one's agent is interrupted: a send, or stopped: a spawn). */
  'task.cancel': z.strictObject({ id: z.string({ error: 'expected args.id: a task id' }).min(1).max(128) }),
} as const;

/** Arguments per command; unknown keys are errors, as in the config. */
export const REQUESTS = {
  ps: z.strictObject({}),
  send: z.strictObject({
    agent,
    text: z.string({ error: 'expected args.text: the text to type (string)' }),
    mode: z.enum(['wait-idle', 'now']).default('wait-idle'),
    timeout_ms: z.number().int().min(0).max(86_400_000).default(30_000),
    /** Correlation id for the bus `input` messages (default: generated). */
    id,
  }),
  interrupt: z.strictObject({ agent, id }),
  escape: z.strictObject({ agent, id }),
  /** Raw keystrokes from an attacher (`attach`: its attachment, which typing makes the latest active). */
  input: z.strictObject({ agent, data: z.instanceof(Uint8Array, { error: 'expected args.data: bytes (msgpack bin)' }), attach: attachId.optional() }),
  /** An attachment's terminal size (`attach`), or the agent's own size when no driver is attached. */
  resize: z.strictObject({ agent, cols, rows, attach: attachId.optional() }),
  /** Attaches a terminal of this size: the agent's screen drawn for it, and the output seq it shows. */
  attach: z.strictObject({ agent, cols, rows, read_only: z.boolean({ error: 'expected args.read_only: true or false' }).default(false) }),
  detach: z.strictObject({ agent, attach: attachId }),
  /** Renews an attachment's lease (it ends LEASE_MS after the last renewal). */
  keepalive: z.strictObject({ agent, attach: attachId }),
  /** The rendered screen: `text` (lines, trailing spaces trimmed) or `ansi` (with colours). */
  screen: z.strictObject({
    agent,
    format: z.enum(['text', 'ansi']).default('text'),
    scrollback: z.number().int().min(0).max(100_000).default(0),
  }),
  logs: z.strictObject({ agent, bytes: z.number().int().min(0).max(64 * 1024 * 1024).default(64 * 1024) }),
  stop: z.strictObject({ agent }),
  start: z.strictObject({ agent }),
  /** Starts an ephemeral agent from a template (docs/work.md). */
  /** Applies a changed config (resolved by the client, which checked it) to the running crew. */
  reload: z.strictObject({ config: orchestraConfigSchema }),
  spawn: z.strictObject({
    template: z.string({ error: 'expected args.template: a template name (string)' }),
    name: z.string({ error: 'expected args.name: an agent name (string)' }).optional(),
    vars: z.record(z.string(), z.string({ error: 'expected args.vars values: strings' }), { error: 'expected args.vars: a mapping of variable: value' }).optional(),
    prompt: z.string({ error: 'expected args.prompt: text (string)' }).optional(),
  }),
  restart: z.strictObject({ agent }),
  down: z.strictObject({}),
  /** Sidecar events kept for catch-up (`sidecar.keep` per agent). */
  events: z.strictObject({ agent: agent.optional(), n: z.number().int().min(0).max(100_000).default(100) }),
  ...TASK_REQUESTS,
  /** The agent of on-demand session `id`, cold-started from its template when it does not run (docs/work.md#sessions). */
  'session.get': z.strictObject({
    id: z.string({ error: 'expected args.id: the session id (string)' }),
    template: z.string({ error: 'expected args.template: a template name (string)' }).optional(),
    vars: z.record(z.string(), z.string({ error: 'expected args.vars values: strings' }), { error: 'expected args.vars: a mapping of variable: value' }).optional(),
    prompt: z.string({ error: 'expected args.prompt: text (string)' }).optional(),
    /** How long the prompt may wait to be delivered, as `send`'s. */
    timeout_ms: z.number().int().min(0).max(86_400_000).default(30_000),
  }),
} as const;


export interface TaskResults {
  /** Queued (with its place in the queue) or refused (a duplicate key, a full queue): a task gets an id either way. */
  'task.add': { readonly id: string; readonly outcome: 'queued'; readonly position: number } | { readonly id: string; readonly outcome: 'refused'; readonly why: RefusedWhy; readonly reason: string };
  'task.list': TaskStatus;
  /** `cancelled: false`: no task with that id is queued or running (it ended, or never was). */
  'task.cancel': { readonly id: string; readonly cancelled: true; readonly was: 'queued' | 'started' } | { readonly id: string; readonly cancelled: false; readonly reason: string };
}

export type Command = keyof typeof REQUESTS;
export type Args<C extends Command> = z.output<(typeof REQUESTS)[C]>;
/** What a client passes (defaults may be left out). */
export type ArgsIn<C extends Command> = z.input<(typeof REQUESTS)[C]>;

export interface AgentStatus {
  readonly name: string;
  readonly state: PublicState | 'pending';
  readonly pid: number | null;
  /** When the current run's process started (ms since the epoch), null when none runs. */
  readonly startedAt: number | null;
  /** Restarts decided by policy since the supervisor started. */
  readonly restarts: number;
  readonly lastOutputAt: number | null;
  /** Why the agent is in its state: the reason of its last state change (`dead`: the restart policy's decision). */
  readonly reason: string | null;
  /**
   * How the last run ended: an exit (`cause` says whether orchestra caused it, or `spawn-failed`:
   * it never started, `code` and `signal` null) or `stopped` on purpose; `reason` in words.
   */
  readonly lastExit: {
    readonly code: number | null;
    readonly signal: string | null;
    readonly at: number;
    readonly cause: ExitCause | 'stopped';
    readonly reason: string | null;
  } | null;
  /** Sends accepted and not yet delivered or failed. */
  readonly queued: number;
  /** `crew` (from the config, restarted by policy), `ephemeral` (spawned from a template) or `session` (an on-demand session's; docs/work.md). */
  readonly role: Role | 'session';
  /** While `blocked`: on what, since when (ms since the epoch), and the evidence. */
  readonly blocked?: BlockedInfo & { readonly since: number };
}

export interface AttachResult {
  readonly attach: string;
  /** Draws the agent's screen, with its modes, on a cleared terminal of the agent's size (UTF-8). */
  readonly screen: string;
  /** The output seq the screen is of: live output follows from `seq + 1`. */
  readonly seq: number;
  /**
   * The end of the output up to `seq` that a terminal still holds unfinished (an open escape
   * sequence, part of a UTF-8 character): to be read before the output after `seq`, which finishes it.
   */
  readonly tail: Uint8Array;
  /** The agent's size now (after this attacher's, for a driver). */
  readonly cols: number;
  readonly rows: number;
  readonly state: PublicState | 'pending';
  /** Renew the attachment (keepalive) at least this often. */
  readonly lease_ms: number;
}

export interface ReloadResult {
  /** Every agent of either config: created, recreated (and why), removed or unchanged. */
  readonly actions: ReloadPlan['actions'];
  /** Agents the plan could not be carried out for, and why (they are as the error left them). */
  readonly failed: readonly { readonly agent: string; readonly error: string }[];
  /** Settings that only a new session applies (`session`, `bus`, `log`, `supervision`): not applied. */
  readonly not_applied: readonly string[];
}

export interface InputResult {
  readonly id: string;
  readonly outcome: Exclude<InputOutcome, 'queued'>;
  readonly reason: string;
}

interface CrewResults {
  ps: { readonly session: string; readonly pid: number; readonly run: string; readonly agents: readonly AgentStatus[] };
  send: InputResult;
  interrupt: InputResult;
  escape: InputResult;
  input: { readonly written: boolean };
  /** The agent's size after it (which the size rule may keep different from the one asked for). */
  resize: { readonly cols: number; readonly rows: number };
  attach: AttachResult;
  detach: { readonly detached: boolean };
  keepalive: { readonly attached: boolean };
  screen: { readonly text: string; readonly seq: number; readonly cols: number; readonly rows: number };
  logs: { readonly data: Uint8Array; readonly seq: number; readonly total: number; readonly cols: number; readonly rows: number };
  stop: { readonly state: PublicState | 'pending' };
  start: { readonly state: PublicState | 'pending' };
  /** The agent's name, and its worktree if its template has one. */
  reload: ReloadResult;
  spawn: { readonly name: string; readonly worktree: { readonly path: string; readonly branch: string } | null };
  restart: { readonly state: PublicState | 'pending' };
  down: { readonly stopped: readonly string[] };
  events: { readonly events: readonly Message[] };
}

interface SessionResults {
  'session.get': {
    /** The session's agent: named by its id. */
    readonly agent: string;
    readonly template: string;
    /** This request started it (false: it ran, or the request waited on another's cold start). */
    readonly started: boolean;
    readonly state: PublicState | 'pending';
    /** The provider's conversation (a UUIDv5 of the session, the id and the cwd); null when the CLI chooses it, or the template has no `resume:`. */
    readonly conversation: string | null;
    /** The prompt's outcome, as `send` answers; null without a prompt. */
    readonly prompt: InputResult | null;
  };
}

export interface Results extends CrewResults, TaskResults, SessionResults {}

export type Reply<C extends Command = Command> =
  | { readonly id: unknown; readonly ok: true; readonly result: Results[C] }
  | { readonly id: unknown; readonly ok: false; readonly error: { readonly code: ErrorCode; readonly message: string } };
