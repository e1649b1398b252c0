/**
 * File and directory calls. Each wrapper makes one synchronous libc call on the
 * calling thread and throws SysError(errno, name) when it fails. Buffers are
 * passed to the kernel in place (a subarray limits the length).
 */
import { libc, lastErrno } from './libc.js';
import { callAsync } from './lock.js';
import { SysError } from './errno.js';
import { cstr, addressOf, type PathArg } from './util.js';
import {
  AT_EMPTY_PATH, MAX_HANDLE_SZ, AT_HANDLE_MNT_ID_UNIQUE, PATH_MAX, SYS,
} from './constants.js';
import {
  SIZEOF_STATX, SIZEOF_STATFS, SIZEOF_STATVFS, SIZEOF_STAT, SIZEOF_TIMESPEC2, SIZEOF_OPEN_HOW, SIZEOF_IOVEC, FILE_HANDLE_HEADER,
  decodeStatx, decodeStat, decodeStatfs, decodeStatvfs, encodeTimespecs, encodeOpenHow, writeI64, offsetPointers,
  type Statx, type Stat, type Statfs, type Statvfs, type Timespecs,
} from './structs.js';

const ENOSYS = 38;
const EFAULT = 14;

// ---- declarations (once, at load) -------------------------------------------

const openat_ = libc.func('int openat(int dirfd, const char *path, int flags, uint32_t mode)');
const openat2_ = libc.func('syscall', 'long', ['long', 'int', 'const char *', 'void *', 'size_t']);
const close_ = libc.func('int close(int fd)');
const read_ = libc.func('intptr_t read(int fd, void *buf, size_t count)');
const write_ = libc.func('intptr_t write(int fd, const void *buf, size_t count)');
const pread_ = libc.func('intptr_t pread64(int fd, void *buf, size_t count, int64_t offset)');
const pwrite_ = libc.func('intptr_t pwrite64(int fd, const void *buf, size_t count, int64_t offset)');
const readv_ = libc.func('intptr_t readv(int fd, const void *iov, int iovcnt)');
const writev_ = libc.func('intptr_t writev(int fd, const void *iov, int iovcnt)');
const preadv_ = libc.func('intptr_t preadv64(int fd, const void *iov, int iovcnt, int64_t offset)');
const pwritev_ = libc.func('intptr_t pwritev64(int fd, const void *iov, int iovcnt, int64_t offset)');
const pwritev2_ = libc.func('intptr_t pwritev64v2(int fd, const void *iov, int iovcnt, int64_t offset, int flags)');
const statx_ = libc.func('int statx(int dirfd, const char *path, int flags, uint32_t mask, void *buf)');
const fstatat_ = libc.func('int fstatat(int dirfd, const char *path, void *buf, int flags)');
const fstat_ = libc.func('int fstat(int fd, void *buf)');
const fstatfs_ = libc.func('int fstatfs(int fd, void *buf)');
const statfs_ = libc.func('int statfs(const char *path, void *buf)');
const fstatvfs_ = libc.func('int fstatvfs(int fd, void *buf)');
const fchmod_ = libc.func('int fchmod(int fd, uint32_t mode)');
const fchmodat_ = libc.func('int fchmodat(int dirfd, const char *path, uint32_t mode, int flags)');
const fchmodat2_ = libc.func('syscall', 'long', ['long', 'int', 'const char *', 'uint32_t', 'int']);
// uid_t/gid_t declared as int so that -1 ("leave unchanged") passes through.
const fchownat_ = libc.func('int fchownat(int dirfd, const char *path, int uid, int gid, int flags)');
const fchown_ = libc.func('int fchown(int fd, int uid, int gid)');
const ftruncate_ = libc.func('int ftruncate64(int fd, int64_t length)');
const truncate_ = libc.func('int truncate64(const char *path, int64_t length)');
const utimensat_ = libc.func('int utimensat(int dirfd, const char *path, const void *times, int flags)');
const futimens_ = libc.func('int futimens(int fd, const void *times)');
const readlinkat_ = libc.func('intptr_t readlinkat(int dirfd, const char *path, void *buf, size_t size)');
const symlinkat_ = libc.func('int symlinkat(const char *target, int newdirfd, const char *linkpath)');
const mknodat_ = libc.func('int mknodat(int dirfd, const char *path, uint32_t mode, uint64_t dev)');
const mkdirat_ = libc.func('int mkdirat(int dirfd, const char *path, uint32_t mode)');
const unlinkat_ = libc.func('int unlinkat(int dirfd, const char *path, int flags)');
const renameat2_ = libc.func('int renameat2(int olddirfd, const char *oldpath, int newdirfd, const char *newpath, uint32_t flags)');
const linkat_ = libc.func('int linkat(int olddirfd, const char *oldpath, int newdirfd, const char *newpath, int flags)');
const faccessat_ = libc.func('int faccessat(int dirfd, const char *path, int mode, int flags)');
const fsync_ = libc.func('int fsync(int fd)');
const fdatasync_ = libc.func('int fdatasync(int fd)');
const syncfs_ = libc.func('int syncfs(int fd)');
const fallocate_ = libc.func('int fallocate64(int fd, int mode, int64_t offset, int64_t len)');
const lseek_ = libc.func('int64_t lseek64(int fd, int64_t offset, int whence)');
const copy_file_range_ = libc.func('intptr_t copy_file_range(int fdin, void *offin, int fdout, void *offout, size_t len, uint32_t flags)');
const dup_ = libc.func('int dup(int fd)');
const dup3_ = libc.func('int dup3(int oldfd, int newfd, int flags)');
const name_to_handle_at_ = libc.func('int name_to_handle_at(int dirfd, const char *path, void *handle, void *mount_id, int flags)');
const open_by_handle_at_ = libc.func('int open_by_handle_at(int mount_fd, void *handle, int flags)');
const close_range_ = libc.func('syscall', 'long', ['long', 'uint32_t', 'uint32_t', 'uint32_t']);

// Scratch buffers: calls are synchronous and single-threaded, so one each suffices.
const statxBuf = Buffer.alloc(SIZEOF_STATX);
const statBuf = Buffer.alloc(SIZEOF_STAT);
const statfsBuf = Buffer.alloc(SIZEOF_STATFS);
const statvfsBuf = Buffer.alloc(SIZEOF_STATVFS);
const timesBuf = Buffer.alloc(SIZEOF_TIMESPEC2);
const howBuf = Buffer.alloc(SIZEOF_OPEN_HOW);
const linkBuf = Buffer.alloc(PATH_MAX + 1);
const mntIdBuf = Buffer.alloc(8);
let iovBuf = Buffer.alloc(64 * SIZEOF_IOVEC);

// ---- open / close -------------------------------------------------------------

export function openat(dirfd: number, path: PathArg, flags: number, mode = 0): number {
  const fd = openat_(dirfd, cstr(path), flags, mode) as number;
  if (fd < 0) throw new SysError(lastErrno(), 'openat');
  return fd;
}

/** openat2(2) through syscall(2): glibc 2.36 has no wrapper. `resolve` is RESOLVE_* bits. */
export function openat2(dirfd: number, path: PathArg, flags: number, mode = 0, resolve = 0): number {
  encodeOpenHow({ flags, mode, resolve }, howBuf);
  const fd = openat2_(SYS.openat2, dirfd, cstr(path), howBuf, SIZEOF_OPEN_HOW) as number;
  if (fd < 0) throw new SysError(lastErrno(), 'openat2');
  return fd;
}

export function close(fd: number): void {
  if ((close_(fd) as number) < 0) throw new SysError(lastErrno(), 'close');
}

/** close_range(2) (5.9+); flags: CLOSE_RANGE_CLOEXEC = 4, CLOSE_RANGE_UNSHARE = 2. */
export function closeRange(first: number, last: number, flags = 0): void {
  if ((close_range_(SYS.close_range, first, last >>> 0, flags) as number) < 0) throw new SysError(lastErrno(), 'close_range');
}

export function dup(fd: number): number {
  const r = dup_(fd) as number;
  if (r < 0) throw new SysError(lastErrno(), 'dup');
  return r;
}

export function dup3(oldfd: number, newfd: number, flags = 0): number {
  const r = dup3_(oldfd, newfd, flags) as number;
  if (r < 0) throw new SysError(lastErrno(), 'dup3');
  return r;
}

// ---- read / write ---------------------------------------------------------------

export function read(fd: number, buf: Uint8Array): number {
  const r = read_(fd, buf, buf.byteLength) as number;
  if (r < 0) throw new SysError(lastErrno(), 'read');
  return r;
}

export function write(fd: number, buf: Uint8Array): number {
  const r = write_(fd, buf, buf.byteLength) as number;
  if (r < 0) throw new SysError(lastErrno(), 'write');
  return r;
}

/**
 * read/write for loops where failures are routine (EAGAIN on a non-blocking
 * fd, ENOENT for a FUSE reply to an interrupted request): the byte count, or
 * a negative errno; nothing is thrown or allocated.
 */
export function readRaw(fd: number, buf: Uint8Array): number {
  const r = read_(fd, buf, buf.byteLength) as number;
  return r < 0 ? -lastErrno() : r;
}

export function writeRaw(fd: number, buf: Uint8Array, len: number): number {
  const r = write_(fd, buf, len) as number;
  return r < 0 ? -lastErrno() : r;
}

export function pread(fd: number, buf: Uint8Array, pos: number | bigint): number {
  const r = pread_(fd, buf, buf.byteLength, pos) as number;
  if (r < 0) throw new SysError(lastErrno(), 'pread');
  return r;
}

export function pwrite(fd: number, buf: Uint8Array, pos: number | bigint): number {
  const r = pwrite_(fd, buf, buf.byteLength, pos) as number;
  if (r < 0) throw new SysError(lastErrno(), 'pwrite');
  return r;
}

function fillIov(bufs: readonly ArrayBufferView[]): void {
  const need = bufs.length * SIZEOF_IOVEC;
  if (iovBuf.length < need) iovBuf = Buffer.alloc(Math.max(need, iovBuf.length * 2));
  for (let i = 0; i < bufs.length; i++) {
    const v = bufs[i]!;
    writeI64(iovBuf, i * 16, addressOf(v));
    writeI64(iovBuf, i * 16 + 8, v.byteLength);
  }
}

/** Scatter read into `bufs` (at most IOV_MAX = 1024). */
export function readv(fd: number, bufs: readonly ArrayBufferView[]): number {
  fillIov(bufs);
  const r = readv_(fd, iovBuf, bufs.length) as number;
  if (r < 0) throw new SysError(lastErrno(), 'readv');
  return r;
}

/** Gather write of `bufs` in one syscall (e.g. a FUSE reply header + payload). */
export function writev(fd: number, bufs: readonly ArrayBufferView[]): number {
  fillIov(bufs);
  const r = writev_(fd, iovBuf, bufs.length) as number;
  if (r < 0) throw new SysError(lastErrno(), 'writev');
  return r;
}

export function preadv(fd: number, bufs: readonly ArrayBufferView[], pos: number | bigint): number {
  fillIov(bufs);
  const r = preadv_(fd, iovBuf, bufs.length, pos) as number;
  if (r < 0) throw new SysError(lastErrno(), 'preadv');
  return r;
}

export function pwritev(fd: number, bufs: readonly ArrayBufferView[], pos: number | bigint): number {
  fillIov(bufs);
  const r = pwritev_(fd, iovBuf, bufs.length, pos) as number;
  if (r < 0) throw new SysError(lastErrno(), 'pwritev');
  return r;
}

const oneIov = Buffer.alloc(SIZEOF_IOVEC);

/** pwritev2(2) of one buffer with RWF_* `flags` (e.g. RWF_NOAPPEND: honour `pos` on an O_APPEND fd, Linux ≥ 6.9). */
export function pwrite2(fd: number, buf: Uint8Array, pos: number | bigint, flags: number): number {
  writeI64(oneIov, 0, addressOf(buf));
  writeI64(oneIov, 8, buf.byteLength);
  const r = pwritev2_(fd, oneIov, 1, pos, flags) as number;
  if (r < 0) throw new SysError(lastErrno(), 'pwritev2');
  return r;
}

// ---- stat family ------------------------------------------------------------------

/**
 * statx(2). The result is decoded from `out` when given (a 256-byte buffer the
 * caller can keep reading raw fields from, see StatxOff), else from a scratch buffer.
 */
export function statx(dirfd: number, path: PathArg, flags: number, mask: number, out?: Buffer): Statx {
  const b = out ?? statxBuf;
  if (b.length < SIZEOF_STATX) throw new RangeError('statx: buffer smaller than 256 bytes');
  if ((statx_(dirfd, cstr(path), flags, mask, b) as number) < 0) throw new SysError(lastErrno(), 'statx');
  return decodeStatx(b);
}

/** statx(2) into `buf` without throwing: 0 or -errno. For hot paths. */
export function statxInto(dirfd: number, path: PathArg, flags: number, mask: number, buf: Buffer): number {
  if (buf.length < SIZEOF_STATX) return -EFAULT;
  return (statx_(dirfd, cstr(path), flags, mask, buf) as number) < 0 ? -lastErrno() : 0;
}

export function fstatat(dirfd: number, path: PathArg, flags = 0): Stat {
  if ((fstatat_(dirfd, cstr(path), statBuf, flags) as number) < 0) throw new SysError(lastErrno(), 'fstatat');
  return decodeStat(statBuf);
}

export function fstat(fd: number): Stat {
  if ((fstat_(fd, statBuf) as number) < 0) throw new SysError(lastErrno(), 'fstat');
  return decodeStat(statBuf);
}

export function fstatfs(fd: number): Statfs {
  if ((fstatfs_(fd, statfsBuf) as number) < 0) throw new SysError(lastErrno(), 'fstatfs');
  return decodeStatfs(statfsBuf);
}

export function statfs(path: PathArg): Statfs {
  if ((statfs_(cstr(path), statfsBuf) as number) < 0) throw new SysError(lastErrno(), 'statfs');
  return decodeStatfs(statfsBuf);
}

export function fstatvfs(fd: number): Statvfs {
  if ((fstatvfs_(fd, statvfsBuf) as number) < 0) throw new SysError(lastErrno(), 'fstatvfs');
  return decodeStatvfs(statvfsBuf);
}

// ---- attributes -------------------------------------------------------------------

export function fchmod(fd: number, mode: number): void {
  if ((fchmod_(fd, mode) as number) < 0) throw new SysError(lastErrno(), 'fchmod');
}

/**
 * fchmodat. With flags (AT_EMPTY_PATH, AT_SYMLINK_NOFOLLOW) it uses the
 * fchmodat2 syscall (6.6+), which honours them: fchmodat(opathFd, '',
 * mode, AT_EMPTY_PATH) changes the mode through an O_PATH fd. glibc's
 * fchmodat rejects AT_EMPTY_PATH.
 */
export function fchmodat(dirfd: number, path: PathArg, mode: number, flags = 0): void {
  if (flags !== 0) {
    if ((fchmodat2_(SYS.fchmodat2, dirfd, cstr(path), mode, flags) as number) >= 0) return;
    const e = lastErrno();
    if (e !== ENOSYS) throw new SysError(e, 'fchmodat2');
  }
  if ((fchmodat_(dirfd, cstr(path), mode, flags) as number) < 0) throw new SysError(lastErrno(), 'fchmodat');
}

/** uid/gid -1 leaves that id unchanged. fchownat(opathFd, '', u, g, AT_EMPTY_PATH) works on O_PATH fds. */
export function fchownat(dirfd: number, path: PathArg, uid: number, gid: number, flags = 0): void {
  if ((fchownat_(dirfd, cstr(path), uid | 0, gid | 0, flags) as number) < 0) throw new SysError(lastErrno(), 'fchownat');
}

export function fchown(fd: number, uid: number, gid: number): void {
  if ((fchown_(fd, uid | 0, gid | 0) as number) < 0) throw new SysError(lastErrno(), 'fchown');
}

export function ftruncate(fd: number, length: number | bigint): void {
  if ((ftruncate_(fd, length) as number) < 0) throw new SysError(lastErrno(), 'ftruncate');
}

export function truncate(path: PathArg, length: number | bigint): void {
  if ((truncate_(cstr(path), length) as number) < 0) throw new SysError(lastErrno(), 'truncate');
}

/**
 * utimensat(2). `times` null sets both to now; a field's nsec may be UTIME_NOW
 * or UTIME_OMIT. A null `path` means "dirfd itself": it is sent as "" with
 * AT_EMPTY_PATH, which (unlike the kernel's NULL-path form, and unlike glibc,
 * which rejects NULL with EINVAL) also works on O_PATH fds.
 */
export function utimensat(dirfd: number, path: PathArg | null, times: Timespecs | null, flags = 0): void {
  let p: string | Buffer = '';
  if (path === null) flags |= AT_EMPTY_PATH;
  else p = cstr(path);
  const t = times === null ? null : encodeTimespecs(times, timesBuf);
  if ((utimensat_(dirfd, p, t, flags) as number) < 0) throw new SysError(lastErrno(), 'utimensat');
}

export function futimens(fd: number, times: Timespecs | null): void {
  const t = times === null ? null : encodeTimespecs(times, timesBuf);
  if ((futimens_(fd, t) as number) < 0) throw new SysError(lastErrno(), 'futimens');
}

export function faccessat(dirfd: number, path: PathArg, mode: number, flags = 0): void {
  if ((faccessat_(dirfd, cstr(path), mode, flags) as number) < 0) throw new SysError(lastErrno(), 'faccessat');
}

// ---- links and names ------------------------------------------------------------------

/** Symlink target as bytes (a fresh Buffer). readlinkat(opathFd, '') reads an O_PATH symlink fd. */
export function readlinkat(dirfd: number, path: PathArg): Buffer {
  const n = readlinkatInto(dirfd, path, linkBuf);
  return Buffer.from(linkBuf.subarray(0, n));
}

/** readlinkat into `buf`; returns the length (truncated silently if `buf` is too small, as readlink does). */
export function readlinkatInto(dirfd: number, path: PathArg, buf: Uint8Array): number {
  const r = readlinkat_(dirfd, cstr(path), buf, buf.byteLength) as number;
  if (r < 0) throw new SysError(lastErrno(), 'readlinkat');
  return r;
}

export function symlinkat(target: PathArg, newdirfd: number, linkpath: PathArg): void {
  if ((symlinkat_(cstr(target, 0), newdirfd, cstr(linkpath, 1)) as number) < 0) throw new SysError(lastErrno(), 'symlinkat');
}

/** `dev` in glibc's dev_t encoding (see makedev). */
export function mknodat(dirfd: number, path: PathArg, mode: number, dev: number | bigint = 0): void {
  if ((mknodat_(dirfd, cstr(path), mode, dev) as number) < 0) throw new SysError(lastErrno(), 'mknodat');
}

export function mkdirat(dirfd: number, path: PathArg, mode: number): void {
  if ((mkdirat_(dirfd, cstr(path), mode) as number) < 0) throw new SysError(lastErrno(), 'mkdirat');
}

export function unlinkat(dirfd: number, path: PathArg, flags = 0): void {
  if ((unlinkat_(dirfd, cstr(path), flags) as number) < 0) throw new SysError(lastErrno(), 'unlinkat');
}

export function renameat2(olddirfd: number, oldpath: PathArg, newdirfd: number, newpath: PathArg, flags = 0): void {
  if ((renameat2_(olddirfd, cstr(oldpath, 0), newdirfd, cstr(newpath, 1), flags) as number) < 0) {
    throw new SysError(lastErrno(), 'renameat2');
  }
}

/** linkat(opathFd, '', dir, name, AT_EMPTY_PATH) links an O_PATH fd's inode (needs CAP_DAC_READ_SEARCH). */
export function linkat(olddirfd: number, oldpath: PathArg, newdirfd: number, newpath: PathArg, flags = 0): void {
  if ((linkat_(olddirfd, cstr(oldpath, 0), newdirfd, cstr(newpath, 1), flags) as number) < 0) {
    throw new SysError(lastErrno(), 'linkat');
  }
}

// ---- sync / space / offsets ---------------------------------------------------------------

/**
 * fsync, fdatasync and syncfs can take long on a busy disk; these variants
 * run them on libuv's thread pool so a serving loop can go on meanwhile.
 */
export function fsyncAsync(fd: number, datasync = false): Promise<void> {
  return callAsync(datasync ? fdatasync_ : fsync_, datasync ? 'fdatasync' : 'fsync', [fd]).then(() => undefined);
}

export function syncfsAsync(fd: number): Promise<void> {
  return callAsync(syncfs_, 'syncfs', [fd]).then(() => undefined);
}

export function fsync(fd: number): void {
  if ((fsync_(fd) as number) < 0) throw new SysError(lastErrno(), 'fsync');
}

export function fdatasync(fd: number): void {
  if ((fdatasync_(fd) as number) < 0) throw new SysError(lastErrno(), 'fdatasync');
}

export function syncfs(fd: number): void {
  if ((syncfs_(fd) as number) < 0) throw new SysError(lastErrno(), 'syncfs');
}

export function fallocate(fd: number, mode: number, offset: number | bigint, len: number | bigint): void {
  if ((fallocate_(fd, mode, offset, len) as number) < 0) throw new SysError(lastErrno(), 'fallocate');
}

/** lseek; the result as a number (directory cookies can exceed 2^53: use lseekBig for those). */
export function lseek(fd: number, offset: number | bigint, whence: number): number {
  const r = lseek_(fd, typeof offset === 'bigint' ? BigInt.asIntN(64, offset) : offset, whence) as number | bigint;
  if (typeof r === 'bigint') return Number(r);
  if (r < 0) throw new SysError(lastErrno(), 'lseek');
  return r;
}

/** lseek with an exact 64-bit result (getdents64 d_off cookies are full 64-bit hashes on ext4). */
export function lseekBig(fd: number, offset: number | bigint, whence: number): bigint {
  const r = lseek_(fd, typeof offset === 'bigint' ? BigInt.asIntN(64, offset) : offset, whence) as number | bigint;
  if (typeof r === 'number' && r < 0) throw new SysError(lastErrno(), 'lseek');
  return BigInt(r);
}

/**
 * copy_file_range(2). A null offset uses (and advances) the fd's file position;
 * a given offset is used without touching the file position.
 */
export function copyFileRange(
  fdIn: number, offIn: number | bigint | null, fdOut: number, offOut: number | bigint | null, len: number, flags = 0,
): number {
  const [pin, pout] = offsetPointers(offIn, offOut);
  const r = copy_file_range_(fdIn, pin, fdOut, pout, len, flags) as number;
  if (r < 0) throw new SysError(lastErrno(), 'copy_file_range');
  return r;
}

// ---- file handles ---------------------------------------------------------------------------

export interface HandleResult {
  /** The raw struct file_handle (handle_bytes, handle_type, f_handle), sized exactly; pass it to openByHandleAt. */
  handle: Buffer;
  /** Mount id: the 64-bit unique id with AT_HANDLE_MNT_ID_UNIQUE, else the legacy int id. */
  mountId: bigint;
}

/** name_to_handle_at(2). flags: AT_EMPTY_PATH, AT_SYMLINK_FOLLOW, AT_HANDLE_FID, AT_HANDLE_MNT_ID_UNIQUE… */
export function nameToHandleAt(dirfd: number, path: PathArg, flags = 0): HandleResult {
  const h = Buffer.alloc(FILE_HANDLE_HEADER + MAX_HANDLE_SZ);
  h.writeUInt32LE(MAX_HANDLE_SZ, 0);
  mntIdBuf.fill(0);
  if ((name_to_handle_at_(dirfd, cstr(path), h, mntIdBuf, flags) as number) < 0) {
    throw new SysError(lastErrno(), 'name_to_handle_at');
  }
  const n = h.readUInt32LE(0);
  const mountId = flags & AT_HANDLE_MNT_ID_UNIQUE ? mntIdBuf.readBigUInt64LE(0) : BigInt(mntIdBuf.readInt32LE(0));
  return { handle: h.subarray(0, FILE_HANDLE_HEADER + n), mountId };
}

/**
 * name_to_handle_at(2) into `buf` (at least FILE_HANDLE_HEADER + MAX_HANDLE_SZ
 * bytes), allocating nothing: the hot-path form. Returns the length of the raw
 * struct written (header + handle bytes); the mount id is not returned.
 */
export function nameToHandleInto(dirfd: number, path: PathArg, buf: Buffer, flags = 0): number {
  if (buf.length < FILE_HANDLE_HEADER + MAX_HANDLE_SZ) throw new RangeError('name_to_handle_at: buffer too small');
  buf.writeUInt32LE(MAX_HANDLE_SZ, 0);
  if ((name_to_handle_at_(dirfd, cstr(path), buf, mntIdBuf, flags) as number) < 0) {
    throw new SysError(lastErrno(), 'name_to_handle_at');
  }
  return FILE_HANDLE_HEADER + buf.readUInt32LE(0);
}

/** open_by_handle_at(2) (needs CAP_DAC_READ_SEARCH). `handle` is the raw struct from nameToHandleAt/encodeFileHandle. */
export function openByHandleAt(mountFd: number, handle: Buffer, flags: number): number {
  if (handle.length < FILE_HANDLE_HEADER || handle.length < FILE_HANDLE_HEADER + handle.readUInt32LE(0)) {
    throw new RangeError('open_by_handle_at: truncated struct file_handle');
  }
  const fd = open_by_handle_at_(mountFd, handle, flags) as number;
  if (fd < 0) throw new SysError(lastErrno(), 'open_by_handle_at');
  return fd;
}

