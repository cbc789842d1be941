import { describe, expect, it } from 'vitest';
import { activePauses, parseResetTime, quotaPause, sidecarQuota, withPause } from '../../src/work/quota.js';

const now = Date.UTC(2026, 11, 1, 6, 0); // Tue 1 Dec 2026, 06:00 UTC (07:00 in Paris)
const at = (...a: [number, number, number, number, number]) => Date.UTC(...a);

describe('reset times as agents show them', () => {
  it.each([
    ['5:10pm (Europe/Paris)', at(2026, 11, 1, 16, 10)], // claude: "You've hit your session limit · resets 5:10pm (Europe/Paris)"
    ['5am (Europe/Paris)', at(2026, 11, 2, 4, 0)], // already past today: tomorrow's
    ['5am (Europe/Paris) · /upgrade to increase your limit', at(2026, 11, 2, 4, 0)],
    ['17:00', at(2026, 11, 1, 17, 0)], // no zone: the default one (UTC here)
    ['at 9 pm', at(2026, 11, 1, 21, 0)],
    ['12am', at(2026, 11, 2, 0, 0)],
    ['12:30pm (UTC)', at(2026, 11, 1, 12, 30)],
    ['Dec 3, 5am (UTC)', at(2026, 11, 3, 5, 0)], // a weekly limit shows the date
    ['Nov 30 at 9am (UTC)', at(2027, 10, 30, 9, 0)], // a date without a year is the next one
    ['Dec 6th, 2026 12:00 PM.', at(2026, 11, 6, 12, 0)], // codex 0.171.0 (recorded), a weekly limit: "or try again at Dec 6th, 2026 12:00 PM."
    ['Nov 30th, 2026 9:00 AM (UTC)', at(2026, 10, 30, 9, 0)], // with its year, the date as shown (past: the limit has reset)
    ['in 2h 30m', now + 9_000_000],
    ['2 days 3 hours', now + 51 * 3_600_000], // codex: "try again in 2 days 3 hours"
    ['45 minutes and 10s', now + 2_710_000],
    ['2026-12-01T09:15:00Z', at(2026, 11, 1, 9, 15)],
  ])('%s', (text, expected) => {
    expect(parseResetTime(text, now, 'UTC')).toBe(expected);
  });

  it.each(['5', 'tomorrow', 'soon', '13pm', '25:00', '5am (Mars/Olympus)', 'Foo 3, 5am', ''])('%s is not a reset time', (text) => {
    expect(parseResetTime(text, now, 'UTC')).toBeUndefined();
  });

  it('a time on a day the clocks change is read with that day\'s offset', () => {
    const night = Date.UTC(2026, 2, 8, 5, 0); // 8 Mar 2026, 00:00 EST: at 2am New York moves to EDT
    expect(parseResetTime('1am (America/New_York)', night, 'UTC')).toBe(Date.UTC(2026, 2, 8, 6, 0));
    expect(parseResetTime('3am (America/New_York)', night, 'UTC')).toBe(Date.UTC(2026, 2, 8, 7, 0));
  });
});

describe('quota pauses', () => {
  const o = { zone: 'UTC', fallbackMs: 15 * 60_000 };

  it('pauses the provider until the reset time the agent shows', () => {
    expect(quotaPause('claude', 'w1', { on: 'quota', resets: '5:10pm (Europe/Paris)' }, now, o)).toEqual({
      provider: 'claude',
      until: at(2026, 11, 1, 16, 10),
      reason: 'w1 is out of quota; it resets 5:10pm (Europe/Paris)',
    });
  });

  it('pauses for the fallback when there is no reset time, or none that can be read', () => {
    expect(quotaPause('codex', 'w2', { on: 'quota' }, now, o)).toEqual({ provider: 'codex', until: now + 900_000, reason: 'w2 is out of quota; it shows no reset time, so dispatch waits 15 min' });
    expect(quotaPause('codex', 'w2', { on: 'quota', resets: 'whenever' }, now, o)?.reason).toBe('w2 is out of quota; its reset time "whenever" could not be read, so dispatch waits 15 min');
  });

  it('a sidecar event reports a quota block too, with its reset time', () => {
    const block = sidecarQuota({ type: 'blocked', on: 'quota', resets: 'in 2h', text: 'limit reached' });
    expect(block).toEqual({ on: 'quota', resets: 'in 2h' });
    expect(block && quotaPause('gemini', 'g1', block, now, o)?.until).toBe(now + 7_200_000);
    expect(sidecarQuota({ type: 'blocked', on: 'quota', resets: 5 })).toEqual({ on: 'quota' });
    expect(sidecarQuota({ type: 'blocked', on: 'permission' })).toBeUndefined();
    expect(sidecarQuota({ type: 'ready' })).toBeUndefined();
  });

  it('other blocks pause nothing', () => {
    expect(quotaPause('claude', 'w1', { on: 'permission' }, now, o)).toBeUndefined();
  });

  it('the newest report on a provider replaces the last; pauses end at their time', () => {
    const a = { provider: 'claude', until: now + 1000, reason: 'a' };
    const b = { provider: 'codex', until: now + 5000, reason: 'b' };
    const a2 = { provider: 'claude', until: now + 500, reason: 'a2' };
    const pauses = withPause(withPause(withPause([], a), b), a2);
    expect(pauses).toEqual([b, a2]);
    expect(activePauses(pauses, now + 500)).toEqual([b]);
    expect(activePauses(pauses, now + 5000)).toEqual([]);
  });
});
