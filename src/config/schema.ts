/**
 * The config file's schema. Raw YAML values are validated here once; everything past
 * `loadConfig` works with the frozen, fully-defaulted `OrchestraConfig`.
 *
 * Each issue's message states what was expected; the loader appends what was found and
 * where, so messages stay uniform: `file:line:col: key.path: expected …, found …`.
 */
import { z } from 'zod';
import { parseDuration, parseSize } from './duration.js';
import { BLOCKED_KINDS } from './vocabulary.js';
import { HEADLESS_OUTPUTS } from './headless.js';

export const AGENT_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;
export const SIGNALS = ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGQUIT', 'SIGKILL', 'SIGUSR1', 'SIGUSR2'] as const;
export const RESTART_MODES = ['no', 'on-failure', 'always'] as const;
export const BRACKETED_PASTE = ['auto', 'always', 'never'] as const;
/** OTP's group strategies: which agents a crash restarts (see docs/config.md#supervision). */
export const STRATEGIES = ['one_for_one', 'one_for_all', 'rest_for_one'] as const;
export { BLOCKED_KINDS };
/** What orchestra does once an agent has been blocked for `blocked.after`. */
export const BLOCKED_ESCALATIONS = ['none', 'interrupt', 'restart'] as const;
/** What counts as an agent's activity (see docs/config.md#activity). */
export const ACTIVITY_SOURCES = ['output', 'screen'] as const;
/** Hook dialects orchestra can install for an agent (see docs/config.md#hooks). */
export const HOOKS = ['claude'] as const;
/** How a template's agent runs: in a terminal, or once per prompt without one (docs/work.md#headless-runs). */
export const TEMPLATE_MODES = ['interactive', 'headless'] as const;
export { HEADLESS_OUTPUTS };
/** `provider: auto`: the first installed and authenticated provider of `providers.order`. */
export const AUTO_PROVIDER = 'auto';
/** The order `provider: auto` tries, unless the file's `providers.order` says another. */
export const DEFAULT_PROVIDER_ORDER = ['claude', 'codex', 'gemini'] as const;

/** One of a few words, the message listing them the way users write them. */
function oneOf<const T extends readonly [string, ...string[]]>(values: T) {
  return z.enum(values, { error: `expected one of ${values.map((v) => `"${v}"`).join(', ')}` });
}

/** The longest delay a Node timer takes (2^31 − 1 ms, about 596 h); a longer one fires after 1 ms. */
export const MAX_DURATION_MS = 2 ** 31 - 1;

const duration = z
  .string({ error: 'expected a duration such as "500ms", "2s" or "5m"' })
  .transform((text, ctx) => {
    const ms = parseDuration(text);
    if (ms === undefined) {
      ctx.addIssue({ code: 'custom', message: 'expected a duration such as "500ms", "2s" or "5m"' });
      return z.NEVER;
    }
    if (ms > MAX_DURATION_MS) {
      ctx.addIssue({ code: 'custom', message: `expected a duration of at most 596h (${MAX_DURATION_MS}ms, the longest timer Node keeps; a longer one would fire at once)` });
      return z.NEVER;
    }
    return ms;
  });

/** Shown as "1s" / "100ms" in messages, the way users write durations. */
function showMs(ms: number): string {
  return ms >= 1000 && ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

/**
 * A duration with a floor. Values below it do not mean "very fast", they break a mechanism (a
 * budget window of 0 never counts a restart; a ready timeout of 0 aborts every run): `why` says how.
 * With `offAtZero`, 0 is allowed and means the feature is off.
 */
function durationAtLeast(minMs: number, why: string, opts: { offAtZero?: boolean } = {}) {
  return duration.superRefine((ms, ctx) => {
    if (ms >= minMs || (opts.offAtZero === true && ms === 0)) return;
    const off = opts.offAtZero === true ? ' (or 0 to turn it off)' : '';
    ctx.addIssue({ code: 'custom', message: `expected a duration of at least ${showMs(minMs)}${off}: ${why}` });
  });
}

/** Floors of the duration keys, with the reason each is needed (see docs/config.md). */
export const DURATION_FLOORS = {
  budgetWindowMs: 1000,
  resetAfterMs: 1000,
  readyTimeoutMs: 100,
  idleAfterMs: 50,
  busyAfterMs: 10,
  stopGraceMs: 100,
  hangTimeoutMs: 100,
  headlessTimeoutMs: 100,
} as const;

const size = z
  .union([z.number().int().nonnegative(), z.string()], { error: 'expected a size such as "10MiB" or 1048576' })
  .transform((v, ctx) => {
    const bytes = typeof v === 'number' ? v : parseSize(v);
    if (bytes === undefined) {
      ctx.addIssue({ code: 'custom', message: 'expected a size such as "10MiB" or 1048576' });
      return z.NEVER;
    }
    return bytes;
  });

const exitCode = z.number({ error: 'expected an exit code (integer 0-255)' }).int().min(0).max(255);

const regex = z.string({ error: 'expected a regular expression string' }).transform((src, ctx) => {
  try {
    return new RegExp(src, 'm');
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: `expected a valid regular expression (${(err as Error).message})` });
    return z.NEVER;
  }
});

/** A screen signature: one pattern, or a list of them (each one a signature of its own). */
const patterns = z.preprocess(
  (v) => (typeof v === 'string' ? [v] : v),
  z.array(regex, { error: 'expected a regular expression string or a list of them' }),
);

/** Screens an agent waits on a human at, and what to do when it waits too long. */
const blocked = z.strictObject({
  hold: duration.optional(),
  after: duration.optional(),
  then: oneOf(BLOCKED_ESCALATIONS).optional(),
  // A record, not an object: it keeps the file's order, and a preset lists specific screens before generic ones.
  signatures: z
    .partialRecord(oneOf(BLOCKED_KINDS), patterns, { error: `expected kinds ${BLOCKED_KINDS.join(', ')}, each with a pattern or a list of patterns` })
    .optional(),
});

const ROWS = 'expected a row (1 the first, -1 the last) or a range of rows such as "1-3" or "-2--1"';

/** `rows: 2`, `rows: -1`, `rows: "1-3"`, `rows: "-3--1"`: 1-based, negative counts from the bottom, 0 is no row. */
const rows = z.union([z.number(), z.string()], { error: ROWS }).transform((v, ctx) => {
  const m = /^(-?\d+)(?:-(-?\d+))?$/.exec(String(v).replace(/\s+/g, ''));
  const from = Number(m?.[1]);
  const to = m?.[2] === undefined ? from : Number(m[2]);
  if (!m || from === 0 || to === 0) {
    ctx.addIssue({ code: 'custom', message: ROWS });
    return z.NEVER;
  }
  // Of the same sign, the order is known now; "2--1" (row 2 to the last) depends on the screen's height.
  if (Math.sign(from) === Math.sign(to) && from > to) {
    ctx.addIssue({ code: 'custom', message: `expected a range from the upper row to the lower one ("${to}-${from}")` });
    return z.NEVER;
  }
  return { from, to };
});

/** Screen regions whose changes are not activity: rows, or lines matching a pattern. */
const ignoreRegion = z.strictObject({ rows: rows.optional(), lines: regex.optional() }).transform((r, ctx): { rows: { from: number; to: number } } | { lines: RegExp } => {
  if (r.rows !== undefined && r.lines === undefined) return { rows: r.rows };
  if (r.lines !== undefined && r.rows === undefined) return { lines: r.lines };
  ctx.addIssue({ code: 'custom', message: 'expected either `rows` or `lines` (one region per entry)' });
  return z.NEVER;
});

/** What counts as activity (output that makes a ready agent busy and keeps a busy one busy); `activity: screen` is `{from: screen}`. */
const activity = z.preprocess(
  (v) => (typeof v === 'string' ? { from: v } : v),
  z.strictObject(
    {
      from: oneOf(ACTIVITY_SOURCES).optional(),
      ignore: z.array(ignoreRegion, { error: 'expected a list of regions, each `rows: …` or `lines: …`' }).optional(),
    },
    { error: 'expected output, screen, or a mapping with `from` and `ignore`' },
  ),
);

/** A restart budget (OTP's intensity and period): an agent's own, or the crew's under `supervision`. */
const budget = z.strictObject({
  max_restarts: z.number({ error: 'expected a whole number >= 0' }).int().min(0).optional(),
  window: durationAtLeast(DURATION_FLOORS.budgetWindowMs, 'restarts older than the window are forgotten, so a shorter one never fills the budget and a crash loop restarts forever').optional(),
});

/** Exponential backoff with jitter: a restart's delay, and a failed task's before it is tried again. */
const backoff = z.strictObject({
  initial: duration.optional(),
  factor: z.number({ error: 'expected a number >= 1' }).min(1, { error: 'expected a number >= 1' }).optional(),
  max: duration.optional(),
  jitter: z
    .number({ error: 'expected a fraction between 0 and 1' })
    .min(0, { error: 'expected a fraction between 0 and 1' })
    .max(1, { error: 'expected a fraction between 0 and 1' })
    .optional(),
});

const restartObject = z.strictObject({
  policy: oneOf(RESTART_MODES).optional(),
  success_codes: z.array(exitCode, { error: 'expected a list of exit codes' }).optional(),
  no_restart_codes: z.array(exitCode, { error: 'expected a list of exit codes' }).optional(),
  backoff: backoff.optional(),
  reset_after: durationAtLeast(DURATION_FLOORS.resetAfterMs, 'a run this long resets the backoff; a shorter one would reset it after every crash and the delay would never grow').optional(),
  budget: budget.optional(),
  /** Whether a restarted run resumes the agent's conversation (when the agent has `resume:`). */
  resume: z.boolean({ error: 'expected true or false' }).optional(),
});

/** `restart: always` is shorthand for `restart: {policy: always}`; `false` is what a compose user means by "no". */
const restart = z.preprocess((v, ctx) => {
  if (v === false) ctx.addIssue({ code: 'custom', input: v, message: `expected one of ${RESTART_MODES.map((m) => `"${m}"`).join(', ')} (to never restart, write restart: "no")` });
  return typeof v === 'string' ? { policy: v } : v;
}, restartObject);

const args = z.array(z.string({ error: 'expected a string argument' }), { error: 'expected a list of strings' });

const field = z.string({ error: 'expected a field of a JSON line (a dotted path, as payload.id)' });

/** Files of the agent's CLI: a path pattern, and fields their first line (JSON) must have. */
const sessionFiles = {
  files: z.string({ error: 'expected a path pattern (string)' }),
  header: z.record(z.string(), z.string({ error: 'expected the value (string) the field must have' }), { error: 'expected a mapping of field: value' }).optional(),
};

/** Where the CLI keeps the conversation of an id orchestra gave it: a path (`transcript: PATH`) or a search. */
const transcript = z.preprocess(
  (v) => (typeof v === 'string' ? { files: v } : v),
  z.strictObject(
    {
      ...sessionFiles,
      message: z
        .record(z.string(), z.array(z.string({ error: 'expected a value (string)' }), { error: 'expected a list of values' }), { error: 'expected a mapping of field: [values]' })
        .optional(),
      remove_empty: z.boolean({ error: 'expected true or false' }).optional(),
    },
    { error: 'expected a path template (string) or a mapping with files:' },
  ),
);

/** For a CLI that chooses the conversation's id itself: where orchestra finds it after the start. */
const capture = z.strictObject({ ...sessionFiles, id: field, started: field.optional() });

/** How the agent's CLI starts a conversation with a given id and resumes it (`{id}` is replaced). */
const resume = z
  .strictObject({
    start: args,
    again: args,
    transcript: transcript.optional(),
    capture: capture.optional(),
  })
  .superRefine((r, ctx) => {
    if (r.capture === undefined) return;
    if (r.transcript !== undefined) ctx.addIssue({ code: 'custom', path: ['capture'], message: 'expected either transcript (an id orchestra gives) or capture (an id the CLI chooses), not both' });
    const i = r.start.findIndex((a) => a.includes('{id}'));
    if (i >= 0) ctx.addIssue({ code: 'custom', path: ['start', i], message: 'expected no {id} in start with capture: the CLI chooses the id, known only after the run started' });
  });

/** `worktree: true`, or where and on which branch (docs/work.md#worktrees). */
const worktree = z.union(
  [
    z.boolean(),
    z.strictObject({
      branch: z.string({ error: 'expected a branch name pattern such as "work/{{name}}"' }).min(1).optional(),
      base: z.string({ error: 'expected a git ref (branch, tag or commit) to branch from' }).min(1).optional(),
      root: z.string({ error: 'expected a directory path' }).optional(),
    }),
  ],
  { error: 'expected true, false, or a mapping with branch, base and root' },
);

/** Every per-agent setting, all optional: used for `defaults:` and for each agent. */
export const agentFields = z.strictObject({
  provider: z.string({ error: 'expected a provider name (string)' }).optional(),
  command: z.string({ error: 'expected a command (string)' }).min(1, { error: 'expected a non-empty command' }).optional(),
  args: args.optional(),
  cwd: z.string({ error: 'expected a directory path' }).optional(),
  env: z
    .record(z.string().regex(/^[^=\0]+$/, { error: 'expected a variable name without "=" (write NAME: value, not NAME=value)' }), z.string({ error: 'expected a string value (quote numbers)' }), {
      error: 'expected a mapping of NAME: value',
    })
    .optional(),
  /** Files of NAME=value lines (a .env's format) whose values the agent gets; `env:` wins over them. */
  env_file: z.union([z.string(), z.array(z.string())], { error: 'expected a file path or a list of them' }).optional(),
  cols: z.number({ error: 'expected a whole number of columns' }).int().min(10).max(1000).optional(),
  rows: z.number({ error: 'expected a whole number of rows' }).int().min(2).max(1000).optional(),
  restart: restart.optional(),
  ready: z
    .strictObject({
      pattern: regex.optional(),
      timeout: durationAtLeast(DURATION_FLOORS.readyTimeoutMs, 'a program needs time to start and draw its screen; a shorter timeout aborts every run as it starts').optional(),
    })
    .optional(),
  busy: z.strictObject({ pattern: regex.optional() }).optional(),
  blocked: blocked.optional(),
  idle_after: durationAtLeast(DURATION_FLOORS.idleAfterMs, 'pauses this short are normal between chunks of output; a shorter one makes the agent flap between busy and ready').optional(),
  activity: activity.optional(),
  busy_after: durationAtLeast(DURATION_FLOORS.busyAfterMs, 'a second chunk of output within this time makes the agent busy; a shorter one never sees the second chunk').optional(),
  stop: z
    .strictObject({
      keys: z.string({ error: 'expected the keys to type, as a string' }).optional(),
      signal: z.enum(SIGNALS, { error: `expected one of ${SIGNALS.join(', ')}` }).optional(),
      grace: durationAtLeast(DURATION_FLOORS.stopGraceMs, 'the group needs time to act on the stop signal; for an immediate kill use stop.signal: SIGKILL').optional(),
    })
    .optional(),
  input: z
    .strictObject({
      submit: z.string({ error: 'expected the submit key sequence, as a string (e.g. "\\r")' }).min(1, { error: 'expected a non-empty submit key' }).optional(),
      submit_delay: duration.optional(),
      max_size: size.optional(),
      chunk: size.optional(),
      escape: z.boolean({ error: 'expected true or false' }).optional(),
      bracketed_paste: oneOf(BRACKETED_PASTE).optional(),
    })
    .optional(),
  sidecar: z
    .strictObject({
      max_line: size.optional(),
      keep: z.number({ error: 'expected a whole number of events' }).int().min(0).max(100_000).optional(),
      hang_timeout: durationAtLeast(DURATION_FLOORS.hangTimeoutMs, 'heartbeats this close are not a hang check but a race with the agent\'s own timers', { offAtZero: true }).optional(),
    })
    .optional(),
  depends_on: z.array(z.string({ error: 'expected an agent name' }), { error: 'expected a list of agent names' }).optional(),
  resume: resume.optional(),
  hooks: oneOf(HOOKS).optional(),
  /** Its own git worktree (docs/work.md#worktrees). */
  worktree: worktree.optional(),
  /** Typed as the agent's first input once it is ready (docs/work.md#initial-prompt). */
  prompt: z.string({ error: 'expected the prompt text (string)' }).optional(),
  log: z
    .strictObject({
      max_size: size.optional(),
      keep: z.number({ error: 'expected a whole number of rotated files to keep' }).int().min(0).max(100).optional(),
      ring: size.optional(),
      scrollback: z.number({ error: 'expected a whole number of lines' }).int().min(0).max(100_000).optional(),
    })
    .optional(),
}, { error: (i) => (i.code === 'invalid_type' ? 'expected a mapping of agent settings' : undefined) });
export type AgentFields = z.output<typeof agentFields>;

/** A variable name in a `{{var}}` placeholder and in `vars:` / `--var`. */
export const VAR_NAME = /^[A-Za-z_][A-Za-z0-9_-]*$/;

/** Tasks of a template or pool (docs/work.md#tasks): how many run at once, how fast they start, how often one is tried. */
const taskLimits = {
  concurrency: z.number({ error: 'expected a whole number of tasks >= 1' }).int().min(1, { error: 'expected a whole number of tasks >= 1' }).optional(),
  rate: z
    .strictObject(
      {
        per_second: z.number({ error: 'expected starts per second (a number > 0; 0.5 is one every 2s)' }).positive({ error: 'expected starts per second (a number > 0; 0.5 is one every 2s)' }),
        burst: z.number({ error: 'expected a whole number of starts >= 1' }).int().min(1, { error: 'expected a whole number of starts >= 1' }).optional(),
      },
      { error: 'expected a mapping with per_second (and burst)' },
    )
    .optional(),
  attempts: z.number({ error: 'expected a whole number from 1 to 100' }).int().min(1, { error: 'expected a whole number from 1 to 100' }).max(100, { error: 'expected a whole number from 1 to 100' }).optional(),
};

/** A crew agent: its settings and the pool it takes tasks for, if any. */
export const crewFields = agentFields.extend({
  pool: z.string({ error: 'expected a pool name (string)' }).regex(AGENT_NAME, { error: 'expected a pool name of letters, digits, "-" and "_" (max 64)' }).optional(),
});

/** An ephemeral agent's recipe (`templates:`): an agent's settings, its prompt and how long it stays listed once finished. */
export const templateFields = agentFields.extend({
  ...taskLimits,
  prompt_file: z.string({ error: 'expected a file path (relative to the config file)' }).optional(),
  vars: z
    .record(z.string().regex(VAR_NAME, { error: 'expected a variable name of letters, digits, "_" and "-"' }), z.string({ error: 'expected the default value (string; quote numbers)' }), {
      error: 'expected a mapping of variable: default value',
    })
    .optional(),
  keep_finished: duration.optional(),
  mode: oneOf(TEMPLATE_MODES).optional(),
  /** With `mode: headless`: how its stdout is read (default: its provider's). */
  output: oneOf(HEADLESS_OUTPUTS).optional(),
  /** With `mode: headless`: a run still going after this long is stopped, and fails. */
  timeout: durationAtLeast(DURATION_FLOORS.headlessTimeoutMs, 'a CLI needs time to start; a shorter timeout stops every run as it starts').optional(),
});
export type TemplateFields = z.output<typeof templateFields>;

/**
 * A provider preset (`providers/NAME.yaml`): an agent entry as written in orchestra.yaml, so it
 * can be copied into one, plus what it is and what it was checked against.
 */
export const presetSchema = agentFields.omit({ provider: true, env_file: true }).extend({
  name: z.string({ error: 'expected the preset name (its file name without .yaml)' }),
  description: z.string({ error: 'expected a one-line description' }),
  checked: z.array(z.string({ error: 'expected a version string (quote it)' }), { error: 'expected a list of the CLI versions the signatures were checked against' }),
  docs: z.url({ error: 'expected a URL' }).optional(),
  // Evidence of a login that costs no request: any one of these is enough (see docs/providers.md#detection).
  auth: z
    .strictObject({
      env: z.array(z.string({ error: 'expected an environment variable name' }), { error: 'expected a list of environment variable names' }).optional(),
      files: z.array(z.string({ error: 'expected a path template (string)' }), { error: 'expected a list of path templates' }).optional(),
    })
    .optional(),
});
export type PresetFile = z.output<typeof presetSchema>;

const endpoint = z
  .string({ error: 'expected "ipc" or a tcp://127.0.0.1:PORT endpoint' })
  .refine((s) => s === 'ipc' || /^tcp:\/\/(127\.0\.0\.1|localhost|\[::1\]):\d{1,5}$/.test(s), {
    error: 'expected "ipc" or a tcp://127.0.0.1:PORT endpoint (the bus is local only)',
  });

export const fileSchema = z.strictObject({
  version: z.literal(1, { error: (i) => (i.input === '1' ? 'expected version 1, a number (write version: 1, without quotes)' : 'expected version 1') }).optional(),
  session: z
    .string({ error: 'expected a session name' })
    .regex(AGENT_NAME, { error: 'expected a session name of letters, digits, "-" and "_" (max 64)' })
    .optional(),
  state_dir: z.string({ error: 'expected a directory path' }).optional(),
  bus: z
    .strictObject({
      publish: endpoint.optional(),
      high_water_mark: z.number({ error: 'expected a whole number of messages' }).int().min(1).optional(),
      queue_limit: size.optional(),
      control: endpoint.optional(),
    })
    .optional(),
  defaults: agentFields.optional(),
  supervision: z.strictObject({ strategy: oneOf(STRATEGIES).optional(), budget: budget.optional() }).optional(),
  providers: z
    .strictObject({
      order: z.array(z.string({ error: 'expected a provider name' }), { error: 'expected a list of provider names' }).optional(),
    })
    .optional(),
  agents: z.record(z.string(), crewFields, { error: 'expected a mapping of agent names to agent settings' }),
  templates: z.record(z.string(), templateFields, { error: 'expected a mapping of template names to template settings' }).optional(),
  /** Task limits of the crew's pools (`pool:` on agents). */
  pools: z.record(z.string(), z.strictObject(taskLimits), { error: 'expected a mapping of pool names to concurrency, rate and attempts' }).optional(),
  /** The task queue (docs/work.md#tasks). */
  tasks: z
    .strictObject({
      depth: z.number({ error: 'expected a whole number of tasks >= 1' }).int().min(1, { error: 'expected a whole number of tasks >= 1' }).optional(),
      backoff: backoff.optional(),
      quota_wait: duration.optional(),
      keep_recent: z.number({ error: 'expected a whole number of finished tasks' }).int().min(0).max(10_000).optional(),
    })
    .optional(),
  /** On-demand sessions (docs/work.md#sessions). */
  sessions: z
    .strictObject({
      template: z.string({ error: 'expected a template name' }).optional(),
      idle_timeout: duration.optional(),
    })
    .optional(),
});
export type ConfigFile = z.output<typeof fileSchema>;
