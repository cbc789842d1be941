/**
 * Quota pauses: an agent that is out of quota says so (its screen's usage-limit dialog, or its
 * sidecar), often with when the limit resets ("resets 5:10pm (Europe/Paris)", "in 2h 30m"). Until
 * then, sending that provider more work only makes more blocked agents, so dispatch to it pauses.
 * Pure: `now` and the default time zone are passed in.
 */
import type { BlockedInfo } from '../machines/agent.js';

export interface QuotaPause {
  readonly provider: string;
  /** Dispatch to the provider resumes at this time (ms since the epoch). */
  readonly until: number;
  /** Why, in words: the agent and what it showed. */
  readonly reason: string;
}

export interface QuotaOptions {
  /** The zone a reset time without one is read in (the machine's: the CLI shows local time). */
  readonly zone: string;
  /** How long to pause when the reset time is missing or unreadable. */
  readonly fallbackMs: number;
}

export const DEFAULT_QUOTA_OPTIONS: QuotaOptions = {
  zone: Intl.DateTimeFormat().resolvedOptions().timeZone,
  fallbackMs: 15 * 60_000,
};

const UNIT_MS: readonly [RegExp, number][] = [
  [/^d(ays?)?$/i, 86_400_000],
  [/^h(rs?|ours?)?$/i, 3_600_000],
  [/^m(ins?|inutes?)?$/i, 60_000],
  [/^s(ecs?|econds?)?$/i, 1000],
];
const DURATION = /^(?:in\s+)?((?:\d+(?:\.\d+)?\s*[a-z]+[\s,]*(?:and\s+)?)+)/i;
const PART = /(\d+(?:\.\d+)?)\s*([a-z]+)/gi;
const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
const CLOCK = /^(?:at\s+)?(?:([a-z]{3})[a-z]*\.?\s+(\d{1,2})(?:st|nd|rd|th)?,?\s+(?:(\d{4}),?\s+)?(?:at\s+)?)?(\d{1,2})(?::(\d{2}))?\s*(am|pm)?(?:\s*\(([^)]+)\))?/i;

/**
 * When a limit that "resets TEXT" ends: a duration (`in 2h 30m`, `3 days`), a time of day
 * (`5am`, `5:10pm (Europe/Paris)`, `17:00`: the next one after `now`), a date and time
 * (`Dec 3, 5am (UTC)`) or an ISO 8601 timestamp. Undefined when it is none of these.
 */
export function parseResetTime(text: string, now: number, zone: string): number | undefined {
  const t = text.trim();
  if (/^\d{4}-\d{2}-\d{2}T/.test(t)) {
    const at = Date.parse(t);
    return Number.isNaN(at) ? undefined : at;
  }
  const ms = duration(t);
  if (ms !== undefined) return now + ms;
  const c = CLOCK.exec(t);
  if (!c) return undefined;
  const [, month, day, year, hourText, minuteText, meridiem, named] = c;
  // A bare number ("resets 5") is not a time: it takes am/pm or minutes.
  if (meridiem === undefined && minuteText === undefined) return undefined;
  let hour = Number(hourText);
  const minute = Number(minuteText ?? 0);
  if (meridiem !== undefined) {
    if (hour < 1 || hour > 12) return undefined;
    hour = (hour % 12) + (meridiem.toLowerCase() === 'pm' ? 12 : 0);
  }
  if (hour > 23 || minute > 59) return undefined;
  const tz = named?.trim() ?? zone;
  const today = wallClock(now, tz);
  if (!today) return undefined;
  if (month !== undefined) {
    const m = MONTHS.indexOf(month.toLowerCase());
    if (m < 0 || Number(day) < 1 || Number(day) > 31) return undefined;
    if (year !== undefined) return zonedTime(Number(year), m, Number(day), hour, minute, tz);
    const at = zonedTime(today.year, m, Number(day), hour, minute, tz);
    // A date without a year is the next one: a reset is never in the past.
    return at > now ? at : zonedTime(today.year + 1, m, Number(day), hour, minute, tz);
  }
  const at = zonedTime(today.year, today.month, today.day, hour, minute, tz);
  return at > now ? at : zonedTime(today.year, today.month, today.day + 1, hour, minute, tz);
}

/**
 * The pause an agent's block means for its provider: none unless it is blocked on quota; until
 * its reset time, or for `fallbackMs` when it shows none that can be read.
 */
export function quotaPause(provider: string, agent: string, blocked: Pick<BlockedInfo, 'on' | 'resets'>, now: number, o: QuotaOptions = DEFAULT_QUOTA_OPTIONS): QuotaPause | undefined {
  if (blocked.on !== 'quota') return undefined;
  const at = blocked.resets === undefined ? undefined : parseResetTime(blocked.resets, now, o.zone);
  if (at !== undefined && at > now) return { provider, until: at, reason: `${agent} is out of quota; it resets ${blocked.resets}` };
  const shown = blocked.resets === undefined ? 'it shows no reset time' : `its reset time "${blocked.resets}" could not be read`;
  return { provider, until: now + o.fallbackMs, reason: `${agent} is out of quota; ${shown}, so dispatch waits ${Math.round(o.fallbackMs / 60_000)} min` };
}

/**
 * The block a sidecar event reports, for `quotaPause`: `{"type": "blocked", "on": "quota",
 * "resets": "..."}` (any form `parseResetTime` reads); undefined for any other event.
 */
export function sidecarQuota(event: Readonly<Record<string, unknown>>): Pick<BlockedInfo, 'on' | 'resets'> | undefined {
  if (event.type !== 'blocked' || event.on !== 'quota') return undefined;
  return typeof event.resets === 'string' ? { on: 'quota', resets: event.resets } : { on: 'quota' };
}

/** The pauses after `p`: the newest report on a provider replaces what was known of it. */
export function withPause(pauses: readonly QuotaPause[], p: QuotaPause): QuotaPause[] {
  return [...pauses.filter((q) => q.provider !== p.provider), p];
}

/** The pauses still in force at `now`. */
export function activePauses(pauses: readonly QuotaPause[], now: number): QuotaPause[] {
  return pauses.filter((p) => p.until > now);
}

/** `2h 30m`, `in 3 days`, `45 minutes and 10s`; undefined when a part is not a duration (`5am`). */
function duration(text: string): number | undefined {
  const d = DURATION.exec(text)?.[1];
  if (d === undefined) return undefined;
  let ms = 0;
  for (const [, n, unit] of d.matchAll(PART)) {
    const per = UNIT_MS.find(([re]) => re.test(unit ?? ''))?.[1];
    if (per === undefined) return undefined;
    ms += Number(n) * per;
  }
  return Math.round(ms);
}

interface WallClock {
  readonly year: number;
  /** 0-based, as Date.UTC takes it. */
  readonly month: number;
  readonly day: number;
}

const formats = new Map<string, Intl.DateTimeFormat>();

/** The clock on the wall in `zone` at `ms` (undefined: not a zone this runtime knows). */
function zoneParts(ms: number, zone: string): Record<string, number> | undefined {
  let f = formats.get(zone);
  if (!f) {
    try {
      f = new Intl.DateTimeFormat('en-US', { timeZone: zone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric' });
    } catch {
      return undefined;
    }
    formats.set(zone, f);
  }
  return Object.fromEntries(f.formatToParts(ms).filter((p) => p.type !== 'literal').map((p) => [p.type, Number(p.value)]));
}

function wallClock(ms: number, zone: string): WallClock | undefined {
  const p = zoneParts(ms, zone);
  return p && { year: p.year ?? 0, month: (p.month ?? 1) - 1, day: p.day ?? 1 };
}

/** How far `zone`'s wall clock is ahead of UTC at `ms`. */
function offsetMs(ms: number, zone: string): number {
  const p = zoneParts(ms, zone) ?? {};
  const whole = ms - (((ms % 1000) + 1000) % 1000);
  return Date.UTC(p.year ?? 0, (p.month ?? 1) - 1, p.day ?? 1, p.hour ?? 0, p.minute ?? 0, p.second ?? 0) - whole;
}

/** The instant the wall clock in `zone` shows this date and time (Date.UTC's overflow rules: day 32 is the next month's 1st). */
function zonedTime(year: number, month: number, day: number, hour: number, minute: number, zone: string): number {
  const wall = Date.UTC(year, month, day, hour, minute);
  // The offset at the guess can differ from the one at the answer across a DST change: correct once.
  const first = wall - offsetMs(wall, zone);
  const off = offsetMs(first, zone);
  return wall - off;
}
