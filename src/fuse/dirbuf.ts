/** Fills a READDIR / READDIRPLUS reply in place, stopping when the kernel's size is reached. */
import type { DirPlusSink, DirSink, Entry } from '../fs/types.js';
import { direntPlusSize, direntSize, writeDirent, writeDirentPlus } from './codec.js';

const S_IFMT = 0o170000;

export class DirBuffer implements DirSink, DirPlusSink {
  private buf!: Buffer;
  private off = 0;
  private end = 0;
  /** Entries added with a non-zero nodeid (each counts as a lookup). */
  count = 0;

  /** Start a reply at `start` in `buf`, at most `size` payload bytes. */
  reset(buf: Buffer, start: number, size: number): void {
    this.buf = buf;
    this.off = start;
    this.end = Math.min(start + size, buf.length);
    this.count = 0;
  }

  /** Payload end offset within the buffer. */
  get offset(): number {
    return this.off;
  }

  add(name: Buffer | string, ino: bigint, type: number, nextOffset: bigint): boolean {
    const n = typeof name === 'string' ? Buffer.from(name) : name;
    const sz = direntSize(n.length);
    if (this.off + sz > this.end) return false;
    this.off = writeDirent(this.buf, this.off, ino, nextOffset, type, n);
    this.count++;
    return true;
  }

  fits(name: Buffer | string): boolean {
    const len = typeof name === 'string' ? Buffer.byteLength(name) : name.length;
    return this.off + direntPlusSize(len) <= this.end;
  }

  addPlus(name: Buffer | string, entry: Entry, nextOffset: bigint): boolean {
    const n = typeof name === 'string' ? Buffer.from(name) : name;
    const sz = direntPlusSize(n.length);
    if (this.off + sz > this.end) return false;
    const type = (entry.attr.mode & S_IFMT) >>> 12;
    this.off = writeDirentPlus(this.buf, this.off, entry, nextOffset, type, n);
    this.count++;
    return true;
  }
}
