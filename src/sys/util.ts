/** Argument helpers shared by the call wrappers: C strings from paths, raw addresses of buffers. */
import { koffi } from './libc.js';

/** A path or name argument: a JS string (encoded as UTF-8 by koffi) or raw bytes. */
export type PathArg = string | Buffer;

// The last ArrayBuffer whose byte after a view we looked at. FUSE request names
// are views into one long-lived read buffer, so this almost always hits.
let peekAB: ArrayBufferLike | null = null;
let peekU8: Uint8Array = new Uint8Array(0);

function nulFollows(b: Uint8Array): boolean {
  const ab = b.buffer;
  const end = b.byteOffset + b.byteLength;
  if (end >= ab.byteLength) return false;
  if (ab !== peekAB) {
    peekAB = ab;
    peekU8 = new Uint8Array(ab);
  }
  return peekU8[end] === 0;
}

// One scratch per argument position (renameat2/linkat/symlinkat take two).
const scratch: Buffer[] = [Buffer.alloc(256), Buffer.alloc(256)];

/**
 * A NUL-terminated form of `p` that koffi can pass as `const char *` without
 * copying when possible: strings go as-is; a Buffer whose last byte is NUL, or
 * whose view is followed by a NUL in its ArrayBuffer, goes as-is; anything else
 * is copied into a per-slot scratch buffer (valid until the next call on that slot).
 */
export function cstr(p: PathArg, slot: 0 | 1 = 0): string | Buffer {
  if (typeof p === 'string') return p;
  const n = p.length;
  if ((n > 0 && p[n - 1] === 0) || nulFollows(p)) return p;
  let s = scratch[slot]!;
  if (s.length < n + 1) {
    s = Buffer.alloc(Math.max(n + 1, s.length * 2));
    scratch[slot] = s;
  }
  p.copy(s, 0, 0, n);
  s[n] = 0;
  return s;
}

// Base address of each ArrayBuffer we have handed out a pointer into. Backing
// stores of ArrayBuffers do not move once materialised off-heap (reading
// `.buffer` forces that for small on-heap typed arrays), so caching is safe.
const bases = new WeakMap<ArrayBufferLike, number>();

/**
 * Address of the first byte of a view, as a number (user-space addresses fit in
 * 53 bits on x86_64 and arm64). The caller must keep the view alive for as long
 * as the address is in use by the kernel.
 */
export function addressOf(b: ArrayBufferView): number {
  if (b.byteLength === 0) return 0;
  const ab = b.buffer;
  let base = bases.get(ab);
  if (base === undefined) {
    base = Number(koffi.address(b)) - b.byteOffset;
    bases.set(ab, base);
  }
  return base + b.byteOffset;
}

/**
 * A DataView over the last buffer asked for. Field access through a DataView
 * is inlined by V8 (several times faster than the Buffer read and write methods, notably for
 * 64-bit fields); hot paths reuse one buffer, so one cached view covers them.
 * Keep one cache per stream of buffers (requests, replies, structs).
 */
export class ViewCache {
  private buf: Uint8Array | undefined;
  private view: DataView = new DataView(new ArrayBuffer(0));

  of(b: Uint8Array): DataView {
    if (b !== this.buf) {
      this.view = new DataView(b.buffer, b.byteOffset, b.byteLength);
      this.buf = b;
    }
    return this.view;
  }
}
