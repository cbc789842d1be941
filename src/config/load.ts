/** Loads a config file: YAML with positions → validated → defaults merged → frozen. */
import { createHash } from 'node:crypto';
import { existsSync, realpathSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import type { z } from 'zod';
import { commandIssue } from './commands.js';
import { envFileReader, readDotenv } from './dotenv.js';
import { expandHome, type Vars } from './interpolate.js';
import { ConfigError, type ConfigIssue, type Locator } from './issues.js';
import { parseLayers } from './layers.js';
import { checkSchema, interpolateDocument, PathSet, readText, readYaml, relativeName, sortIssues } from './parse.js';
import { detect, type Detector, type Presence } from '../host/detect.js';
import { loadPreset, type Preset, presetNames, PROVIDERS_DIR } from './providers.js';
import { AGENT_NAME, type AgentFields, AUTO_PROVIDER, BLOCKED_KINDS, DEFAULT_PROVIDER_ORDER, fileSchema } from './schema.js';
import type { ActivitySettings, AgentConfig, BlockedKind, BlockedSettings, OrchestraConfig, RestartPolicy, ResumeSettings, TemplateConfig } from './types.js';
import { headlessIssues, taskLimits, type TemplateSource, templateSource, toTemplate, toWorktree } from './templates.js';
import { DEFAULT_QUEUE_OPTIONS } from '../work/task-queue.js';
import { DEFAULT_QUOTA_OPTIONS } from '../work/quota.js';

/** Built-in defaults, applied under the file's `defaults:` block. */
export const BUILTIN = {
  cols: 120,
  rows: 40,
  restart: {
    policy: 'on-failure',
    successCodes: [0],
    noRestartCodes: [],
    backoff: { initialMs: 1000, factor: 2, maxMs: 60_000, jitter: 0.1 },
    resetAfterMs: 60_000,
    budget: { maxRestarts: 10, windowMs: 600_000 },
  } satisfies RestartPolicy,
  readyTimeoutMs: 60_000,
  // No hold unless a provider's preset says so: a plain program's ready pattern counts at once, as it always did.
  blocked: { holdMs: 0, afterMs: 600_000, then: 'none' as const },
  idleAfterMs: 2000,
  busyAfterMs: 250,
  activity: { from: 'output' as const, ignore: [] },
  stop: { signal: 'SIGTERM', graceMs: 10_000 },
  log: { maxSize: 10 * 1024 * 1024, keep: 3, ringSize: 1024 * 1024, scrollback: 1000 },
  sidecar: { maxLine: 64 * 1024, keep: 100, hangTimeoutMs: 0 },
  input: { submit: '\r', submitDelayMs: 50, maxSize: 256 * 1024, chunk: 4096, escape: true, bracketedPaste: 'auto' as const },
  bus: { highWaterMark: 2000, queueLimit: 64 * 1024 * 1024 },
  strategy: 'one_for_one',
} as const;

/** Unix socket paths are limited to 107 bytes on Linux; leave room for socket names. */
const MAX_STATE_DIR = 80;

/** Loads and validates `file`; throws ConfigError listing every problem found. */
export function loadConfig(file: string, opts: LoadOptions = {}): OrchestraConfig {
  const abs = resolve(file);
  return parseConfig(readText(abs), abs, opts);
}

/**
 * Several files merged like `docker compose -f a.yaml -f b.yaml` (see layers.ts); the first one is
 * the config's identity (its directory, its default session name and state directory, its `.env`).
 */
export function loadConfigFiles(files: readonly string[], opts: LoadOptions = {}): OrchestraConfig {
  const [first, ...rest] = files;
  if (first === undefined) throw new Error('no config file given');
  if (rest.length === 0) return loadConfig(first, opts);
  const abs = resolve(first);
  const { vars, issues } = variables(abs);
  const { data, loc } = parseLayers(files, fileSchema, 'a mapping with an `agents:` key', (doc, l) => interpolateDocument(doc, vars, l, leftForRuns));
  return resolveConfig(data, abs, loc, { ...resolving(opts), found: issues, dropped: new PathSet(), vars });
}

/** Where presets are read from and how `provider: auto` detects CLIs; tests give their own. */
export interface LoadOptions {
  readonly providersDir?: string;
  readonly detect?: Detector;
  /** Every agent's own command must be on PATH now (`validate`); without it only a command line in one string is refused. */
  readonly everyCommand?: boolean;
}

/** Variables for interpolation: the process environment over the `.env` file beside the config. */
function variables(abs: string): { vars: Vars; issues: ConfigIssue[] } {
  const dotenv = readDotenv(join(dirname(abs), '.env'));
  return { vars: (name) => process.env[name] ?? dotenv.values.get(name), issues: [...dotenv.issues] };
}

/** `resume` paths are templates expanded for each run, with the agent's own environment. */
const leftForRuns = (keys: readonly string[]) => (keys[0] === 'agents' && keys[2] === 'resume') || (keys[0] === 'defaults' && keys[1] === 'resume');

function resolving(opts: LoadOptions): Pick<Resolving, 'providersDir' | 'detector' | 'everyCommand'> {
  return { providersDir: opts.providersDir ?? PROVIDERS_DIR, detector: opts.detect ?? detect, everyCommand: opts.everyCommand === true };
}

/**
 * Validates config text as if it were the file `abs`: its variables interpolated (the process
 * environment over the `.env` file beside it), then every problem reported at once.
 */
export function parseConfig(text: string, abs: string, opts: LoadOptions = {}): OrchestraConfig {
  const { doc, loc, issues } = readYaml(text, abs);
  const { vars, issues: dotenvIssues } = variables(abs);
  const interpolated = interpolateDocument(doc, vars, loc, leftForRuns);
  const { data, issues: schemaIssues, dropped } = checkSchema(doc, loc, fileSchema, 'a mapping with an `agents:` key', interpolated);
  const found = [...issues, ...interpolated.issues, ...schemaIssues, ...dotenvIssues];
  if (data === undefined) throw new ConfigError(sortIssues(found, relativeName(abs)));
  return resolveConfig(data, abs, loc, { ...resolving(opts), found, dropped, vars });
}

/** What resolving needs beyond the validated file: findings so far, and what validation set aside. */
interface Resolving {
  readonly providersDir: string;
  readonly detector: Detector;
  readonly everyCommand: boolean;
  /** Issues found before resolving (syntax aside): reported with the resolver's own. */
  readonly found: readonly ConfigIssue[];
  /** Values the schema refused: nothing more is said about them. */
  readonly dropped: PathSet;
  readonly vars: Vars;
}

type File = z.output<typeof fileSchema>;
type RawBudget = NonNullable<File['supervision']>['budget'];

function resolveConfig(file: File, abs: string, loc: Locator, r: Resolving): OrchestraConfig {
  const { providersDir, detector } = r;
  const issues: ConfigIssue[] = [];
  const dir = dirname(abs);
  const names = Object.keys(file.agents);
  if (names.length === 0 && !r.dropped.touches(['agents'])) issues.push(loc.at(['agents'], 'expected at least one agent, as in `agents: { worker: { command: claude } }`', { found: false }));
  const templates = file.templates ?? {};
  for (const [section, name] of [...names.map((n) => ['agents', n] as const), ...Object.keys(templates).map((n) => ['templates', n] as const)]) {
    if (!AGENT_NAME.test(name)) {
      issues.push(loc.atKey([section], name, `${section === 'agents' ? 'agent' : 'template'} names use letters, digits, "-" and "_" (max 64) and start with a letter or digit`));
    }
  }
  const session = file.session ?? sanitize(basename(dir));
  const stateDir = file.state_dir ? resolve(dir, expandHome(file.state_dir)) : defaultStateDir(session, abs);
  if (stateDir.length > MAX_STATE_DIR) {
    issues.push(loc.at(['state_dir'], `expected a state directory path of at most ${MAX_STATE_DIR} characters (Unix socket paths are short); "${stateDir}" is ${stateDir.length}`, { found: false }));
  }
  const { depends_on: sharedDeps, ...defaults } = file.defaults ?? {};
  if (sharedDeps !== undefined) {
    issues.push(loc.atKey(['defaults'], 'depends_on', 'depends_on cannot be a default (every agent would wait for itself): list it under each agent that waits for another'));
  }
  const envFiles = envFileReader(dir, r.vars);
  const presets = presetLoader(providersDir);
  const known = () => presetNames(providersDir).join(', ') || `none in ${providersDir}`;
  const order = file.providers?.order ?? DEFAULT_PROVIDER_ORDER;
  for (const [i, candidate] of (file.providers?.order ?? []).entries()) {
    if (candidate === AUTO_PROVIDER || !presetNames(providersDir).includes(candidate)) {
      issues.push(loc.at(['providers', 'order', i], `expected a known provider (${known()})`));
    }
  }
  // A broken preset's issues are in its own file: they follow the config's, once per preset.
  const broken = new Set<ConfigError>();
  const agents = new Map<string, AgentConfig>();
  // Templates are resolved as agents are (defaults < preset < own settings), each into its own map.
  const sources = new Map<string, TemplateSource>();
  for (const [name, t] of Object.entries(templates)) {
    const src = templateSource(name, t, dir, abs, loc, mergeFields);
    sources.set(name, src);
    issues.push(...src.issues);
  }
  const templateAgents = new Map<string, AgentConfig>();
  const entries = [...Object.entries(file.agents).map(([n, own]) => ['agents', n, own] as const), ...[...sources].filter(([, src]) => src.fileIssues.length === 0).map(([n, src]) => ['templates', n, src.own] as const)];
  for (const [section, name, own] of entries) {
    // defaults < preset < the agent's own settings.
    let base = defaults;
    let provider = own.provider ?? defaults.provider;
    const at = own.provider !== undefined ? [section, name, 'provider'] : ['defaults', 'provider'];
    if (provider === AUTO_PROVIDER) {
      const env = { ...process.env, ...defaults.env, ...own.env };
      const choice = chooseProvider(order, presets, (p) => detector(p, env, dir));
      if (choice instanceof ConfigError) {
        broken.add(choice);
        continue;
      }
      if ('skipped' in choice) {
        issues.push(loc.at(at, `expected an installed and authenticated provider, in the order of providers.order: ${choice.skipped.join('; ')}`, { found: false }));
        continue;
      }
      provider = choice.chosen;
    }
    if (provider !== undefined) {
      const found = presets(provider);
      if (found instanceof ConfigError) {
        broken.add(found);
        continue;
      }
      if (found === undefined) {
        issues.push(loc.at(at, `expected a known provider (${known()})`));
        continue;
      }
      base = mergeFields(defaults, found.fields);
    }
    const a = { ...mergeFields(base, own), provider };
    if (!a.command) {
      issues.push(loc.at([section, name, 'command'], 'missing required key', { found: false }));
      continue;
    }
    const cwd = resolve(dir, expandHome(a.cwd ?? '.'));
    if (!existsSync(cwd) || !statSync(cwd).isDirectory()) {
      const at = own.cwd !== undefined ? [section, name, 'cwd'] : ['defaults', 'cwd'];
      issues.push(loc.at(at, `expected an existing directory (resolved to ${cwd})`));
    }
    // A preset's command is its CLI: whether that is installed is `doctor`'s question.
    if (own.command !== undefined || provider === undefined) {
      const site = { command: a.command, cwd, path: { ...process.env, ...a.env }.PATH, at: own.command !== undefined ? [section, name, 'command'] : ['defaults', 'command'] };
      const issue = commandIssue(site, loc, r.everyCommand);
      if (issue) issues.push(issue);
    }
    // Regions without the screen mode mean nothing; an agent that says `activity: output` over a
    // screen mode from `defaults:` or its preset turns their regions off with it.
    const switchedOff = own.activity?.from === 'output' && own.activity.ignore === undefined;
    if (a.activity?.ignore?.length && (a.activity.from ?? BUILTIN.activity.from) !== 'screen' && !switchedOff) {
      const at = own.activity?.ignore !== undefined ? [section, name, 'activity', 'ignore'] : defaults.activity?.ignore !== undefined ? ['defaults', 'activity', 'ignore'] : [section, name, 'activity'];
      issues.push(loc.at(at, 'regions are ignored only with `activity.from: screen` (output counts byte by byte)', { found: false }));
    }
    for (const [i, dep] of (a.depends_on ?? []).entries()) {
      if (!(dep in file.agents) && !r.dropped.touches(['agents', dep])) issues.push(loc.at([section, name, 'depends_on', i], 'expected the name of an agent in this file'));
      else if (dep === name) issues.push(loc.at([section, name, 'depends_on', i], 'an agent cannot depend on itself'));
    }
    const fromFiles = envFiles(a.env_file, own.env_file !== undefined ? [section, name, 'env_file'] : ['defaults', 'env_file'], loc, issues);
    const pool = section === 'agents' ? file.agents[name]?.pool : undefined;
    (section === 'agents' ? agents : templateAgents).set(name, { ...toAgentConfig(name, { ...a, env: { ...fromFiles, ...a.env } }, cwd, stateDir, dir), ...(pool === undefined ? {} : { pool }) });
  }
  const pools = new Set(Object.values(file.agents).flatMap((a) => (a.pool === undefined ? [] : [a.pool])));
  for (const name of Object.keys(file.pools ?? {})) {
    if (!pools.has(name)) issues.push(loc.atKey(['pools'], name, `expected a pool an agent names with pool: (${[...pools].join(', ') || 'no agent has one'})`));
  }
  const sessionTemplate = file.sessions?.template;
  if (sessionTemplate !== undefined && !(sessionTemplate in templates)) {
    issues.push(loc.at(['sessions', 'template'], `expected the name of a template (${Object.keys(templates).join(', ') || 'none in templates:'})`));
  } else if (sessionTemplate !== undefined && templates[sessionTemplate]?.mode === 'headless') {
    issues.push(loc.at(['sessions', 'template'], `expected an interactive template: "${sessionTemplate}" is mode: headless (one run per prompt, no agent to keep)`));
  }
  const templateFileIssues = [...sources.values()].flatMap((src) => src.fileIssues);
  for (const [name, agent] of templateAgents) issues.push(...headlessIssues(name, templates[name] ?? {}, agent, loc));
  issues.push(...sharedCaptures(agents, loc));
  const { ordered, cycles } = dependencyOrder(agents, loc);
  issues.push(...cycles);
  // Nothing more is said about what the schema refused: a `command: 3` is not also a missing command.
  const more = issues.filter((i) => !r.dropped.within(i.path));
  if (r.found.length > 0 || more.length > 0 || broken.size > 0 || templateFileIssues.length > 0) {
    throw new ConfigError([...sortIssues([...r.found, ...more], relativeName(abs)), ...templateFileIssues, ...[...broken].flatMap((e) => e.issues)]);
  }
  const resolvedTemplates: TemplateConfig[] = [];
  for (const [name, agent] of templateAgents) {
    const t = templates[name];
    const src = sources.get(name);
    if (t && src) resolvedTemplates.push(toTemplate(name, t, src, agent));
  }
  return deepFreeze({
    file: abs,
    session,
    stateDir,
    bus: {
      publish: file.bus?.publish ?? 'ipc',
      control: file.bus?.control ?? 'ipc',
      highWaterMark: file.bus?.high_water_mark ?? BUILTIN.bus.highWaterMark,
      queueLimit: file.bus?.queue_limit ?? BUILTIN.bus.queueLimit,
    },
    // orchestra's own log rotates by the agents' rule and limits: one setting for every log file.
    log: { maxSize: defaults.log?.max_size ?? BUILTIN.log.maxSize, keep: defaults.log?.keep ?? BUILTIN.log.keep },
    // Unset budget keys come from the budget agents get by default, as an agent's own do.
    supervision: {
      strategy: file.supervision?.strategy ?? BUILTIN.strategy,
      budget: toBudget({ ...defaults.restart?.budget, ...file.supervision?.budget }),
    },
    agents: ordered,
    templates: resolvedTemplates,
    pools: Object.entries(file.pools ?? {}).map(([name, p]) => ({ name, ...taskLimits(p) })),
    tasks: toTasks(file.tasks),
    sessions: { template: sessionTemplate, idleTimeoutMs: file.sessions?.idle_timeout ?? IDLE_TIMEOUT_MS },
  });
}

/** An on-demand session idle this long is stopped (`sessions.idle_timeout`). */
export const IDLE_TIMEOUT_MS = 30 * 60_000;

/** `tasks:` over the queue's defaults. */
function toTasks(t: File['tasks']): OrchestraConfig['tasks'] {
  const d = DEFAULT_QUEUE_OPTIONS;
  return {
    depth: t?.depth ?? d.depth,
    backoff: { initialMs: t?.backoff?.initial ?? d.backoff.initialMs, factor: t?.backoff?.factor ?? d.backoff.factor, maxMs: t?.backoff?.max ?? d.backoff.maxMs, jitter: t?.backoff?.jitter ?? d.backoff.jitter },
    quotaWaitMs: t?.quota_wait ?? DEFAULT_QUOTA_OPTIONS.fallbackMs,
    keepRecent: t?.keep_recent ?? d.keepRecent,
  };
}

function sanitize(s: string): string {
  const clean = s.replace(/[^A-Za-z0-9_-]/g, '-').replace(/^[-_]+/, '').slice(0, 64);
  return clean || 'default';
}

/** `$XDG_RUNTIME_DIR/orchestra-UID/SESSION-HASH`: short (socket paths) and unique per config file. */
export function defaultStateDir(session: string, abs: string): string {
  const base = process.env.XDG_RUNTIME_DIR || tmpdir();
  const uid = typeof process.getuid === 'function' ? process.getuid() : 0;
  const hash = createHash('sha256').update(abs).digest('hex').slice(0, 8);
  return join(base, `orchestra-${uid}`, `${session.slice(0, 24)}-${hash}`);
}

/** Each preset read and validated once per config; a broken one is its own file's error. */
function presetLoader(dir: string): (name: string) => Preset | ConfigError | undefined {
  const seen = new Map<string, Preset | ConfigError | undefined>();
  return (name) => {
    if (!seen.has(name)) {
      try {
        seen.set(name, loadPreset(name, dir));
      } catch (err) {
        if (!(err instanceof ConfigError)) throw err;
        seen.set(name, err);
      }
    }
    return seen.get(name);
  };
}

/**
 * `provider: auto`: the first provider of `order` that is installed and authenticated; when none
 * is, why each was skipped.
 */
function chooseProvider(
  order: readonly string[],
  presets: (name: string) => Preset | ConfigError | undefined,
  presence: (p: Preset) => Presence,
): { chosen: string } | { skipped: string[] } | ConfigError {
  const skipped: string[] = [];
  for (const name of order) {
    const preset = presets(name);
    if (preset instanceof ConfigError) return preset;
    if (preset === undefined) {
      skipped.push(`${name}: unknown provider`);
      continue;
    }
    const found = presence(preset);
    if (found.path === undefined) skipped.push(`${name}: not installed (no "${preset.fields.command ?? name}" on PATH)`);
    else if (found.auth === undefined) skipped.push(`${name}: not authenticated (${authHint(preset)})`);
    else return { chosen: name };
  }
  return { skipped };
}

/** What would have counted as a login, for the error message. */
function authHint(preset: Preset): string {
  const evidence = [...(preset.auth?.env ?? []), ...(preset.auth?.files ?? [])];
  return evidence.length > 0 ? `none of ${evidence.join(', ')}` : 'the preset names no evidence of a login';
}

/** Agent settings over `defaults:` (or over a preset); nested mappings merge one level deep. */
function mergeFields(d: AgentFields, a: AgentFields): AgentFields {
  const restart = d.restart || a.restart ? { ...d.restart, ...a.restart, backoff: { ...d.restart?.backoff, ...a.restart?.backoff }, budget: { ...d.restart?.budget, ...a.restart?.budget } } : undefined;
  return {
    ...d,
    ...a,
    env: { ...d.env, ...a.env },
    ready: { ...d.ready, ...a.ready },
    stop: { ...d.stop, ...a.stop },
    log: { ...d.log, ...a.log },
    input: { ...d.input, ...a.input },
    sidecar: { ...d.sidecar, ...a.sidecar },
    busy: { ...d.busy, ...a.busy },
    // `ignore` is replaced as a whole: regions belong to one screen layout.
    activity: { ...d.activity, ...a.activity },
    // Signatures merge by kind, as restart.backoff does by key: an agent adds or replaces a kind (`[]` removes it).
    blocked: { ...d.blocked, ...a.blocked, signatures: { ...d.blocked?.signatures, ...a.blocked?.signatures } },
    restart,
  };
}

/** Unix socket paths are limited to 107 bytes: long agent names get a hashed file name. */
function sidecarPath(stateDir: string, name: string): string {
  const plain = join(stateDir, 'sidecar', `${name}.sock`);
  if (Buffer.byteLength(plain) <= 100) return plain;
  return join(stateDir, 'sidecar', `${createHash('sha256').update(name).digest('hex').slice(0, 12)}.sock`);
}

/** A budget as written (each key optional) over the built-in one. */
function toBudget(raw: RawBudget | undefined): RestartPolicy['budget'] {
  const b = BUILTIN.restart.budget;
  return { maxRestarts: raw?.max_restarts ?? b.maxRestarts, windowMs: raw?.window ?? b.windowMs };
}

/** The files of an agent named `name`: a spawned agent gets its own, as a configured one does. */
export function agentFiles(stateDir: string, name: string): { sidecar: string; log: string; resumeState: string } {
  return { sidecar: sidecarPath(stateDir, name), log: join(stateDir, 'logs', `${name}.log`), resumeState: join(stateDir, 'resume', `${name}.json`) };
}

function toAgentConfig(name: string, a: AgentFields, cwd: string, stateDir: string, dir: string): AgentConfig {
  const r = a.restart;
  const b = BUILTIN.restart;
  const worktree = toWorktree(a.worktree, dir, stateDir);
  return {
    name,
    provider: a.provider,
    command: a.command ?? '',
    args: a.args ?? [],
    cwd,
    env: a.env ?? {},
    cols: a.cols ?? BUILTIN.cols,
    rows: a.rows ?? BUILTIN.rows,
    restart: {
      policy: r?.policy ?? b.policy,
      successCodes: r?.success_codes ?? b.successCodes,
      noRestartCodes: r?.no_restart_codes ?? b.noRestartCodes,
      backoff: {
        initialMs: r?.backoff?.initial ?? b.backoff.initialMs,
        factor: r?.backoff?.factor ?? b.backoff.factor,
        maxMs: r?.backoff?.max ?? b.backoff.maxMs,
        jitter: r?.backoff?.jitter ?? b.backoff.jitter,
      },
      resetAfterMs: r?.reset_after ?? b.resetAfterMs,
      budget: toBudget(r?.budget),
    },
    readyPattern: a.ready?.pattern?.source,
    readyTimeoutMs: a.ready?.timeout ?? BUILTIN.readyTimeoutMs,
    busyPattern: a.busy?.pattern?.source,
    blocked: toBlocked(a.blocked),
    idleAfterMs: a.idle_after ?? BUILTIN.idleAfterMs,
    busyAfterMs: a.busy_after ?? BUILTIN.busyAfterMs,
    activity: toActivity(a.activity),
    stop: { keys: a.stop?.keys, signal: a.stop?.signal ?? BUILTIN.stop.signal, graceMs: a.stop?.grace ?? BUILTIN.stop.graceMs },
    input: {
      submit: a.input?.submit ?? BUILTIN.input.submit,
      submitDelayMs: a.input?.submit_delay ?? BUILTIN.input.submitDelayMs,
      maxSize: a.input?.max_size ?? BUILTIN.input.maxSize,
      chunk: Math.max(1, a.input?.chunk ?? BUILTIN.input.chunk),
      escape: a.input?.escape ?? BUILTIN.input.escape,
      bracketedPaste: a.input?.bracketed_paste ?? BUILTIN.input.bracketedPaste,
    },
    sidecar: {
      path: sidecarPath(stateDir, name),
      maxLine: a.sidecar?.max_line ?? BUILTIN.sidecar.maxLine,
      keep: a.sidecar?.keep ?? BUILTIN.sidecar.keep,
      hangTimeoutMs: a.sidecar?.hang_timeout ?? BUILTIN.sidecar.hangTimeoutMs,
    },
    dependsOn: a.depends_on ?? [],
    resume: a.resume === undefined || a.restart?.resume === false ? undefined : toResume(a.resume, join(stateDir, 'resume', `${name}.json`)),
    hooks: a.hooks,
    ...(a.prompt === undefined ? {} : { prompt: a.prompt }),
    ...(worktree ? { worktree } : {}),
    log: {
      file: join(stateDir, 'logs', `${name}.log`),
      maxSize: a.log?.max_size ?? BUILTIN.log.maxSize,
      keep: a.log?.keep ?? BUILTIN.log.keep,
      ringSize: a.log?.ring ?? BUILTIN.log.ringSize,
      scrollback: a.log?.scrollback ?? BUILTIN.log.scrollback,
    },
  };
}

function toActivity(raw: AgentFields['activity']): ActivitySettings {
  const from = raw?.from ?? BUILTIN.activity.from;
  if (from === 'output') return BUILTIN.activity;
  return { from, ignore: (raw?.ignore ?? []).map((r) => ('lines' in r ? { lines: r.lines.source } : r)) };
}

function toResume(r: NonNullable<AgentFields['resume']>, state: string): ResumeSettings {
  const t = r.transcript;
  const c = r.capture;
  return {
    start: r.start,
    again: r.again,
    transcript: t && { files: t.files, header: t.header ?? {}, message: t.message, removeEmpty: t.remove_empty ?? false },
    capture: c && { files: c.files, header: c.header ?? {}, id: c.id, started: c.started },
    state,
  };
}

/**
 * A CLI that chooses its conversation's id leaves nothing on disk that says which of two of its
 * processes in one directory a conversation belongs to: two agents capturing in one directory
 * could resume each other's, so such a crew is refused.
 */
function sharedCaptures(agents: ReadonlyMap<string, AgentConfig>, loc: Locator): ConfigIssue[] {
  const first = new Map<string, string>();
  const issues: ConfigIssue[] = [];
  for (const a of agents.values()) {
    if (!a.resume?.capture) continue;
    const key = `${realDir(a.cwd)}\0${a.resume.capture.files}`;
    const other = first.get(key);
    if (other === undefined) first.set(key, a.name);
    else {
      issues.push(
        loc.at(
          ['agents', a.name],
          `expected a working directory of its own: it resumes by capture (resume.capture) in ${a.cwd}, as agents.${other} does, and their CLI's files cannot tell their conversations apart; give one of them another cwd, or restart: { resume: false }`,
          { found: false },
        ),
      );
    }
  }
  return issues;
}

function realDir(dir: string): string {
  try {
    return realpathSync(dir);
  } catch {
    return dir;
  }
}

function isBlockedKind(k: string): k is BlockedKind {
  return (BLOCKED_KINDS as readonly string[]).includes(k);
}

/** One signature per pattern, in the file's order (a kind with a list gives one per entry). */
function toBlocked(b: AgentFields['blocked']): BlockedSettings {
  const signatures = Object.entries(b?.signatures ?? {}).flatMap(([kind, patterns]) =>
    isBlockedKind(kind) ? (patterns ?? []).map((re) => ({ kind, pattern: re.source })) : [],
  );
  return { holdMs: b?.hold ?? BUILTIN.blocked.holdMs, afterMs: b?.after ?? BUILTIN.blocked.afterMs, then: b?.then ?? BUILTIN.blocked.then, signatures };
}

/**
 * Topological order (file order among peers), and an issue for every cycle: each dependency that
 * leads back to an agent still being visited closes one. Self-dependencies and unknown names are
 * reported on their own.
 */
function dependencyOrder(agents: Map<string, AgentConfig>, loc: Locator): { ordered: AgentConfig[]; cycles: ConfigIssue[] } {
  const ordered: AgentConfig[] = [];
  const cycles: ConfigIssue[] = [];
  const mark = new Map<string, 'visiting' | 'done'>();
  const trail: string[] = [];
  const visit = (name: string): void => {
    const agent = agents.get(name);
    if (!agent || mark.has(name)) return;
    mark.set(name, 'visiting');
    trail.push(name);
    for (const [i, dep] of agent.dependsOn.entries()) {
      if (dep === name) continue;
      if (mark.get(dep) === 'visiting') {
        // Reported where the cycle starts, at its first edge, as the path reads.
        const cycle = [...trail.slice(trail.indexOf(dep)), dep];
        const [from = dep, to = name] = cycle;
        const edge = agents.get(from)?.dependsOn.indexOf(to) ?? i;
        cycles.push(loc.at(['agents', from, 'depends_on', edge], `dependency cycle: ${cycle.join(' -> ')}`, { found: false }));
      } else visit(dep);
    }
    trail.pop();
    mark.set(name, 'done');
    ordered.push(agent);
  };
  for (const name of agents.keys()) visit(name);
  return { ordered, cycles };
}

function deepFreeze<T>(v: T): T {
  if (v !== null && typeof v === 'object' && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const child of Object.values(v)) deepFreeze(child);
  }
  return v;
}
