import { describe, expect, it } from 'vitest';
import { TerminalModel } from '../../src/agent/terminal-model.js';

describe('TerminalModel', () => {
  it('after detach, parses what it was given even when that memory is overwritten', async () => {
    let parsed = 0;
    let wake = () => undefined as void;
    const model = new TerminalModel(40, 5, () => undefined, () => {
      parsed++;
      wake();
    });
    const untilParsed = (n: number) => new Promise<void>((resolve) => {
      wake = () => parsed >= n && resolve();
      wake();
    });
    model.write(Buffer.from('first\r\n')); // parsing starts: what comes next waits in the backlog
    const slab = Buffer.from('second line');
    model.write(slab.subarray(0, 6)); // a view, as the pipeline hands out
    model.detach();
    slab.fill('X'); // the pipeline reuses the slab
    await untilParsed(2);
    expect(model.screenText().split('\n').slice(0, 2)).toEqual(['first', 'second']);
    model.close();
  });
});
