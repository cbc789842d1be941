/** The resolved config's types, inferred from a schema: what the rest of orchestra and embedders rely on. */
import { describe, expectTypeOf, it } from 'vitest';
import type { SIGNALS } from '../../src/config/schema.js';
import type { AgentConfig, OrchestraConfig, RestartPolicy, Strategy } from '../../src/config/types.js';

describe('resolved config types', () => {
  it('supervision: a strategy and the crew budget, read-only', () => {
    expectTypeOf<Strategy>().toEqualTypeOf<'one_for_one' | 'one_for_all' | 'rest_for_one'>();
    expectTypeOf<OrchestraConfig['supervision']>().toEqualTypeOf<
      Readonly<{ strategy: Strategy; budget: Readonly<{ maxRestarts: number; windowMs: number }> }>
    >();
  });

  it('inferred types stay read-only, as the frozen values are', () => {
    expectTypeOf<AgentConfig['args']>().toEqualTypeOf<readonly string[]>();
    expectTypeOf<AgentConfig['env']>().toEqualTypeOf<Readonly<Record<string, string>>>();
    expectTypeOf<RestartPolicy['budget']>().toEqualTypeOf<Readonly<{ maxRestarts: number; windowMs: number }>>();
  });

  it('settings that may be unset are still keys a hand-built config must give (not optional)', () => {
    expectTypeOf<Pick<AgentConfig, 'readyPattern'>>().toEqualTypeOf<{ readonly readyPattern: string | undefined }>();
    expectTypeOf<Pick<AgentConfig['stop'], 'keys'>>().toEqualTypeOf<{ readonly keys: string | undefined }>();
  });

  it('the stop signal is one the config file accepts', () => {
    expectTypeOf<AgentConfig['stop']['signal']>().toEqualTypeOf<(typeof SIGNALS)[number]>();
  });
});
