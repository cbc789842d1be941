/**
 * Strict UTF-8 for the strings of a control request.
 *
 * msgpackr decodes invalid UTF-8 leniently (each bad byte becomes U+FFFD), and after decoding a
 * replacement character cannot be told from a real one (EF BF BD is valid UTF-8). So the raw
 * bytes are checked: a walk over the msgpack encoding that hands every str payload to a fatal
 * TextDecoder and keeps the path of the field it is in, to name it in the error.
 */

const strict = new TextDecoder('utf-8', { fatal: true });

function validUtf8(bytes: Uint8Array): boolean {
  // Pure ASCII is the common case and needs no decoder.
  if (bytes.every((b) => b < 0x80)) return true;
  try {
    strict.decode(bytes);
    return true;
  } catch {
    return false;
  }
}

/** A container being walked: how many items are left and where it sits in the request. */
interface Frame {
  readonly path: string;
  readonly isMap: boolean;
  /** Items left: for a map, keys and values both count. */
  left: number;
  index: number;
  /** The path of the value that follows the key just read (maps). */
  valuePath: string;
}

const MAX_KEY_IN_PATH = 64;

function child(parent: Frame | undefined, key: string | number): string {
  if (typeof key === 'number') return `${parent?.path ?? ''}[${key}]`;
  const shown = /^[A-Za-z_][A-Za-z0-9_-]*$/.test(key) && key.length <= MAX_KEY_IN_PATH ? key : JSON.stringify(key.slice(0, MAX_KEY_IN_PATH));
  return parent === undefined || parent.path === '' ? shown : `${parent.path}.${shown}`;
}

/** Reads the size and payload position of the item at `pos`: `[header bytes, payload bytes, kind]`. */
function item(buf: Uint8Array, view: DataView, pos: number): [number, number, 'str' | 'skip' | 'array' | 'map'] {
  const b = buf[pos];
  if (b === undefined) throw new RangeError('truncated');
  if (b <= 0x7f || b >= 0xe0 || b === 0xc0 || b === 0xc2 || b === 0xc3) return [1, 0, 'skip'];
  if (b <= 0x8f) return [1, b & 0x0f, 'map'];
  if (b <= 0x9f) return [1, b & 0x0f, 'array'];
  if (b <= 0xbf) return [1, b & 0x1f, 'str'];
  switch (b) {
    case 0xc4: return [2, view.getUint8(pos + 1), 'skip'];
    case 0xc5: return [3, view.getUint16(pos + 1), 'skip'];
    case 0xc6: return [5, view.getUint32(pos + 1), 'skip'];
    case 0xc7: return [3, view.getUint8(pos + 1), 'skip'];
    case 0xc8: return [4, view.getUint16(pos + 1), 'skip'];
    case 0xc9: return [6, view.getUint32(pos + 1), 'skip'];
    case 0xca: return [5, 0, 'skip'];
    case 0xcb: return [9, 0, 'skip'];
    case 0xcc: case 0xd0: return [2, 0, 'skip'];
    case 0xcd: case 0xd1: return [3, 0, 'skip'];
    case 0xce: case 0xd2: return [5, 0, 'skip'];
    case 0xcf: case 0xd3: return [9, 0, 'skip'];
    case 0xd4: return [3, 0, 'skip'];
    case 0xd5: return [4, 0, 'skip'];
    case 0xd6: return [6, 0, 'skip'];
    case 0xd7: return [10, 0, 'skip'];
    case 0xd8: return [18, 0, 'skip'];
    case 0xd9: return [2, view.getUint8(pos + 1), 'str'];
    case 0xda: return [3, view.getUint16(pos + 1), 'str'];
    case 0xdb: return [5, view.getUint32(pos + 1), 'str'];
    case 0xdc: return [3, view.getUint16(pos + 1), 'array'];
    case 0xdd: return [5, view.getUint32(pos + 1), 'array'];
    case 0xde: return [3, view.getUint16(pos + 1), 'map'];
    case 0xdf: return [5, view.getUint32(pos + 1), 'map'];
    default: throw new RangeError(`byte 0x${b.toString(16)} starts no msgpack item`);
  }
}

/**
 * The path (e.g. `args.text`, `args.list[2]`, `args` for a map key) of the first msgpack string
 * in `buf` that is not valid UTF-8, or undefined when every string is. `buf` holds one msgpack
 * value (the decoder has accepted it); anything it cannot walk is reported as the whole request.
 */
export function findInvalidUtf8(buf: Uint8Array): string | undefined {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const stack: Frame[] = [];
  let pos = 0;
  try {
    do {
      const parent = stack[stack.length - 1];
      let path = '';
      let isKey = false;
      if (parent) {
        if (parent.isMap) {
          isKey = parent.left % 2 === 0;
          path = isKey ? parent.path : parent.valuePath;
        } else {
          path = child(parent, parent.index++);
        }
        parent.left--;
      }
      const [header, size, kind] = item(buf, view, pos);
      pos += header;
      if (kind === 'str') {
        const bytes = buf.subarray(pos, pos + size);
        if (bytes.length < size) throw new RangeError('truncated');
        if (!validUtf8(bytes)) return isKey ? `${path || 'request'} (a key)` : path || 'request';
        if (isKey && parent) parent.valuePath = child(parent, Buffer.from(bytes).toString('utf8'));
        pos += size;
      } else if (kind === 'skip') {
        if (isKey && parent) parent.valuePath = `${parent.path}[?]`;
        pos += size;
      } else {
        if (isKey && parent) parent.valuePath = `${parent.path}[?]`;
        stack.push({ path, isMap: kind === 'map', left: kind === 'map' ? size * 2 : size, index: 0, valuePath: '' });
      }
      while (stack.at(-1)?.left === 0) stack.pop();
    } while (stack.length > 0);
  } catch {
    return 'request';
  }
  return undefined;
}
