/**
 * `templates:` entries: a template is an agent's settings (resolved like an agent's, by load.ts)
 * plus its prompt, variables, and how long a finished agent stays listed. Prompt
 * files may open with YAML front matter of agent settings, under the template's own.
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ConfigError, type ConfigIssue, type Locator } from './issues.js';
import { parseYaml, sortIssues } from './parse.js';
import { type AgentFields, agentFields, type TemplateFields } from './schema.js';
import type { AgentConfig, HeadlessSettings, TemplateConfig, WorktreeSettings } from './types.js';
import { PROVIDER_HEADLESS } from './headless.js';

/** A finished ephemeral agent stays in `ps` this long by default. */
export const KEEP_FINISHED_MS = 600_000;
/** A headless run still going after this long is stopped, and fails. */
export const HEADLESS_TIMEOUT_MS = 30 * 60_000;
/** The branch an agent's worktree is made on, unless its `worktree.branch` says another. */
export const DEFAULT_BRANCH = 'orchestra/{{name}}';

/** A template as load.ts resolves it like an agent: its agent settings (front matter under its own) and its issues so far. */
export interface TemplateSource {
  readonly own: AgentFields;
  readonly body: string | undefined;
  readonly source: string;
  /** Issues in the config file, and (then it is not resolved) in its prompt file's front matter. */
  readonly issues: readonly ConfigIssue[];
  readonly fileIssues: readonly ConfigIssue[];
}

/**
 * The agent settings of template `name` (front matter of its prompt file, then its own) and its
 * prompt text. A template restarts its agent only if it says so: its policy defaults to `no`.
 */
export function templateSource(name: string, t: TemplateFields, dir: string, abs: string, loc: Locator, merge: (d: AgentFields, a: AgentFields) => AgentFields): TemplateSource {
  const { prompt_file: file, vars: _v, keep_finished: _k, prompt, concurrency: _c, rate: _r, attempts: _a, mode: _m, output: _o, timeout: _t, ...fields } = t;
  const own: AgentFields = { ...fields, restart: { ...fields.restart, policy: fields.restart?.policy ?? 'no' } };
  if (file === undefined) return { own, body: prompt, source: abs, issues: [], fileIssues: [] };
  if (prompt !== undefined) return { own, body: prompt, source: abs, issues: [loc.at(['templates', name, 'prompt_file'], 'expected either prompt or prompt_file, not both', { found: false })], fileIssues: [] };
  const path = resolve(dir, file);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    return { own, body: undefined, source: path, issues: [loc.at(['templates', name, 'prompt_file'], `expected a readable file (${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`)], fileIssues: [] };
  }
  const split = frontMatter(text);
  if (!split) return { own, body: text, source: path, issues: [], fileIssues: [] };
  try {
    const { data } = parseYaml(split.yaml, path, agentFields, 'a mapping of agent settings');
    return { own: merge(data, own), body: split.body, source: path, issues: [], fileIssues: [] };
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return { own, body: split.body, source: path, issues: [], fileIssues: sortIssues([...err.issues]) };
  }
}

/**
 * `---` on the first line, settings, `---` on a line of its own, then the prompt. The settings are
 * returned with the first line blanked, so their positions are the file's.
 */
function frontMatter(text: string): { yaml: string; body: string } | undefined {
  const lines = text.split('\n');
  if (lines[0]?.trimEnd() !== '---') return undefined;
  const end = lines.findIndex((l, i) => i > 0 && l.trimEnd() === '---');
  if (end < 0) return undefined;
  return { yaml: ['', ...lines.slice(1, end)].join('\n'), body: lines.slice(end + 1).join('\n') };
}

/**
 * What is wrong with a template's headless keys, its provider resolved: `output:` and `timeout:`
 * belong to `mode: headless`, which needs an output unless its provider's is known.
 */
export function headlessIssues(name: string, t: TemplateFields, agent: AgentConfig, loc: Locator): ConfigIssue[] {
  if (t.mode !== 'headless') {
    return (['output', 'timeout'] as const).filter((k) => t[k] !== undefined).map((k) => loc.atKey(['templates', name], k, `${k} applies only to a template with mode: headless`));
  }
  if (t.output !== undefined || (agent.provider !== undefined && agent.provider in PROVIDER_HEADLESS)) return [];
  const runs = agent.provider === undefined ? `a command of its own (${agent.command})` : `provider ${agent.provider}`;
  const known = Object.keys(PROVIDER_HEADLESS).join(', ');
  // At `output`: when the schema refused the one written, nothing more is said.
  return [loc.at(['templates', name, 'output'], `missing: mode: headless needs an output (text, json, ndjson, or a CLI's format): orchestra knows the headless output of ${known}, not of ${runs}`, { found: false })];
}

/** A headless template's settings, and its agent's args followed by its provider's headless args. */
function toHeadless(t: TemplateFields, agent: AgentConfig): { headless?: HeadlessSettings; agent: AgentConfig } {
  if (t.mode !== 'headless') return { agent };
  const preset = agent.provider === undefined ? undefined : PROVIDER_HEADLESS[agent.provider];
  const output = t.output ?? preset?.output ?? 'text';
  return { headless: { output, timeoutMs: t.timeout ?? HEADLESS_TIMEOUT_MS }, agent: preset ? { ...agent, args: [...agent.args, ...preset.args] } : agent };
}

/** The resolved template around its agent (named after the template until a spawn names it). */
export function toTemplate(name: string, t: TemplateFields, src: TemplateSource, agent: AgentConfig): TemplateConfig {
  return {
    name,
    ...toHeadless(t, agent),
    prompt: src.body,
    promptSource: src.source,
    vars: t.vars ?? {},
    keepFinishedMs: t.keep_finished ?? KEEP_FINISHED_MS,
    ...taskLimits(t),
  };
}

/** A template's or pool's task limits as written, resolved: no concurrency limit or rate unless set, one attempt. */
export function taskLimits(t: Pick<TemplateFields, 'concurrency' | 'rate' | 'attempts'>): Pick<TemplateConfig, 'concurrency' | 'rate' | 'attempts'> {
  return { concurrency: t.concurrency, rate: t.rate && { perSecond: t.rate.per_second, burst: t.rate.burst ?? 1 }, attempts: t.attempts ?? 1 };
}

/** `worktree:` as written, resolved: a branch pattern, a base, an absolute root. */
export function toWorktree(w: AgentFields['worktree'], dir: string, stateDir: string): WorktreeSettings | undefined {
  if (w === undefined || w === false) return undefined;
  const o = w === true ? {} : w;
  return { branch: o.branch ?? DEFAULT_BRANCH, base: o.base ?? 'HEAD', root: o.root === undefined ? join(stateDir, 'worktrees') : resolve(dir, o.root) };
}
