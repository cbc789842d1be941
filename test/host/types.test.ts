/** The published host module's types, as an embedding program sees them. */
import { describe, expectTypeOf, it } from 'vitest';

describe('the published host module (orchestra/host)', () => {
  it('exports start(config), whose crew says how it stopped', () => {
    type Host = typeof import('orchestra/host');
    type Crew = Awaited<ReturnType<Host['start']>>;
    expectTypeOf<Parameters<Host['start']>[0]>().toEqualTypeOf<import('orchestra/host').OrchestraConfig>();
    expectTypeOf<ReturnType<Host['loadConfig']>>().toEqualTypeOf<import('orchestra/host').OrchestraConfig>();
    expectTypeOf<ReturnType<Crew['stop']>>().toEqualTypeOf<Promise<'graceful' | 'forced'>>();
    expectTypeOf<Crew['closed']>().toEqualTypeOf<Promise<void>>();
    expectTypeOf<Crew['endpoints']>().toEqualTypeOf<{ readonly publish: string; readonly control: string }>();
  });

  it('its work layer spawns ephemeral agents from templates and reports their ends', () => {
    type Host = typeof import('orchestra/host');
    type Work = Awaited<ReturnType<Host['start']>>['work'];
    expectTypeOf<Parameters<Work['spawn']>>().toEqualTypeOf<[string, { readonly name?: string | undefined; readonly vars?: Readonly<Record<string, string>> | undefined; readonly prompt?: string | undefined; readonly initialPrompt?: boolean; readonly reuseWorktree?: boolean }?]>();
    expectTypeOf<Awaited<ReturnType<Work['spawn']>>>().toEqualTypeOf<{ name: string; worktree: import('orchestra/client').WorktreeInfo | null }>();
    type Ended = Parameters<Parameters<Work['onEnded']>[0]>[0];
    expectTypeOf<Ended['how']>().toEqualTypeOf<'exited' | 'done' | 'stopped'>();
    expectTypeOf<Ended['result']>().toEqualTypeOf<Record<string, unknown> | null>();
  });
});
