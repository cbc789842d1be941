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

  it('a subscriber yields Received with gap information', () => {
    expectTypeOf<BusSubscriber['next']>().returns.resolves.toEqualTypeOf<Received>();
    expectTypeOf<Received['gap']>().toEqualTypeOf<number>();
    expectTypeOf<BusSubscriber>().toMatchTypeOf<AsyncIterable<Received>>();
  });
});
