import { describe, expect, it } from 'vitest';
import { mentions, MissingVars, render } from '../../src/work/render.js';

describe('template rendering', () => {
  it('replaces every placeholder with its value, spaces inside the braces allowed', () => {
    expect(render('fix {{issue}} in {{ repo }}; {{issue}} again', { issue: '#7', repo: 'api' }, 'p')).toBe('fix #7 in api; #7 again');
  });

  it('leaves text that is not a placeholder alone (single braces, invalid names)', () => {
    expect(render('{x} {{1a}} {{ }} {{a b}}', {}, 'p')).toBe('{x} {{1a}} {{ }} {{a b}}');
  });

  it('a value is not rendered again (a value holding {{x}} stays as given)', () => {
    expect(render('{{a}}', { a: '{{b}}', b: 'no' }, 'p')).toBe('{{b}}');
  });

  it('missing variables: one error naming each, with line and column of each placeholder', () => {
    let err: unknown;
    try {
      render('line one\n  fix {{issue}} and {{repo}}\n{{issue}}', { repo: 'x' }, 'template "t" prompt');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(MissingVars);
    const m = err as MissingVars;
    expect(m.missing).toEqual([
      { name: 'issue', line: 2, col: 7 },
      { name: 'issue', line: 3, col: 1 },
    ]);
    expect(m.message).toBe('no value for "issue" ({{issue}} at template "t" prompt:2:7, {{issue}} at template "t" prompt:3:1): give --var issue=..., or a default in the template\'s vars:');
  });

  it('a missing {{prompt}} asks for a PROMPT, the spawn\'s own text', () => {
    expect(() => render('{{a}} {{prompt}}', {}, 'p')).toThrow('no value for "a", "prompt" ({{a}} at p:1:1, {{prompt}} at p:1:7): give --var a=... and a PROMPT, or a default in the template\'s vars:');
  });

  it('mentions: whether a placeholder for the name is there', () => {
    expect(mentions('a {{ prompt }} b', 'prompt')).toBe(true);
    expect(mentions('a {{prompts}} b', 'prompt')).toBe(false);
  });
});
