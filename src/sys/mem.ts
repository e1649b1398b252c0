/**
 * Anonymous memory maps, for I/O that needs aligned buffers: a host fd opened
 * O_DIRECT accepts only buffers whose address is a multiple of the file's
 * memory alignment (STATX_DIOALIGN's dio_mem_align, at most the logical block
 * size), and Node's own buffers are not aligned at all.
 */
import { libc, lastErrno, koffi } from './libc.js';
import { SysError } from './errno.js';

const mmap_ = libc.func('void *mmap(void *addr, size_t len, int prot, int flags, int fd, int64_t off)');
const munmap_ = libc.func('int munmap(void *addr, size_t len)');
const sysconf_ = libc.func('long sysconf(int name)');

const PROT_READ = 0x1;
const PROT_WRITE = 0x2;
const MAP_PRIVATE = 0x02;
const MAP_ANONYMOUS = 0x20;
const SC_PAGESIZE = 30;
const MAP_FAILED = 0xffffffffffffffffn;

export const pageSize: number = sysconf_(SC_PAGESIZE) as number;

/** A private anonymous mapping of `len` bytes: zero-filled, page-aligned, committed only as it is touched. */
interface Mapping {
  ptr: unknown;
  len: number;
  base: bigint;
}

function map(len: number): Mapping {
  const ptr = mmap_(null, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  const base = ptr === null ? MAP_FAILED : (koffi.address(ptr) as bigint);
  if (base === MAP_FAILED) throw new SysError(lastErrno(), 'mmap');
  return { ptr, len, base };
}

function unmap(m: Mapping): void {
  if ((munmap_(m.ptr, m.len) as number) < 0) throw new SysError(lastErrno(), 'munmap');
}

const roundUp = (n: number, to: number) => Math.ceil(n / to) * to;

/**
 * One reusable buffer at an aligned address, grown on demand. What `get`
 * returns is valid only until the next `get` or `release`: a larger request
 * replaces the mapping (and unmaps the old one), so callers must use the view
 * synchronously and keep no reference to it.
 */
export class AlignedBuffer {
  private m: Mapping | undefined;
  private view = Buffer.alloc(0);
  private align = 0;

  /** `size` bytes starting at a multiple of `align` (a power of two; a page or more is always given). */
  get(size: number, align: number): Buffer {
    if (size > this.view.length || align > this.align) this.grow(size, align);
    return size === this.view.length ? this.view : this.view.subarray(0, size);
  }

  private grow(size: number, align: number): void {
    const a = Math.max(align, this.align, pageSize);
    const cap = roundUp(Math.max(size, this.view.length, pageSize), pageSize);
    // mmap gives page alignment; a larger one needs room to slide the view up.
    const m = map(cap + (a > pageSize ? a : 0));
    const skip = Number((BigInt(a) - (m.base % BigInt(a))) % BigInt(a));
    const old = this.m;
    this.m = m;
    this.view = Buffer.from(koffi.view(m.ptr, m.len), skip, cap);
    this.align = a;
    if (old) unmap(old);
  }

  /** Give the memory back; the next `get` maps anew. */
  release(): void {
    const old = this.m;
    this.m = undefined;
    this.view = Buffer.alloc(0);
    this.align = 0;
    if (old) unmap(old);
  }
}
