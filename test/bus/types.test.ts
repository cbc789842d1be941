import { describe, expectTypeOf, it } from 'vitest';
import type { BusSubscriber, Received } from '../../src/bus/client.js';
import type { Kind, Message } from '../../src/bus/protocol.js';

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

describe('the published client module (orchestra/client)', () => {
  it('exports the typed subscriber, control client and results', () => {
    type Client = typeof import('orchestra/client');
    expectTypeOf<InstanceType<Client['BusSubscriber']>>().toMatchTypeOf<AsyncIterable<{ msg: { seq: number }; gap: number }>>();
    type Request = InstanceType<Client['ControlClient']>['request'];
    expectTypeOf<Parameters<Request>[0]>().toEqualTypeOf<keyof import('orchestra/client').Results>();
    expectTypeOf<import('orchestra/client').Results['send']['outcome']>().toEqualTypeOf<'delivered' | 'timed-out' | 'agent-not-running' | 'refused'>();
  });
});
