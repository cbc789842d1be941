/**
 * The one msgpack codec for everything orchestra puts on the wire (bus payloads, control requests
 * and replies). msgpackr writes a JS number that is an integer but does not fit in 32 bits
 * (`Date.now()`, byte offsets past 4 GiB) as float64, and typed decoders in other languages reject a
 * float where the protocol says int. `pack` writes every integer-valued number as a msgpack int
 * (int64/uint64 beyond 32 bits); decoding turns 64-bit ints back into numbers while they are exact
 * (BigInt beyond 2^53, which validation then rejects as "not a number").
 */
import { type Options, Packr } from 'msgpackr';

// Records and extension types off: plain msgpack maps any client in any language can read.
// int64AsType 'auto' (a number while exact, else BigInt) is implemented but missing from msgpackr's types.
const options = { useRecords: false, moreTypes: false, int64AsType: 'auto' } as const;
export const packr = new Packr(options as unknown as Options);

/**
 * A number msgpackr would write as float64 although it is an integer, as a BigInt (written as
 * int64/uint64); anything else unchanged. Integers beyond 2^53 are not exact in a double anyway:
 * they stay floats.
 */
export function wireInt<T>(n: T): T | bigint {
  return typeof n === 'number' && (n > 0xffffffff || n < -0x80000000) && Number.isSafeInteger(n) ? BigInt(n) : n;
}

/** `value` with every integer-valued number that msgpackr would write as float64 made a BigInt; copies only what changes. */
function ints(value: unknown): unknown {
  if (typeof value === 'number') return wireInt(value);
  if (typeof value !== 'object' || value === null || ArrayBuffer.isView(value)) return value;
  if (Array.isArray(value)) {
    let out: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const v = ints(value[i]);
      if (v !== value[i]) (out ??= value.slice())[i] = v;
    }
    return out ?? value;
  }
  if (Object.getPrototypeOf(value) !== Object.prototype) return value;
  const obj = value as Record<string, unknown>;
  let out: Record<string, unknown> | undefined;
  // for…in over a plain object: no array of entries per message (sidecar bursts go through here).
  for (const k in obj) {
    const v = obj[k];
    const w = ints(v);
    if (w !== v) (out ??= { ...obj })[k] = w;
  }
  return out ?? value;
}

/** Encodes `value` for the wire: integers as msgpack ints, whatever their size (see above). */
export function pack(value: unknown): Buffer {
  return packr.pack(ints(value));
}

/** Decodes a wire payload (64-bit ints as numbers while exact). */
export function unpack(payload: Uint8Array): unknown {
  return packr.unpack(payload);
}
