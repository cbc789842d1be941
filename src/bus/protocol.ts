/**
 * The bus wire format (protocol version 1). One source of truth: the payload types here are what
 * the publisher encodes and what the client library decodes; docs/protocol.md describes them.
 *
 * Every message is two frames: [topic, msgpack(payload)].
 * Topics are `KIND/AGENT/` (`supervisor/` has no agent). The trailing slash makes prefix
 * subscriptions exact: `state/a/` never matches agent `ab`, `state/` matches every agent.
 */
import type { BlockedInfo, PublicState } from '../machines/agent.js';

export type { BlockedInfo };
import type { ExitInfo } from '../machines/exit.js';
import type { RestartDecision } from '../machines/restart-policy.js';
import type { TaskEvent } from '../work/task-queue.js';
import type { HeadlessResult } from '../work/headless.js';
import { pack, packr, unpack, wireInt } from './msgpack.js';

// Wire vocabulary defined beside the policies that produce it, exported with the payloads.
export type { ExitCause } from '../machines/exit.js';
export type { GiveUpReason, Strategy } from '../machines/restart-policy.js';
export type { RefusedWhy, Target as TaskTarget, TaskEvent, TaskState } from '../work/task-queue.js';
export type { HeadlessResult } from '../work/headless.js';

export const PROTOCOL_VERSION = 1;

/** Fields every payload carries. `seq` counts per topic from 1, so any subscription can see gaps. */
export interface Envelope {
  readonly v: number;
  /** The supervisor run; a new value means the supervisor restarted and seq started over. */
  readonly run: string;
  readonly agent: string;
  readonly seq: number;
  /** Milliseconds since the epoch (an integer on the wire). */
  readonly ts: number;
  /** True when this is a last-value replay for a new subscriber (same seq as the original). */
  readonly replay?: boolean;
}

/**
 * `offset`: bytes of this agent's output before this message in this supervisor run (`run`), so
 * `offset + data.length` is the next message's `offset` unless output was dropped in between.
 */
export interface OutputBody { readonly kind: 'output'; readonly offset: number; readonly data: Uint8Array }
export interface StateBody {
  readonly kind: 'state';
  readonly from: PublicState | null;
  readonly to: PublicState;
  readonly reason: string;
  readonly pid: number | null;
  /** With `to: blocked`: what the agent waits on, the screen lines (or hook text) that say so (absent when it waits for a dependency: `reason` names it). */
  readonly blocked?: BlockedInfo;
}
/** Something a human should look at: an agent blocked for `blocked.after` (then what orchestra does about it). */
export interface AlertBody extends BlockedInfo {
  readonly kind: 'alert';
  readonly alert: 'blocked';
  readonly forMs: number;
  readonly then: 'none' | 'interrupt' | 'restart';
}
export interface ExitBody extends ExitInfo {
  readonly kind: 'exit';
  readonly pid: number | null;
}
/** The restart policy's decision as it made it: the wire carries exactly its fields. */
export type RestartBody = { readonly kind: 'restart' } & RestartDecision;
/**
 * `queued` comes first for a send; every other outcome is final. `confirmed` / `unconfirmed` take
 * `delivered`'s place for an agent whose hooks report its prompts: the agent said it got the text,
 * or did not say so in time after it was typed and submitted (docs/hooks.md).
 */
export const INPUT_OUTCOMES = ['queued', 'delivered', 'confirmed', 'unconfirmed', 'timed-out', 'agent-not-running', 'refused'] as const;
export type InputOutcome = (typeof INPUT_OUTCOMES)[number];
/** What became of one input request (send, interrupt, escape); `id` is the request's correlation id. */
export interface InputBody {
  readonly kind: 'input';
  readonly id: string;
  /** `send`, `interrupt` or `escape`. */
  readonly request: 'send' | 'interrupt' | 'escape';
  readonly outcome: InputOutcome;
  readonly reason: string;
  /** Bytes of text the request carries (0 for keys). */
  readonly bytes: number;
}
/**
 * One line from the agent's sidecar socket: a valid event (`ok: true`, its `type` and the whole
 * object as `event`), or a line that was not one (`ok: false`, what was wrong, its start, its size).
 */
export type SidecarBody =
  | { readonly kind: 'sidecar'; readonly ok: true; readonly type: string; readonly event: Record<string, unknown> }
  | { readonly kind: 'sidecar'; readonly ok: false; readonly error: string; readonly excerpt: string; readonly bytes: number };
/**
 * Published when the publisher had to drop output of this topic's agent (bounded queue): of the
 * agent's output seqs after the previous report's `lastSeq` up to this one's, `dropped` were
 * dropped, carrying `droppedBytes` bytes of output (what their `offset`s skip).
 */
export interface DropsBody { readonly kind: 'drops'; readonly dropped: number; readonly droppedBytes: number; readonly lastSeq: number }
export interface SupervisorBody {
  readonly kind: 'supervisor';
  /** Lifecycle, or `log-error`: orchestra's own log file cannot be written (it supervises on). */
  readonly event: 'started' | 'stopping' | 'stopped' | 'log-error';
  readonly pid: number;
  readonly session: string;
  readonly agents: readonly string[];
  /** `log-error` only: the file and the error. */
  readonly path?: string;
  readonly error?: string;
}

/**
 * A change of a task in the queue, as the queue decided it: `queued`, `refused`, `started`,
 * `done`, `requeued`, `failed` or `cancelled`, with the task's id. On the single topic `task/`
 * (one seq over every task); the envelope's `agent` is the agent running the task, "" when none does.
 */
export type TaskBody = { readonly kind: 'task' } & TaskEvent;
/** An ephemeral agent's worktree (docs/work.md#worktrees); after reaping, what clean-up did with it. */
export interface WorktreeInfo {
  readonly path: string;
  readonly branch: string;
  readonly outcome?: 'removed' | 'branch-kept' | 'kept-dirty';
}
/**
 * An ephemeral agent's life (docs/work.md): spawned from a template, ended (its process exited, its
 * sidecar said `done` with an optional result, or it was stopped), reaped (gone from ps).
 */
export type AgentBody =
  | { readonly kind: 'agent'; readonly event: 'spawned'; readonly template: string; readonly worktree: WorktreeInfo | null }
  | {
      readonly kind: 'agent';
      readonly event: 'ended';
      readonly template: string;
      readonly how: 'exited' | 'done' | 'stopped';
      /** The `result` object of its sidecar `done` event, if any. */
      readonly result: Record<string, unknown> | null;
      /** Its process's exit when it ended by itself (`exited`, or `done` then exited before the stop); null when stopped. */
      readonly exit: { readonly code: number | null; readonly signal: string | null } | null;
    }
  | { readonly kind: 'agent'; readonly event: 'reaped'; readonly template: string; readonly worktree: WorktreeInfo | null };

/**
 * A headless run of a template (docs/work.md#headless-runs), on the topic `headless/NAME/`:
 * `started`, each structured event of its output as it arrives (`stream`, the event object as the
 * CLI printed it), a line that was not one (`skipped`), then `ended` with its result and what
 * became of its worktree. `task` is the id of the task it runs, null for a one-off spawn.
 */
export type HeadlessBody = { readonly kind: 'headless'; readonly task: string | null } & (
  | { readonly event: 'started'; readonly template: string; readonly pid: number | null; readonly worktree: WorktreeInfo | null }
  | { readonly event: 'stream'; readonly data: Record<string, unknown> }
  | { readonly event: 'skipped'; readonly why: string; readonly excerpt: string }
  | { readonly event: 'ended'; readonly template: string; readonly result: HeadlessResult; readonly worktree: WorktreeInfo | null }
);

/** Rejects a catalogue entry whose body is not of its own kind (`exit: StateBody`). */
type KindChecked<T extends { readonly [K in keyof T]: { readonly kind: K } }> = T;

/** The catalogue: each kind's body. Everything else (kinds, messages, `publish`) derives from it. */
export type Bodies = KindChecked<{
  output: OutputBody;
  state: StateBody;
  exit: ExitBody;
  restart: RestartBody;
  input: InputBody;
  sidecar: SidecarBody;
  drops: DropsBody;
  supervisor: SupervisorBody;
  alert: AlertBody;
  task: TaskBody;
  agent: AgentBody;
  headless: HeadlessBody;
}>;
export type Kind = keyof Bodies;
export type BodyOf<K extends Kind> = Bodies[K];
export type Body = BodyOf<Kind>;
export type MessageOf<K extends Kind> = Envelope & BodyOf<K>;
export type Message = MessageOf<Kind>;

/** Typed as a map from each kind to itself, so a kind missing from `Bodies`, or from here, does not compile. */
const KIND_NAMES: { readonly [K in Kind]: K } = {
  output: 'output',
  state: 'state',
  exit: 'exit',
  restart: 'restart',
  input: 'input',
  sidecar: 'sidecar',
  drops: 'drops',
  supervisor: 'supervisor',
  alert: 'alert',
  task: 'task',
  agent: 'agent',
  headless: 'headless',
};
/** Every kind, for validating names at the edge (CLI flags) and listing them. */
export const KINDS: readonly Kind[] = Object.values(KIND_NAMES);

/** Kinds that are about no one agent: each has the one topic `KIND/`, whatever the envelope's `agent`. */
export const AGENTLESS_KINDS: ReadonlySet<Kind> = new Set<Kind>(['supervisor', 'task']);

export function topicFor(kind: Kind, agent: string): string {
  return AGENTLESS_KINDS.has(kind) ? `${kind}/` : `${kind}/${agent}/`;
}

export function encode(msg: Message): Buffer {
  return pack(msg);
}

const DATA_KEY = Buffer.from([0xa4, 0x64, 0x61, 0x74, 0x61]); // fixstr "data"

/** Bytes of output in one bus message at most: what a stalled subscriber's queue is counted in. */
export const MAX_OUTPUT_MESSAGE = 64 * 1024;

/** One bus message inside an EncodedOutput buffer. */
export interface OutputPart {
  /** Offset and length of the whole msgpack message in the buffer. */
  readonly offset: number;
  readonly length: number;
  readonly seq: number;
  /** The message's `offset` field: output bytes of the agent before it. */
  readonly at: number;
  /** How many of the message's last bytes are output data. */
  readonly size: number;
}

export interface EncodedOutput {
  /** Every part's message, back to back: one allocation, transferable to another thread. */
  readonly buffer: Uint8Array;
  readonly parts: readonly OutputPart[];
}

/**
 * Encodes output bytes, given as chunks, as consecutive `output` messages of at most `maxPart`
 * bytes of data each (seq `firstSeq`, `firstSeq + 1`, …; offset `firstOffset` and on), copying the
 * bytes once, into one buffer. Same wire format as `encode`: a msgpack map whose last entry is
 * `data` as bin32.
 */
export function encodeOutput(env: Omit<Envelope, 'v' | 'replay' | 'seq'>, firstSeq: number, firstOffset: number, chunks: readonly Uint8Array[], size: number, maxPart = MAX_OUTPUT_MESSAGE): EncodedOutput {
  const count = Math.max(1, Math.ceil(size / maxPart));
  const heads: Buffer[] = [];
  let total = 0;
  // The fields `pack` would make ints, made so here: no walk over each header on the hot path.
  const ts = wireInt(env.ts);
  for (let i = 0; i < count; i++) {
    const head = packr.pack({ v: PROTOCOL_VERSION, run: env.run, agent: env.agent, seq: wireInt(firstSeq + i), ts, kind: 'output', offset: wireInt(firstOffset + i * maxPart) });
    heads.push(head);
    total += head.length + DATA_KEY.length + 5 + Math.min(maxPart, size - i * maxPart);
  }
  // Its own ArrayBuffer (transferable), not zero-filled: every byte is written below.
  const out = Buffer.allocUnsafeSlow(total);
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  const parts: OutputPart[] = [];
  let off = 0;
  let chunk = 0;
  let inChunk = 0;
  for (let i = 0; i < count; i++) {
    const head = heads[i]!;
    const partSize = Math.min(maxPart, size - i * maxPart);
    const start = off;
    out.set(head, off);
    // One more map entry (the `data` we append): fixmap 0x8N (7 entries) or map16 0xde 00 07.
    if (head[0] === 0x87) out[off] = 0x88;
    else if (head[0] === 0xde && head[1] === 0 && head[2] === 7) out[off + 2] = 8;
    else throw new Error(`unexpected msgpack map header 0x${head[0]?.toString(16)}`);
    off += head.length;
    out.set(DATA_KEY, off);
    off += DATA_KEY.length;
    out[off] = 0xc6; // bin32
    view.setUint32(off + 1, partSize);
    off += 5;
    for (let left = partSize; left > 0; ) {
      const c = chunks[chunk]!;
      const n = Math.min(left, c.length - inChunk);
      out.set(c.subarray(inChunk, inChunk + n), off);
      off += n;
      left -= n;
      inChunk += n;
      if (inChunk === c.length) {
        chunk++;
        inChunk = 0;
      }
    }
    parts.push({ offset: start, length: off - start, seq: firstSeq + i, at: firstOffset + i * maxPart, size: partSize });
  }
  return { buffer: out, parts };
}

export function decode(payload: Uint8Array): Message {
  return unpack(payload) as Message;
}
