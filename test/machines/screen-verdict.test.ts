/** The screen classifier: which signature the rendered screen matches, and the evidence lines. */
import { describe, expect, it } from 'vitest';
import { compileSignatures, sameVerdict, ScreenWatch, screenVerdict } from '../../src/machines/screen-verdict.js';

const sig = compileSignatures(
  [
    { kind: 'trust', pattern: 'Do you trust the files in this folder\\?' },
    { kind: 'quota', pattern: 'usage limit' },
  ],
  '^> Type your message',
);

describe('screen verdict', () => {
  it('a blocked signature outranks the ready one (a dialog drawn below the input box); the evidence is the matching line, trimmed', () => {
    const screen = ['> Type your message', '  Gemini', '  Do you trust the files in this folder?   ', '  1. Yes'].join('\n');
    expect(screenVerdict(screen, sig)).toEqual({ kind: 'blocked', on: 'trust', evidence: ['Do you trust the files in this folder?'] });
  });

  it('the ready signature alone is ready; nothing matching is no verdict', () => {
    expect(screenVerdict('> Type your message or @path', sig)).toMatchObject({ kind: 'ready' });
    expect(screenVerdict('loading…', sig)).toEqual({ kind: 'none' });
  });

  it('a usage limit says when it resets, as shown', () => {
    const v = screenVerdict("You've hit your usage limit · resets 5am (Europe/Paris)", sig);
    expect(v).toMatchObject({ kind: 'blocked', on: 'quota', resets: '5am (Europe/Paris)' });
    // codex 0.171.0 (recorded against a stub): its own apostrophe, and "try again at".
    const codex = screenVerdict('You’ve hit your usage limit. Upgrade to Pro (https://chatgpt.com/explore/pro), visit https://chatgpt.com/settings/usage to purchase more credits or try again at 12:00 PM.', sig);
    expect(codex).toMatchObject({ kind: 'blocked', on: 'quota', resets: '12:00 PM' });
    expect(screenVerdict('You’ve hit your usage limit. Visit https://chatgpt.com/settings/usage to purchase more credits or try again later.', sig)).not.toHaveProperty('resets');
  });

  it('the same dialog redrawn is the same verdict; another dialog is not', () => {
    const a = screenVerdict('Do you trust the files in this folder?', sig);
    const b = screenVerdict('x\nDo you trust the files in this folder?', sig);
    expect(sameVerdict(a, b)).toBe(true);
    expect(sameVerdict(a, screenVerdict('usage limit', sig))).toBe(false);
  });
});

describe('screen verdict: history above the input box', () => {
  const claude = compileSignatures(
    [
      { kind: 'permission', pattern: 'Do you want to proceed\\?' },
      { kind: 'login', pattern: 'Not logged in' },
      { kind: 'error', pattern: 'Unable to connect to API.*Retrying' },
    ],
    '\\? for shortcuts',
  );

  it('regression: a reply quoting "Do you want to proceed?" above the idle box made the agent blocked on permission', () => {
    const screen = ['● Before deleting it asks: Do you want to proceed?', '', '> ', '  ? for shortcuts'].join('\n');
    expect(screenVerdict(screen, claude)).toMatchObject({ kind: 'ready' });
  });

  it('a dialog that replaced the box, or a login notice on the box line, still counts; an error above the box counts', () => {
    expect(screenVerdict('Bash command\nDo you want to proceed?\n❯ 1. Yes', claude)).toMatchObject({ kind: 'blocked', on: 'permission' });
    expect(screenVerdict('> \n  ? for shortcuts     Not logged in · Run /login', claude)).toMatchObject({ kind: 'blocked', on: 'login' });
    expect(screenVerdict('✻ Unable to connect to API (FailedToOpenSocket) · Retrying in 1s\n> \n  ? for shortcuts', claude)).toMatchObject({ kind: 'blocked', on: 'error' });
  });
});

describe('screen watch: what is news to the chart', () => {
  it('the same verdict on the same lines is not news; new evidence is; after reset (a new run) the same screen is news again', () => {
    const watch = new ScreenWatch(compileSignatures([{ kind: 'error', pattern: 'Retrying' }], '^> $'));
    expect(watch.news('> ')).toMatchObject({ kind: 'ready' });
    expect(watch.news('> ')).toBeUndefined();
    expect(watch.news('Retrying in 2s')).toMatchObject({ kind: 'blocked', on: 'error' });
    expect(watch.news('Retrying in 1s')).toMatchObject({ evidence: ['Retrying in 1s'] });
    watch.reset();
    expect(watch.news('Retrying in 1s')).toMatchObject({ kind: 'blocked' });
  });
});
