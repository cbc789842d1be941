/** The control socket's frame rules (docs/control.md, "Frames"). */
import { describe, expect, it } from 'vitest';
import { splitFrames } from '../../src/bus/control-frames.js';

const b = (s: string) => Buffer.from(s);
const E = Buffer.alloc(0);
const id = b('ID');

describe('control frames', () => {
  it.each([
    ['DEALER, one frame', [id, b('req')], [id], [b('req')]],
    ['REQ: delimiter, request', [id, E, b('req')], [id, E], [b('req')]],
    ['REQ sending two frames: the bad-request reply keeps the delimiter', [id, E, b('a'), b('b')], [id, E], [b('a'), b('b')]],
    ['REQ sending an empty frame', [id, E, E], [id, E], [E]],
    ['REQ behind a proxy: routing ids, delimiter, request', [id, b('hop1'), b('hop2'), E, b('req')], [id, b('hop1'), b('hop2'), E], [b('req')]],
    ['DEALER sending one empty frame', [id, E], [id], [E]],
    ['DEALER with a trailing empty frame (nothing follows the delimiter)', [id, b('req'), E], [id], [b('req'), E]],
    ['a frame too long for a routing id before the empty frame', [id, Buffer.alloc(256), E, b('req')], [id], [Buffer.alloc(256), E, b('req')]],
    ['no frame after the routing id', [id], [id], []],
  ])('%s', (_what, frames, head, body) => {
    expect(splitFrames(frames)).toEqual({ head, body });
  });

  it('no routing id at all: nothing to answer', () => {
    expect(splitFrames([])).toBeUndefined();
  });
});
