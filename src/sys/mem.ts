/**
 * Memory maps.
 *
 * Anonymous ones for I/O that needs aligned buffers: a host fd opened
 * O_DIRECT accepts only buffers whose address is a multiple of the file's
 * memory alignment (STATX_DIOALIGN's dio_mem_align, at most the logical block
 * size), and Node's own buffers are not aligned at all.
 *
 * Shared ones of a file, for memory another process shares with us by fd (a
 * virtual machine's guest memory, sent over a vhost-user socket): mapShared,
 * unmapShared, and viewOf to reach the mapping from JavaScript without a copy.
 * memfd_create makes such memory (tests play the other process with it).
 */
import { libc, lastErrno, koffi } from './libc.js';
import { SysError } from './errno.js';

const mmap_ = libc.func('void *mmap(void *addr, size_t len, int prot, int flags, int fd, int64_t off)');
const munmap_ = libc.func('int munmap(void *addr, size_t len)');
const sysconf_ = libc.func('long sysconf(int name)');
const memfd_create_ = libc.func('int memfd_create(const char *name, uint32_t flags)');

export const PROT_READ = 0x1;
export const PROT_WRITE = 0x2;
export const MAP_SHARED = 0x01;
const MAP_PRIVATE = 0x02;
const MAP_ANONYMOUS = 0x20;
/** Reserve no swap for the mapping: guest memory is the guest's to commit. */
export const MAP_NORESERVE = 0x4000;
export const MFD_CLOEXEC = 0x1;
export const MFD_ALLOW_SEALING = 0x2;
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

// ---- shared maps of a file -----------------------------------------------------------

/**
 * The largest view koffi.view makes (4 GiB; asking for more aborts the
 * process, it does not throw). Callers view larger mappings in pieces.
 */
export const MAX_VIEW = 2 ** 32;

/**
 * mmap(NULL, len, prot, MAP_SHARED | flags, fd, offset): the mapping's address.
 * `offset` must be a multiple of the page size. Throws SysError.
 */
export function mapShared(fd: number, len: number, offset: number, prot = PROT_READ | PROT_WRITE, flags = 0): bigint {
  const ptr = mmap_(null, len, prot, MAP_SHARED | flags, fd, offset);
  const base = ptr === null ? MAP_FAILED : (koffi.address(ptr) as bigint);
  if (base === MAP_FAILED) throw new SysError(lastErrno(), 'mmap');
  return base;
}

/** munmap(2) of what mapShared returned. Throws SysError. */
export function unmapShared(address: bigint, len: number): void {
  if ((munmap_(address, len) as number) < 0) throw new SysError(lastErrno(), 'munmap');
}

/**
 * An ArrayBuffer over [address, address + len) of a mapping, without a copy.
 * It stays usable after the memory is unmapped, and touching it then faults
 * (SIGSEGV ends the process): whoever unmaps must first drop every view, or
 * make sure none is used again. `len` is at most MAX_VIEW.
 */
export function viewOf(address: bigint, len: number): ArrayBuffer {
  if (!(len > 0 && len <= MAX_VIEW)) throw new RangeError(`viewOf: length ${len} out of range`);
  return koffi.view(address, len);
}

/** memfd_create(2): an anonymous file in memory (MFD_CLOEXEC, MFD_ALLOW_SEALING…). Throws SysError. */
export function memfdCreate(name: string, flags = MFD_CLOEXEC): number {
  const fd = memfd_create_(name, flags) as number;
  if (fd < 0) throw new SysError(lastErrno(), 'memfd_create');
  return fd;
}
