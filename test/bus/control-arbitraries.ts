/** Arbitrary control payloads for property tests: raw bytes, and maps shaped like requests with arbitrary contents. */
import fc from 'fast-check';
import { Packr } from 'msgpackr';
import { expect } from 'vitest';
import { ERROR_CODES, type Reply, REQUESTS } from '../../src/bus/control-protocol.js';

const packr = new Packr({ useRecords: false, moreTypes: false });

const COMMANDS = Object.keys(REQUESTS);

/** Requests shaped like the real thing (a map with id/cmd/args) but with arbitrary contents. */
const structured = (commands: readonly string[]) => fc
  .record(
    {
      id: fc.oneof(fc.integer(), fc.string(), fc.constant(null), fc.anything()),
      cmd: fc.oneof(fc.constantFrom(...commands), fc.string(), fc.anything()),
      args: fc.oneof(fc.anything(), fc.dictionary(fc.constantFrom('agent', 'text', 'mode', 'timeout_ms', 'cols', 'rows', 'bytes', 'data', 'id', 'x'), fc.anything())),
    },
    { requiredKeys: [] },
  )
  .map((req) => {
    try {
      return packr.pack(req);
    } catch {
      return Buffer.from('not packable');
    }
  });

/** Any payload; `commands` are the command names used in the request-shaped ones. */
export const anyPayload = (commands: readonly string[] = COMMANDS) => fc.oneof(fc.uint8Array({ maxLength: 512 }), structured(commands), fc.anything().map((v) => {
  try {
    return packr.pack(v);
  } catch {
    return Buffer.alloc(0);
  }
}));

export function checkReply(reply: Reply): void {
  expect(typeof reply.ok).toBe('boolean');
  if (!reply.ok) {
    expect(ERROR_CODES).toContain(reply.error.code);
    expect(typeof reply.error.message).toBe('string');
    expect(reply.error.message.length).toBeGreaterThan(0);
  }
}

