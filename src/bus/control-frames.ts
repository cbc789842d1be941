/**
 * The frame rules of the control socket: which frames of a message are the envelope to send back
 * and which are the request, so that every peer (DEALER, REQ, REQ behind a ROUTER/DEALER proxy)
 * gets its reply in a shape its socket accepts, malformed requests included.
 */

/** ZeroMQ routing ids are 1 to 255 bytes; a longer frame cannot be part of an envelope. */
const MAX_ROUTING_ID_BYTES = 255;

export interface Framed {
  /** What goes in front of the reply: the peer's routing id, then (REQ-style) the envelope up to and including the empty delimiter. */
  readonly head: readonly Buffer[];
  /** The request's frames; a valid request has exactly one. */
  readonly body: readonly Buffer[];
}

/**
 * Splits a message received on the ROUTER (`frames[0]` is the peer's routing id).
 *
 * A REQ socket puts an empty delimiter frame before its request, and proxies put routing ids
 * before that; its reply is dropped unless it carries the same envelope back. So when an empty
 * frame comes after nothing but possible routing ids and before at least one more frame, it is
 * a REQ-style envelope (as a REP socket reads it). Otherwise it is a DEALER-style message, whose
 * reply is the one frame alone. Undefined only when there is no routing id at all.
 */
export function splitFrames(frames: readonly Buffer[]): Framed | undefined {
  const [identity, ...rest] = frames;
  if (identity === undefined) return undefined;
  const delimiter = rest.findIndex((f) => f.length === 0);
  const enveloped = delimiter >= 0 && delimiter < rest.length - 1 && rest.slice(0, delimiter).every((f) => f.length <= MAX_ROUTING_ID_BYTES);
  return enveloped ? { head: [identity, ...rest.slice(0, delimiter + 1)], body: rest.slice(delimiter + 1) } : { head: [identity], body: rest };
}
