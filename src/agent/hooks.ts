/**
 * claude's hooks as sidecar events. For an agent with `hooks: claude`, orchestra gives claude a
 * settings file of its own (`--settings`, never the user's ~/.claude/settings.json) whose hooks run
 * hook-relay.js; the relay turns each hook's input into one sidecar line. Pure: the data and the
 * mapping, no I/O (the worker writes the file, the relay does the socket).
 */

/** The hooks orchestra installs, in claude's names. */
export const HOOK_EVENTS = ['SessionStart', 'UserPromptSubmit', 'PreToolUse', 'PostToolUse', 'Notification', 'Stop', 'StopFailure', 'SubagentStop'] as const;
export type HookEvent = (typeof HOOK_EVENTS)[number];

/** Events that take a tool-name matcher: "*" runs the hook for every tool. */
const TOOL_EVENTS = new Set<HookEvent>(['PreToolUse', 'PostToolUse']);

/** Seconds claude gives a hook before it cancels it (the relay gives up after 2 s on its own). */
const HOOK_TIMEOUT_S = 5;

/** A `prompt` event's text is cut to this many characters to stay well inside `sidecar.max_line`. */
export const PROMPT_MAX = 16 * 1024;

/** How long after the submit key a hooks agent has to report the prompt before a send is `unconfirmed`. */
export const CONFIRM_MS = 10_000;

/** One line for the sidecar socket. */
export interface HookSidecarEvent {
  readonly type: 'ready' | 'prompt' | 'progress' | 'blocked' | 'notification';
  /** The claude hook it came from. */
  readonly hook: HookEvent;
  readonly [field: string]: unknown;
}

/** A string for `sh -c`: single-quoted, so no character in a path is special. */
export function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** The command a hook runs: `runtime` is the program and its arguments before the relay's path (node; deno run -A). */
export function relayCommand(runtime: readonly string[], relay: string, event: HookEvent): string {
  return [...runtime, relay].map(shellQuote).join(' ') + ` ${event}`;
}

type HookEntry = { readonly matcher?: string; readonly hooks: readonly { readonly type: 'command'; readonly command: string; readonly timeout: number }[] };

/** claude's settings file: every event of HOOK_EVENTS runs `command(event)`. */
export function claudeSettings(command: (event: HookEvent) => string): { hooks: Record<HookEvent, HookEntry[]> } {
  const hooks = {} as Record<HookEvent, HookEntry[]>;
  for (const event of HOOK_EVENTS) {
    const run = { hooks: [{ type: 'command' as const, command: command(event), timeout: HOOK_TIMEOUT_S }] };
    hooks[event] = [TOOL_EVENTS.has(event) ? { matcher: '*', ...run } : run];
  }
  return { hooks };
}

const text = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

/**
 * The sidecar event for one hook call: `event` is the hook the settings file ran the relay for,
 * `input` the JSON claude wrote on its stdin (`{}` when it was not readable). Unknown events map
 * to nothing.
 */
export function sidecarEvent(event: string, input: Readonly<Record<string, unknown>>): HookSidecarEvent | undefined {
  switch (event) {
    case 'SessionStart':
      return { type: 'ready', hook: event, ...fields({ source: text(input.source), session: text(input.session_id) }) };
    case 'UserPromptSubmit':
      return { type: 'prompt', hook: event, ...promptText(text(input.prompt)) };
    case 'PreToolUse':
    case 'PostToolUse':
      return { type: 'progress', hook: event, ...fields({ tool: text(input.tool_name) }) };
    case 'Notification':
      return notification(text(input.notification_type), text(input.message));
    case 'Stop':
      return { type: 'ready', hook: event };
    // Instead of Stop when an API error ended the turn (without it the agent would stay busy).
    case 'StopFailure': {
      // A turn that failed on a usage limit or a login waits for a human like a dialog does.
      const error = text(input.error);
      const on = /rate.?limit|usage.?limit|quota/i.test(error ?? '') ? 'quota' : /auth|login|credential/i.test(error ?? '') ? 'login' : undefined;
      if (on) return { type: 'blocked', on, hook: event, ...fields({ text: error }) };
      return { type: 'ready', hook: event, ...fields({ error }) };
    }
    case 'SubagentStop':
      return { type: 'progress', hook: event };
    default:
      return undefined;
  }
}

function notification(kind: string | undefined, message: string | undefined): HookSidecarEvent {
  const hook = 'Notification';
  if (kind === 'permission_prompt') return { type: 'blocked', hook, on: 'permission', ...fields({ text: message }) };
  // claude has been waiting for a prompt (for 60 s): it is idle, whatever the screen said.
  if (kind === 'idle_prompt') return { type: 'ready', hook };
  return { type: 'notification', hook, ...fields({ kind, text: message }) };
}

/** The prompt, cut to PROMPT_MAX characters (`truncated` says so: a confirmation then matches a prefix). */
function promptText(prompt: string | undefined): Record<string, unknown> {
  if (prompt === undefined) return {};
  return prompt.length > PROMPT_MAX ? { text: prompt.slice(0, PROMPT_MAX), truncated: true } : { text: prompt };
}

/** Only the fields that are present: a JSON line without `"tool": null` noise. */
function fields(o: Record<string, string | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) out[k] = v;
  return out;
}
