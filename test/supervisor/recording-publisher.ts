import type { Message } from '../../src/bus/protocol.js';
import type { Publisher } from '../../src/bus/publisher.js';

/** A publisher that keeps every message body (with its kind and agent) in `published`, in order. */
export function recordingPublisher(published: Record<string, unknown>[]): Publisher {
  return {
    publish(kind: string, agent: string, body: Record<string, unknown>) {
      published.push({ ...body, kind, agent });
      return { ...body, kind, agent } as unknown as Message;
    },
    publishEncodedOutput: () => undefined,
  } as unknown as Publisher;
}
