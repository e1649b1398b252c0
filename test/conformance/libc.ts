/** The syscalls Node lacks, through koffi. Failures throw an Error whose `code` is the errno name, like Node's own. */
import koffi from 'koffi';
import { constants } from 'node:os';

const libc = koffi.load('libc.so.6');

const errnoNames = new Map<number, string>();
for (const [name, n] of Object.entries(constants.errno)) if (!errnoNames.has(n)) errnoNames.set(n, name);
errnoNames.set(constants.errno.EOPNOTSUPP, 'EOPNOTSUPP'); // rather than its alias ENOTSUP

export class SyscallError extends Error {
  constructor(readonly syscall: string, readonly errno: number, readonly code = errnoNames.get(errno) ?? `E#${errno}`) {
    super(`${syscall}: ${code}`);
  }
}

function check<T extends number | bigint>(syscall: string, ret: T): T {
  if (ret < 0) throw new SyscallError(syscall, koffi.errno());
  return ret;
}

export const AT_FDCWD = -100;
export const AT_SYMLINK_NOFOLLOW = 0x100;
export const RENAME_NOREPLACE = 1;
export const RENAME_EXCHANGE = 2;
export const SEEK_SET = 0;
export const SEEK_CUR = 1;
export const SEEK_END = 2;
export const SEEK_DATA = 3;
export const SEEK_HOLE = 4;
export const FALLOC_FL_KEEP_SIZE = 1;
export const FALLOC_FL_PUNCH_HOLE = 2;
export const FALLOC_FL_ZERO_RANGE = 0x10;
export const UTIME_NOW = (1 << 30) - 1;
export const UTIME_OMIT = (1 << 30) - 2;
export const XATTR_CREATE = 1;
export const XATTR_REPLACE = 2;
export const AT_SYMLINK_FOLLOW = 0x400;
export const O_TMPFILE = 0o20200000; // __O_TMPFILE | O_DIRECTORY
export const PROT_READ = 1;
export const PROT_WRITE = 2;
export const MAP_SHARED = 1;
export const MAP_PRIVATE = 2;
const MS_SYNC = 4;
export const F_GETLK = 5;
export const F_SETLK = 6;
export const F_RDLCK = 0;
export const F_WRLCK = 1;
export const F_UNLCK = 2;

const renameat2_ = libc.func('int renameat2(int, const char *, int, const char *, unsigned int)');
const lseek_ = libc.func('int64_t lseek(int, int64_t, int)');
const fallocate_ = libc.func('int fallocate(int, int, int64_t, int64_t)');
const utimensat_ = libc.func('int utimensat(int, const char *, const void *, int)');
const getdents64_ = libc.func('long getdents64(int, void *, size_t)');
const copyFileRange_ = libc.func('long copy_file_range(int, void *, int, void *, size_t, unsigned int)');
const fcntl_ = libc.func('int fcntl(int, int, ...)');
const mmap_ = libc.func('void *mmap(void *, size_t, int, int, int, int64_t)');
const munmap_ = libc.func('int munmap(void *, size_t)');
const msync_ = libc.func('int msync(void *, size_t, int)');
const linkat_ = libc.func('int linkat(int, const char *, int, const char *, int)');
const statfs_ = libc.func('int statfs(const char *, void *)');
const setxattr_ = libc.func('int setxattr(const char *, const char *, const void *, size_t, int)');
const lsetxattr_ = libc.func('int lsetxattr(const char *, const char *, const void *, size_t, int)');
const getxattr_ = libc.func('long getxattr(const char *, const char *, void *, size_t)');
const lgetxattr_ = libc.func('long lgetxattr(const char *, const char *, void *, size_t)');
const listxattr_ = libc.func('long listxattr(const char *, void *, size_t)');
const llistxattr_ = libc.func('long llistxattr(const char *, void *, size_t)');
const removexattr_ = libc.func('int removexattr(const char *, const char *)');
const lremovexattr_ = libc.func('int lremovexattr(const char *, const char *)');

export function renameat2(from: string, to: string, flags: number): void {
  check('renameat2', renameat2_(AT_FDCWD, from, AT_FDCWD, to, flags) as number);
}

export function lseek(fd: number, offset: number, whence: number): number {
  return Number(check('lseek', lseek_(fd, offset, whence) as number | bigint));
}

export function fallocate(fd: number, mode: number, offset: number, len: number): void {
  check('fallocate', fallocate_(fd, mode, offset, len) as number);
}

export type Time = { sec: number; nsec: number } | 'now' | 'omit';

/** utimensat(AT_FDCWD, path, [atime, mtime], flags); `null` times means "both now". */
export function utimensat(path: string, times: [Time, Time] | null, flags = 0): void {
  let buf: Buffer | null = null;
  if (times) {
    buf = Buffer.alloc(32);
    times.forEach((t, i) => {
      const [sec, nsec] = t === 'now' ? [0, UTIME_NOW] : t === 'omit' ? [0, UTIME_OMIT] : [t.sec, t.nsec];
      buf!.writeBigInt64LE(BigInt(sec), i * 16);
      buf!.writeBigInt64LE(BigInt(nsec), i * 16 + 8);
    });
  }
  check('utimensat', utimensat_(AT_FDCWD, path, buf, flags) as number);
}

export interface Dirent64 {
  ino: bigint;
  off: bigint;
  type: number;
  name: string;
}

/** One getdents64 call with a buffer of `size` bytes; an empty array at the end of the directory. */
export function getdents64(fd: number, size: number): Dirent64[] {
  const buf = Buffer.alloc(size);
  const n = Number(check('getdents64', getdents64_(fd, buf, size) as number | bigint));
  const out: Dirent64[] = [];
  for (let pos = 0; pos < n;) {
    const reclen = buf.readUInt16LE(pos + 16);
    const end = buf.indexOf(0, pos + 19);
    out.push({
      ino: buf.readBigUInt64LE(pos),
      off: buf.readBigInt64LE(pos + 8),
      type: buf[pos + 18]!,
      name: buf.toString('utf8', pos + 19, end),
    });
    pos += reclen;
  }
  return out;
}

/** copy_file_range; offsets are used and updated in place when given (else the file positions are). */
export function copyFileRange(fdIn: number, offIn: BigInt64Array | null, fdOut: number, offOut: BigInt64Array | null, len: number): number {
  return Number(check('copy_file_range', copyFileRange_(fdIn, offIn, fdOut, offOut, len, 0) as number | bigint));
}

export interface Flock {
  type: number;
  start: number;
  len: number;
  pid: number;
}

/** fcntl(F_SETLK / F_GETLK) with a struct flock (x86_64 layout: short, short, pad, off_t, off_t, pid_t, pad). */
export function fcntlLock(fd: number, cmd: number, lock: Omit<Flock, 'pid'>): Flock {
  const buf = Buffer.alloc(32);
  buf.writeInt16LE(lock.type, 0);
  buf.writeInt16LE(SEEK_SET, 2);
  buf.writeBigInt64LE(BigInt(lock.start), 8);
  buf.writeBigInt64LE(BigInt(lock.len), 16);
  check('fcntl', fcntl_(fd, cmd, 'void *', buf) as number);
  return { type: buf.readInt16LE(0), start: Number(buf.readBigInt64LE(8)), len: Number(buf.readBigInt64LE(16)), pid: buf.readInt32LE(24) };
}

export interface StatFs {
  type: bigint;
  bsize: number;
  blocks: number;
  files: number;
  namelen: number;
  frsize: number;
}

export function statfs(path: string): StatFs {
  const buf = Buffer.alloc(120);
  check('statfs', statfs_(path, buf) as number);
  const n = (off: number) => Number(buf.readBigInt64LE(off));
  return { type: buf.readBigInt64LE(0), bsize: n(8), blocks: n(16), files: n(40), namelen: n(64), frsize: n(72) };
}

export function setxattr(path: string, name: string, value: Buffer | string, flags = 0, nofollow = false): void {
  const v = Buffer.from(value);
  check('setxattr', (nofollow ? lsetxattr_ : setxattr_)(path, name, v, v.length, flags) as number);
}

/** getxattr with a buffer of `size` bytes (0 asks for the size: the result is then the length as a string). */
export function getxattr(path: string, name: string, size = 65536, nofollow = false): Buffer | number {
  const buf = Buffer.alloc(size);
  const n = Number(check('getxattr', (nofollow ? lgetxattr_ : getxattr_)(path, name, size ? buf : null, size) as number | bigint));
  return size ? buf.subarray(0, n) : n;
}

export function listxattr(path: string, size = 65536, nofollow = false): string[] | number {
  const buf = Buffer.alloc(size);
  const n = Number(check('listxattr', (nofollow ? llistxattr_ : listxattr_)(path, size ? buf : null, size) as number | bigint));
  if (!size) return n;
  return buf.toString('utf8', 0, n).split('\0').filter(Boolean);
}

export function removexattr(path: string, name: string, nofollow = false): void {
  check('removexattr', (nofollow ? lremovexattr_ : removexattr_)(path, name) as number);
}

export function linkat(from: string, to: string, flags: number): void {
  check('linkat', linkat_(AT_FDCWD, from, AT_FDCWD, to, flags) as number);
}

/** Maps `len` bytes of fd, hands the mapping to `fn` as a Buffer, then msyncs (shared mappings) and unmaps. */
export function withMmap<T>(fd: number, len: number, prot: number, flags: number, fn: (mem: Buffer) => T): T {
  const ptr = mmap_(null, len, prot, flags, fd, 0);
  if (koffi.address(ptr) === 0xffffffffffffffffn) throw new SyscallError('mmap', koffi.errno());
  try {
    const out = fn(Buffer.from(koffi.view(ptr, len)));
    if (flags & MAP_SHARED) check('msync', msync_(ptr, len, MS_SYNC) as number);
    return out;
  } finally {
    munmap_(ptr, len);
  }
}

const MAP_ANONYMOUS = 0x20;

/**
 * `len` bytes of page-aligned anonymous memory (O_DIRECT needs aligned buffers; Node's are not), kept for the
 * process's life: the few callers allocate once.
 */
export function alignedBuffer(len: number): Buffer {
  const ptr = mmap_(null, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (koffi.address(ptr) === 0xffffffffffffffffn) throw new SyscallError('mmap', koffi.errno());
  return Buffer.from(koffi.view(ptr, len));
}

const F_GETFL = 3;
const F_SETFL = 4;

/** Sets or clears file status flags (e.g. O_DIRECT) on an open file, as fcntl(F_SETFL) does. */
export function setFileFlags(fd: number, set: number, clear = 0): void {
  const cur = check('fcntl', fcntl_(fd, F_GETFL, 'int', 0) as number);
  check('fcntl', fcntl_(fd, F_SETFL, 'int', (cur & ~clear) | set) as number);
}
