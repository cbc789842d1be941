/**
 * The resolved, frozen config every other module works with, declared once as a zod schema and
 * its types inferred from it.
 *
 * The file's schema (schema.ts) cannot be the source: what users write is snake_case, optional,
 * durations and sizes as text, and merged with `defaults:` one level deep, while the resolved
 * config is camelCase, complete, in milliseconds and bytes, with computed paths. So the resolved
 * shape has its own schema here, and its word lists (signals, restart modes, strategies) come
 * from schema.ts, so a value the file accepts is always one the types allow.
 *
 * The schema is never run: the file is validated once, at the edge, and load.ts builds these
 * types from the validated values (the compiler checks every field) and freezes them. Fields
 * that are always present but may be undefined use `.or(z.undefined())`, not `.optional()`, so a
 * config built by hand must still say them.
 */
import { z } from 'zod';
import { ACTIVITY_SOURCES, BLOCKED_ESCALATIONS, BLOCKED_KINDS, BRACKETED_PASTE, HEADLESS_OUTPUTS, HOOKS, RESTART_MODES, SIGNALS, STRATEGIES } from './schema.js';

/** Milliseconds, bytes and counts are plain numbers; the field names carry the unit. */
const num = z.number();
const list = <T extends z.ZodType>(item: T) => z.array(item).readonly();
const maybe = <T extends z.ZodType>(value: T) => value.or(z.undefined());

const restartMode = z.enum(RESTART_MODES);
const strategy = z.enum(STRATEGIES);

const blockedKind = z.enum(BLOCKED_KINDS);

const blockedSettings = z
  .object({
    /** A screen signature (a blocked one, or the ready pattern) counts once it has held this long. */
    holdMs: num,
    /** Blocked this long: an event, then `then` (0: never). */
    afterMs: num,
    then: z.enum(BLOCKED_ESCALATIONS),
    /** Sources of regular expressions (flag `m`) matched against the rendered screen, in file order. */
    signatures: list(z.object({ kind: blockedKind, pattern: z.string() }).readonly()),
  })
  .readonly();

/** A screen region whose changes are not activity: rows (1-based, negative from the bottom, inclusive), or lines a pattern matches. */
const ignoredRegion = z.union([
  z.object({ rows: z.object({ from: num, to: num }).readonly() }).readonly(),
  /** Source of a regular expression (flag `m`) tested against each row. */
  z.object({ lines: z.string() }).readonly(),
]);

const activitySettings = z
  .object({
    /** `output`: every byte of output; `screen`: a change of the rendered screen's text outside `ignore`. */
    from: z.enum(ACTIVITY_SOURCES),
    ignore: list(ignoredRegion),
  })
  .readonly();

const budget = z.object({ maxRestarts: num, windowMs: num }).readonly();

const restartPolicy = z
  .object({
    policy: restartMode,
    /** Exit codes that count as success (no restart under on-failure). */
    successCodes: list(num),
    /** Exit codes that mean "do not restart", whatever the policy. */
    noRestartCodes: list(num),
    backoff: z.object({ initialMs: num, factor: num, maxMs: num, jitter: num }).readonly(),
    /** A run at least this long resets the backoff to its initial delay. */
    resetAfterMs: num,
    /** At most `maxRestarts` restarts within any sliding `windowMs`; one more makes the agent dead. */
    budget,
  })
  .readonly();

const inputSettings = z
  .object({
    /** Written on its own, after the body and a pause: it submits what was typed. */
    submit: z.string(),
    submitDelayMs: num,
    /** Larger texts are refused, never truncated. */
    maxSize: num,
    /** The body is written in writes of at most this many bytes. */
    chunk: num,
    /** `escape` requests are refused when false. */
    escape: z.boolean(),
    /** Multi-line text in bracketed paste: when the agent asked for it (auto), always, or never. */
    bracketedPaste: z.enum(BRACKETED_PASTE),
  })
  .readonly();

const hookDialect = z.enum(HOOKS);

/** Files of the agent's CLI, searched for one conversation: a path pattern and what their first line says. */
const sessionFiles = {
  /** A path pattern as written (`*` and `?` within one path segment; `~`, `${VAR:-default}`, `{cwd_slug}`, `{id}`); expanded per run. */
  files: z.string(),
  /** Fields (dotted paths) the first line, a JSON object, must have, each value as written (`{id}`, `{cwd}`). */
  header: z.record(z.string(), z.string()).readonly(),
};

const transcriptSettings = z
  .object({
    ...sessionFiles,
    /** When set, the conversation exists only once a later line has one of these values in a field (dotted path). */
    message: maybe(z.record(z.string(), list(z.string())).readonly()),
    /** Files of the id with no such line are deleted before a run starts the conversation (the CLI refuses their id). */
    removeEmpty: z.boolean(),
  })
  .readonly();

const captureSettings = z
  .object({
    ...sessionFiles,
    /** The field (dotted path) of the first line that holds the conversation's id. */
    id: z.string(),
    /** The field (dotted path) of the first line that holds when the conversation started (ISO time), if any. */
    started: maybe(z.string()),
  })
  .readonly();

const resumeSettings = z
  .object({
    /** Arguments that start a new conversation with the id (`{id}` is replaced). */
    start: list(z.string()),
    /** Arguments that resume the conversation with the id. */
    again: list(z.string()),
    /** Where the CLI keeps the conversation of an id orchestra gave it; expanded and searched per run. */
    transcript: maybe(transcriptSettings),
    /** For a CLI that chooses the id itself: the files it is found in after a run started the conversation. */
    capture: maybe(captureSettings),
    /** orchestra's file for the agent's captured id and the start of its last run (`STATE_DIR/resume/NAME.json`). */
    state: z.string(),
  })
  .readonly();

const worktreeSettings = z
  .object({
    /** The new branch's name, with `{{name}}` (the agent's name) and the spawn's variables. */
    branch: z.string(),
    /** What the branch starts from. */
    base: z.string(),
    /** The directory the worktree is made in (`ROOT/NAME`). */
    root: z.string(),
  })
  .readonly();

const agentConfig = z
  .object({
    name: z.string(),
    /** The preset the agent's settings were merged over (`provider:`; for `auto`, the one chosen), if any. */
    provider: maybe(z.string()),
    command: z.string(),
    args: list(z.string()),
    cwd: z.string(),
    env: z.record(z.string(), z.string()).readonly(),
    cols: num,
    rows: num,
    restart: restartPolicy,
    /** Source of a regular expression matched against the rendered screen. */
    readyPattern: maybe(z.string()),
    readyTimeoutMs: num,
    /** Source of a regular expression: the rendered screen shows the agent working. */
    busyPattern: maybe(z.string()),
    blocked: blockedSettings,
    idleAfterMs: num,
    busyAfterMs: num,
    /** What output counts as activity for idle_after and busy_after. */
    activity: activitySettings,
    stop: z.object({ keys: maybe(z.string()), signal: z.enum(SIGNALS), graceMs: num }).readonly(),
    input: inputSettings,
    sidecar: z
      .object({
        /** The Unix socket the agent's events arrive on (ORCHESTRA_SIDECAR). */
        path: z.string(),
        maxLine: num,
        /** Recent events kept for catch-up. */
        keep: num,
        /** After a first heartbeat, this long without one means the agent hangs (0: off). */
        hangTimeoutMs: num,
      })
      .readonly(),
    dependsOn: list(z.string()),
    /** How a run resumes the agent's conversation; undefined when it has no `resume:` or has `restart.resume: false`. */
    resume: maybe(resumeSettings),
    /** The hook dialect orchestra installs for the agent, if any. */
    hooks: maybe(hookDialect),
    /** Its own git worktree; optional (as `prompt`) so configs built by hand need not say it. */
    worktree: worktreeSettings.optional(),
    /** The crew pool it takes tasks for (`pool:`); optional so configs built by hand need not say it. */
    pool: z.string().optional(),
    /** Its initial prompt, typed once it is first ready; optional so configs built by hand need not say it. */
    prompt: z.string().optional(),
    log: z.object({ file: z.string(), maxSize: num, keep: num, ringSize: num, scrollback: num }).readonly(),
  })
  .readonly();

/** A token bucket: starts per second, and how many may go at once after a quiet spell. */
const rateLimit = z.object({ perSecond: num, burst: num }).readonly();

/** How a template's or a pool's tasks run (docs/work.md#tasks). */
const taskLimits = {
  /** Tasks running at once, at most (undefined: no limit). */
  concurrency: maybe(num),
  /** Starts are rate limited when set. */
  rate: maybe(rateLimit),
  /** A task's attempts when `task add` does not say. */
  attempts: num,
};

/** A template with `mode: headless`: its agent's command runs once per prompt, with no terminal (docs/work.md#headless-runs). */
const headlessSettings = z
  .object({
    /** How its stdout is read (src/work/headless.ts). */
    output: z.enum(HEADLESS_OUTPUTS),
    /** A run still going after this long is stopped and fails. */
    timeoutMs: num,
  })
  .readonly();

const templateConfig = z
  .object({
    ...taskLimits,
    name: z.string(),
    /** The agent it makes, named after the template: a spawn gives it its own name (and paths). */
    agent: agentConfig,
    /** Its prompt as written, `{{var}}` placeholders and all (docs/work.md#templates). */
    prompt: maybe(z.string()),
    /** Where the prompt came from, for messages: `prompt_file`'s path, or the config file. */
    promptSource: z.string(),
    /** Defaults of its variables. */
    vars: z.record(z.string(), z.string()).readonly(),
    /** A finished agent stays listed (ps) this long, then it is removed. */
    keepFinishedMs: num,
    /** Present with `mode: headless` (its agent's args then end with the provider's headless args); optional so configs built by hand need not say it. */
    headless: headlessSettings.optional(),
  })
  .readonly();

const orchestraConfig = z
  .object({
    /** Absolute path of the file this came from. */
    file: z.string(),
    session: z.string(),
    stateDir: z.string(),
    bus: z.object({ publish: z.string(), control: z.string(), highWaterMark: num, queueLimit: num }).readonly(),
    /** Rotation of orchestra's own log (`STATE_DIR/orchestra.log`): `defaults.log`'s `max_size` and `keep`. */
    log: z.object({ maxSize: num, keep: num }).readonly(),
    /** How a crash affects the other agents, and the crew's budget for group restarts. */
    supervision: z.object({ strategy, budget }).readonly(),
    /** In dependency order: every agent comes after the agents it depends on. */
    agents: list(agentConfig),
    /** Recipes of ephemeral agents (`orchestra spawn`). */
    templates: list(templateConfig),
    /** Pools with task limits (`pools:`); a pool its agents name and this does not has none. */
    pools: list(z.object({ name: z.string(), ...taskLimits }).readonly()),
    /** The task queue: how deep, how a failed task backs off, how long a quota pause without a reset time lasts, finished tasks kept. */
    tasks: z.object({ depth: num, backoff: z.object({ initialMs: num, factor: num, maxMs: num, jitter: num }).readonly(), quotaWaitMs: num, keepRecent: num }).readonly(),
    /** On-demand sessions: the template `session ID` cold-starts without `--template`, and how long a session may be idle (0: for ever). */
    sessions: z.object({ template: maybe(z.string()), idleTimeoutMs: num }).readonly(),
  })
  .readonly();

export type RestartMode = z.output<typeof restartMode>;
export type Strategy = z.output<typeof strategy>;
export type RestartPolicy = z.output<typeof restartPolicy>;
export type BlockedKind = z.output<typeof blockedKind>;
export type BlockedSettings = z.output<typeof blockedSettings>;
export type IgnoredRegion = z.output<typeof ignoredRegion>;
export type ActivitySettings = z.output<typeof activitySettings>;
export type InputSettings = z.output<typeof inputSettings>;
export type ResumeSettings = z.output<typeof resumeSettings>;
export type TranscriptSettings = z.output<typeof transcriptSettings>;
export type CaptureSettings = z.output<typeof captureSettings>;
export type HookDialect = z.output<typeof hookDialect>;
export type AgentConfig = z.output<typeof agentConfig>;
export type OrchestraConfig = z.output<typeof orchestraConfig>;
/** A resolved config as the control request `reload` carries it (resolved by the client). */
export const orchestraConfigSchema = orchestraConfig;
export type TemplateConfig = z.output<typeof templateConfig>;
export type HeadlessSettings = z.output<typeof headlessSettings>;
export type WorktreeSettings = z.output<typeof worktreeSettings>;
export type RateLimitSettings = z.output<typeof rateLimit>;
export type PoolConfig = OrchestraConfig['pools'][number];
