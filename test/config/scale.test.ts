/** Issue 21 item 14: validation cost is linear in the size of the file. */
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/config/issues.js';
import { parseConfig } from '../../src/config/load.js';

/** One mapping of `n` keys (an agent's env), beside n/16 unknown keys (each an issue, positioned, with a suggestion). */
function config(n: number): string {
  const env = Array.from({ length: n }, (_, i) => `      K${i}: "v"`).join('\n');
  const unknown = Array.from({ length: n / 16 }, (_, i) => `    k${i}: 1`).join('\n');
  return `agents:\n  a:\n    command: sh\n${unknown}\n    env:\n${env}\n`;
}

/** The fastest of `runs` validations of `text`, in ms. */
function fastest(text: string, runs: number): number {
  let best = Infinity;
  for (let r = 0; r < runs; r++) {
    const t = performance.now();
    try {
      parseConfig(text, '/tmp/orchestra-scale.yaml');
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
    }
    best = Math.min(best, performance.now() - t);
  }
  return best;
}

describe('validation cost', () => {
  it('regression: 16k keys in one mapping took 2.8 s and 32k 10.5 s (the parser compared each key with every earlier one); 16x the keys now cost about 16x, not 70x', () => {
    const small = fastest(config(2000), 5);
    const large = fastest(config(32_000), 2);
    // 16x the keys: linear is 16x the time, the quadratic parse was ~70x. A generous bound, for a loaded machine.
    expect(large / small).toBeLessThan(40);
  }, 120_000);
});
