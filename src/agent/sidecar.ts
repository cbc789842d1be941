/**
 * The sidecar channel: a Unix socket (0600) per agent on which the agent, or any hook script it
 * runs, writes newline-delimited JSON events `{"type": "...", ...}`. Any number of connections, one
 * after the other or at once (hooks connect per event). Every line becomes one item, in arrival
 * order: a valid event, or an error saying what was wrong with the line. A bad line never closes
 * the connection; a line longer than the limit is skipped up to its newline.
 */
import { chmodSync, mkdirSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { dirname } from 'node:path';
import { EXCERPT, Lines } from '../host/lines.js';
import type { SidecarItem } from './worker-protocol.js';

const MAX_TYPE = 64;

/** Validates one line (without its newline). */
export function parseLine(line: string): SidecarItem {
  const bytes = Buffer.byteLength(line);
  const excerpt = line.slice(0, EXCERPT);
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (err) {
    return { ok: false, error: `not JSON: ${(err as Error).message}`, excerpt, bytes };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { ok: false, error: 'expected a JSON object {"type": "...", ...}', excerpt, bytes };
  const type = (value as { type?: unknown }).type;
  if (typeof type !== 'string' || type.length === 0 || type.length > MAX_TYPE) {
    return { ok: false, error: `expected "type": a string of 1 to ${MAX_TYPE} characters`, excerpt, bytes };
  }
  return { ok: true, type, event: value as Record<string, unknown> };
}

/** One connection's lines as sidecar items; a line over the limit is skipped and reported. */
export class LineSplitter extends Lines<SidecarItem> {
  constructor(maxLine: number, emit: (item: SidecarItem) => void) {
    super(maxLine, emit, parseLine, (excerpt, bytes) => ({ ok: false, error: `line longer than ${maxLine} bytes (sidecar.max_line); skipped`, excerpt, bytes }));
  }
}

export class SidecarServer {
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();

  constructor(
    readonly path: string,
    private readonly maxLine: number,
    private readonly emit: (item: SidecarItem) => void,
  ) {
    this.server = createServer((sock) => this.accept(sock));
  }

  async listen(): Promise<void> {
    mkdirSync(dirname(this.path), { recursive: true, mode: 0o700 });
    rmSync(this.path, { force: true });
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.path, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    chmodSync(this.path, 0o600);
  }

  private accept(sock: Socket): void {
    this.sockets.add(sock);
    const lines = new LineSplitter(this.maxLine, this.emit);
    sock.on('data', (d: Buffer) => lines.push(d));
    sock.on('end', () => lines.end());
    sock.on('error', () => undefined);
    sock.on('close', () => this.sockets.delete(sock));
  }

  close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    return new Promise((resolve) => {
      this.server.close(() => {
        rmSync(this.path, { force: true });
        resolve();
      });
    });
  }
}
