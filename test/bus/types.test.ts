import { describe, expectTypeOf, it } from 'vitest';
import type { BusSubscriber, Received } from '../../src/bus/client.js';
import { type BodyOf, type ExitBody, type Kind, KINDS, type Message, type MessageOf, type RestartBody } from '../../src/bus/protocol.js';
import type { Publisher } from '../../src/bus/publisher.js';
import type { ExitCause, ExitInfo } from '../../src/machines/exit.js';
import { decideRestart, type RestartDecision, type Strategy } from '../../src/machines/restart-policy.js';

describe('public types of the bus client', () => {
  it('messages are a discriminated union on `kind`', () => {
    expectTypeOf<Message['kind']>().toEqualTypeOf<Kind>();
    type Output = Extract<Message, { kind: 'output' }>;
    expectTypeOf<Output['data']>().toEqualTypeOf<Uint8Array>();
    type Restart = Extract<Message, { kind: 'restart' }>;
    expectTypeOf<Restart['action']>().toEqualTypeOf<'restart' | 'give-up'>();
    expectTypeOf<Message['seq']>().toEqualTypeOf<number>();
    expectTypeOf<Message['run']>().toEqualTypeOf<string>();
  });

  it('output carries its byte offset, drops the last seq it accounts for', () => {
    expectTypeOf<Extract<Message, { kind: 'output' }>['offset']>().toEqualTypeOf<number>();
    type Drops = Extract<Message, { kind: 'drops' }>;
    expectTypeOf<Pick<Drops, 'dropped' | 'droppedBytes' | 'lastSeq'>>().toEqualTypeOf<{ readonly dropped: number; readonly droppedBytes: number; readonly lastSeq: number }>();
  });

  it('a subscriber yields Received with gap information', () => {
    expectTypeOf<BusSubscriber['next']>().returns.resolves.toEqualTypeOf<Received>();
    expectTypeOf<Received['gap']>().toEqualTypeOf<number>();
    expectTypeOf<Received['missingBytes']>().toEqualTypeOf<number>();
    expectTypeOf<BusSubscriber>().toMatchTypeOf<AsyncIterable<Received>>();
  });
});

describe('one catalogue of bus messages, kind → body', () => {
  it('each kind has exactly the body of that kind, and KINDS lists the same kinds', () => {
    expectTypeOf<BodyOf<'state'>['kind']>().toEqualTypeOf<'state'>();
    expectTypeOf<MessageOf<'drops'>>().toEqualTypeOf<Extract<Message, { kind: 'drops' }>>();
    expectTypeOf(KINDS).toEqualTypeOf<readonly Kind[]>();
  });

  it('publishing a body of another kind than the topic is a compile error (it used to compile)', () => {
    const publish = (p: Publisher) => {
      // @ts-expect-error an exit body on the state topic
      p.publish('state', 'a', { kind: 'exit', pid: 1, code: 0, signal: null, cause: 'exit', runMs: 1 });
      // @ts-expect-error a restart body on the exit topic
      p.publish('exit', 'a', { kind: 'restart', action: 'give-up', policy: 'no', why: 'policy-no', reason: 'r' });
      return p.publish('state', 'a', { kind: 'state', from: null, to: 'busy', reason: 'r', pid: null });
    };
    expectTypeOf(publish).returns.toEqualTypeOf<MessageOf<'state'> | undefined>();
  });

  it('the exit cause is the one ExitCause, worker-crash included, on the wire and in the policy', () => {
    expectTypeOf<MessageOf<'exit'>['cause']>().toEqualTypeOf<ExitCause>();
    expectTypeOf<ExitInfo['cause']>().toEqualTypeOf<ExitCause>();
    expectTypeOf<'worker-crash'>().toExtend<ExitCause>();
    expectTypeOf<ExitBody>().toExtend<ExitInfo>();
  });

  it('a restart message is the policy decision as is, with the group strategy fields', () => {
    const publishDecision = (p: Publisher, info: ExitInfo) => {
      const { decision } = decideRestart(
        { policy: 'always', successCodes: [0], noRestartCodes: [], backoff: { initialMs: 1, factor: 2, maxMs: 10, jitter: 0 }, resetAfterMs: 1, budget: { maxRestarts: 1, windowMs: 1 } },
        { restarts: [], attempt: 0 },
        info,
        0,
        Math.random,
      );
      const body: RestartBody = { kind: 'restart', ...decision };
      return p.publish('restart', 'a', body);
    };
    expectTypeOf(publishDecision).returns.toEqualTypeOf<MessageOf<'restart'> | undefined>();
    expectTypeOf<RestartDecision['because']>().toEqualTypeOf<string | undefined>();
    expectTypeOf<RestartDecision['strategy']>().toEqualTypeOf<Strategy | undefined>();
    // A give-up carries no backoff: the fields of one decision never mix with the other's.
    // @ts-expect-error delayMs belongs to a restart
    const mixed: RestartBody = { kind: 'restart', action: 'give-up', policy: 'no', why: 'policy-no', reason: 'r', delayMs: 1 };
    expectTypeOf(mixed).toExtend<RestartBody>();
  });
});

describe('the published client module (orchestra/client)', () => {
  it('exports the typed subscriber, control client and results', () => {
    type Client = typeof import('orchestra/client');
    expectTypeOf<InstanceType<Client['BusSubscriber']>>().toMatchTypeOf<AsyncIterable<{ msg: { seq: number }; gap: number }>>();
    type Request = InstanceType<Client['ControlClient']>['request'];
    expectTypeOf<Parameters<Request>[0]>().toEqualTypeOf<keyof import('orchestra/client').Results>();
    expectTypeOf<import('orchestra/client').Results['send']['outcome']>().toEqualTypeOf<'delivered' | 'confirmed' | 'unconfirmed' | 'timed-out' | 'agent-not-running' | 'refused'>();
  });
});
