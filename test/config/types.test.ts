/** The resolved config's types, inferred from a schema: what the rest of orchestra and embedders rely on. */
import { describe, expectTypeOf, it } from 'vitest';
import type { BLOCKED_KINDS, SIGNALS } from '../../src/config/schema.js';
import type { ResumeSettings as HostResumeSettings } from '../../src/host/resume.js';
import type { AgentConfig, BlockedKind, BlockedSettings, HookDialect, OrchestraConfig, ResumeSettings, RestartPolicy, Strategy } from '../../src/config/types.js';

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

  it('busy and blocked screens: the pattern sources the agent chart compiles, with the kinds the file accepts', () => {
    expectTypeOf<BlockedKind>().toEqualTypeOf<(typeof BLOCKED_KINDS)[number]>();
    expectTypeOf<BlockedKind>().toEqualTypeOf<'permission' | 'question' | 'trust' | 'login' | 'quota' | 'error'>();
    expectTypeOf<Pick<AgentConfig, 'busyPattern' | 'provider'>>().toEqualTypeOf<{ readonly busyPattern: string | undefined; readonly provider: string | undefined }>();
    expectTypeOf<AgentConfig['blocked']>().toEqualTypeOf<BlockedSettings>();
    expectTypeOf<BlockedSettings>().toEqualTypeOf<
      Readonly<{
        holdMs: number;
        afterMs: number;
        then: 'none' | 'interrupt' | 'restart';
        signatures: readonly Readonly<{ kind: BlockedKind; pattern: string }>[];
      }>
    >();
  });

  it('resume and hooks: unset is undefined, and the resume settings are what the runtime takes', () => {
    type Files = { files: string; header: Readonly<Record<string, string>> };
    expectTypeOf<ResumeSettings>().toEqualTypeOf<
      Readonly<{
        start: readonly string[];
        again: readonly string[];
        transcript: Readonly<Files & { message: Readonly<Record<string, readonly string[]>> | undefined; removeEmpty: boolean }> | undefined;
        capture: Readonly<Files & { id: string; started: string | undefined }> | undefined;
        state: string;
      }>
    >();
    expectTypeOf<Pick<AgentConfig, 'resume'>>().toEqualTypeOf<{ readonly resume: ResumeSettings | undefined }>();
    expectTypeOf<ResumeSettings>().toExtend<HostResumeSettings>();
    expectTypeOf<HookDialect>().toEqualTypeOf<'claude'>();
    expectTypeOf<Pick<AgentConfig, 'hooks'>>().toEqualTypeOf<{ readonly hooks: 'claude' | undefined }>();
  });
});
