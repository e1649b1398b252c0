/**
 * getdents64(2) and a decoder for struct linux_dirent64 records:
 *   u64 d_ino; s64 d_off; u16 d_reclen; u8 d_type; char d_name[] (NUL-terminated)
 * d_off is the filesystem's opaque cookie for the position after this entry;
 * lseek(fd, off, SEEK_SET) resumes there.
 */
import { libc, lastErrno } from './libc.js';
import { SysError } from './errno.js';
import { dataView } from './structs.js';

const getdents64_ = libc.func('intptr_t getdents64(int fd, void *buf, size_t count)');

/** Reads directory entries into `buf`; returns the number of bytes filled (0 at end). */
export function getdents64(fd: number, buf: Buffer): number {
  const r = getdents64_(fd, buf, buf.length) as number;
  if (r < 0) throw new SysError(lastErrno(), 'getdents64');
  return r;
}

export interface Dirent {
  ino: bigint;
  /** Cookie of the next entry (64-bit, opaque). */
  off: bigint;
  /** DT_* */
  type: number;
  /** View into the getdents buffer, without the NUL (which follows it, so it can be passed as a path without a copy). */
  name: Buffer;
}

/**
 * Allocation-free walk over a getdents64 buffer: call next() until it returns
 * false; the fields describe the current record. ino/off are bigints and are
 * only materialised when read.
 */
export class DirentCursor {
  private buf: Buffer = Buffer.alloc(0);
  private end = 0;
  private pos = 0;
  /** Offset of the current record in the buffer. */
  rec = -1;
  reclen = 0;
  type = 0;
  nameOff = 0;
  nameLen = 0;

  constructor(buf?: Buffer, len?: number) {
    if (buf) this.reset(buf, len ?? buf.length);
  }

  reset(buf: Buffer, len: number): this {
    this.buf = buf;
    this.end = len;
    this.pos = 0;
    this.rec = -1;
    return this;
  }

  next(): boolean {
    const b = this.buf;
    const p = this.pos;
    if (p + 19 > this.end) return false;
    const reclen = b.readUInt16LE(p + 16);
    if (reclen < 20 || p + reclen > this.end) throw new SysError(5 /* EIO */, 'getdents64: corrupt record');
    this.rec = p;
    this.reclen = reclen;
    this.type = b[p + 18]!;
    this.nameOff = p + 19;
    let nul = b.indexOf(0, p + 19);
    if (nul < 0 || nul > p + reclen) nul = p + reclen;
    this.nameLen = nul - (p + 19);
    this.pos = p + reclen;
    return true;
  }

  get ino(): bigint {
    return dataView(this.buf).getBigUint64(this.rec, true);
  }
  get off(): bigint {
    return dataView(this.buf).getBigUint64(this.rec + 8, true);
  }
  /** d_ino's low and high 32 bits. */
  get inoLo(): number {
    return this.buf.readUInt32LE(this.rec);
  }
  get inoHi(): number {
    return this.buf.readUInt32LE(this.rec + 4);
  }
  /** d_ino as a number (exact below 2^53). */
  get inoNumber(): number {
    return this.buf.readUInt32LE(this.rec + 4) * 4294967296 + this.buf.readUInt32LE(this.rec);
  }
  get name(): Buffer {
    return this.buf.subarray(this.nameOff, this.nameOff + this.nameLen);
  }
  /** True for "." and "..". */
  get isDots(): boolean {
    const b = this.buf;
    const o = this.nameOff;
    return b[o] === 0x2e && (this.nameLen === 1 || (this.nameLen === 2 && b[o + 1] === 0x2e));
  }
}

/** Decodes the first `len` bytes of a getdents64 buffer. Names are views into `buf`. */
export function* dirents(buf: Buffer, len: number = buf.length): Generator<Dirent> {
  const c = new DirentCursor(buf, len);
  while (c.next()) yield { ino: c.ino, off: c.off, type: c.type, name: c.name };
}

/** Writes one linux_dirent64 record at `pos` (for tests and synthetic listings); returns its reclen, or 0 if it does not fit. */
export function encodeDirent(buf: Buffer, pos: number, d: { ino: bigint; off: bigint; type: number; name: Buffer | string }): number {
  const name = typeof d.name === 'string' ? Buffer.from(d.name) : d.name;
  const reclen = (19 + name.length + 1 + 7) & ~7;
  if (pos + reclen > buf.length) return 0;
  buf.writeBigUInt64LE(d.ino, pos);
  buf.writeBigUInt64LE(BigInt.asUintN(64, d.off), pos + 8);
  buf.writeUInt16LE(reclen, pos + 16);
  buf[pos + 18] = d.type;
  name.copy(buf, pos + 19);
  buf.fill(0, pos + 19 + name.length, pos + reclen);
  return reclen;
}
