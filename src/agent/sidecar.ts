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
import type { SidecarItem } from './worker-protocol.js';

const EXCERPT = 120;
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

/** Splits one connection's bytes into lines, enforcing the line limit. */
export class LineSplitter {
  private parts: Buffer[] = [];
  private size = 0;
  /** Bytes of an over-long line being skipped (0 when not skipping). */
  private skipping = 0;
  /** The start of the line being skipped, for the error. */
  private excerpt = '';

  constructor(
    private readonly maxLine: number,
    private readonly emit: (item: SidecarItem) => void,
  ) {}

  push(chunk: Buffer): void {
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(0x0a, start);
      const piece = chunk.subarray(start, nl < 0 ? chunk.length : nl);
      if (this.skipping > 0) {
        this.skipping += piece.length;
      } else if (this.size + piece.length > this.maxLine) {
        this.skipping = this.size + piece.length;
        this.excerpt = Buffer.concat([...this.parts, piece]).subarray(0, EXCERPT).toString('utf8');
        this.parts = [];
        this.size = 0;
      } else if (piece.length > 0) {
        this.parts.push(piece);
        this.size += piece.length;
      }
      if (nl < 0) return;
      this.endLine();
      start = nl + 1;
    }
  }

  private endLine(): void {
    if (this.skipping > 0) {
      this.emit({ ok: false, error: `line longer than ${this.maxLine} bytes (sidecar.max_line); skipped`, excerpt: this.excerpt, bytes: this.skipping });
      this.skipping = 0;
      return;
    }
    const line = Buffer.concat(this.parts, this.size).toString('utf8').replace(/\r$/, '');
    this.parts = [];
    this.size = 0;
    if (line.trim().length > 0) this.emit(parseLine(line));
  }

  /** The connection ended: a last line without newline still counts. */
  end(): void {
    if (this.size > 0 || this.skipping > 0) this.endLine();
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
