/**
 * Extended attributes. Getters and listers take `buf: Uint8Array | null` and
 * return the number of bytes: with null (or an empty buffer) they only report
 * the size needed (the size-0 probe); ERANGE means `buf` was too small.
 *
 * The *xattrat syscalls (6.13+) are raw syscalls. On this kernel line they do
 * NOT accept an O_PATH fd with AT_EMPTY_PATH (EBADF: the empty-path case looks
 * the fd up with fdget(), which skips O_PATH files), so xattrAtSupport() probes
 * both the syscalls and that case; the *Fd helpers below pick a working method.
 */
import { libc, lastErrno } from './libc.js';
import { SysError } from './errno.js';
import { cstr, addressOf, type PathArg } from './util.js';
import { AT_EMPTY_PATH, AT_FDCWD, O_CLOEXEC, O_PATH, SYS } from './constants.js';
import { writeI64, SIZEOF_XATTR_ARGS } from './structs.js';

const fgetxattr_ = libc.func('intptr_t fgetxattr(int fd, const char *name, void *value, size_t size)');
const getxattr_ = libc.func('intptr_t getxattr(const char *path, const char *name, void *value, size_t size)');
const lgetxattr_ = libc.func('intptr_t lgetxattr(const char *path, const char *name, void *value, size_t size)');
const fsetxattr_ = libc.func('int fsetxattr(int fd, const char *name, const void *value, size_t size, int flags)');
const setxattr_ = libc.func('int setxattr(const char *path, const char *name, const void *value, size_t size, int flags)');
const lsetxattr_ = libc.func('int lsetxattr(const char *path, const char *name, const void *value, size_t size, int flags)');
const flistxattr_ = libc.func('intptr_t flistxattr(int fd, void *list, size_t size)');
const listxattr_ = libc.func('intptr_t listxattr(const char *path, void *list, size_t size)');
const llistxattr_ = libc.func('intptr_t llistxattr(const char *path, void *list, size_t size)');
const fremovexattr_ = libc.func('int fremovexattr(int fd, const char *name)');
const removexattr_ = libc.func('int removexattr(const char *path, const char *name)');
const lremovexattr_ = libc.func('int lremovexattr(const char *path, const char *name)');

// long syscall(nr, dfd, path, at_flags, name, struct xattr_args *args, size_t usize)
const xattrat_ = libc.func('syscall', 'long', ['long', 'int', 'const char *', 'uint32_t', 'const char *', 'void *', 'size_t']);
// long syscall(nr, dfd, path, at_flags, char *list, size_t size)
const listxattrat_ = libc.func('syscall', 'long', ['long', 'int', 'const char *', 'uint32_t', 'void *', 'size_t']);
// long syscall(nr, dfd, path, at_flags, name)
const removexattrat_ = libc.func('syscall', 'long', ['long', 'int', 'const char *', 'uint32_t', 'const char *']);
const open_ = libc.func('int open(const char *path, int flags, uint32_t mode)');
const close_ = libc.func('int close(int fd)');

const argsBuf = Buffer.alloc(SIZEOF_XATTR_ARGS);

const ENOSYS = 38;

function len(b: Uint8Array | null): number {
  return b === null ? 0 : b.byteLength;
}

// ---- fd forms -------------------------------------------------------------------

export function fgetxattr(fd: number, name: PathArg, buf: Uint8Array | null): number {
  const r = fgetxattr_(fd, cstr(name), len(buf) ? buf : null, len(buf)) as number;
  if (r < 0) throw new SysError(lastErrno(), 'fgetxattr');
  return r;
}

export function fsetxattr(fd: number, name: PathArg, value: Uint8Array, flags = 0): void {
  if ((fsetxattr_(fd, cstr(name), value, value.byteLength, flags) as number) < 0) throw new SysError(lastErrno(), 'fsetxattr');
}

export function flistxattr(fd: number, buf: Uint8Array | null): number {
  const r = flistxattr_(fd, len(buf) ? buf : null, len(buf)) as number;
  if (r < 0) throw new SysError(lastErrno(), 'flistxattr');
  return r;
}

export function fremovexattr(fd: number, name: PathArg): void {
  if ((fremovexattr_(fd, cstr(name)) as number) < 0) throw new SysError(lastErrno(), 'fremovexattr');
}

// ---- path forms (following and l* non-following) -------------------------------------

export function getxattr(path: PathArg, name: PathArg, buf: Uint8Array | null): number {
  const r = getxattr_(cstr(path, 0), cstr(name, 1), len(buf) ? buf : null, len(buf)) as number;
  if (r < 0) throw new SysError(lastErrno(), 'getxattr');
  return r;
}

export function lgetxattr(path: PathArg, name: PathArg, buf: Uint8Array | null): number {
  const r = lgetxattr_(cstr(path, 0), cstr(name, 1), len(buf) ? buf : null, len(buf)) as number;
  if (r < 0) throw new SysError(lastErrno(), 'lgetxattr');
  return r;
}

export function setxattr(path: PathArg, name: PathArg, value: Uint8Array, flags = 0): void {
  if ((setxattr_(cstr(path, 0), cstr(name, 1), value, value.byteLength, flags) as number) < 0) {
    throw new SysError(lastErrno(), 'setxattr');
  }
}

export function lsetxattr(path: PathArg, name: PathArg, value: Uint8Array, flags = 0): void {
  if ((lsetxattr_(cstr(path, 0), cstr(name, 1), value, value.byteLength, flags) as number) < 0) {
    throw new SysError(lastErrno(), 'lsetxattr');
  }
}

export function listxattr(path: PathArg, buf: Uint8Array | null): number {
  const r = listxattr_(cstr(path), len(buf) ? buf : null, len(buf)) as number;
  if (r < 0) throw new SysError(lastErrno(), 'listxattr');
  return r;
}

export function llistxattr(path: PathArg, buf: Uint8Array | null): number {
  const r = llistxattr_(cstr(path), len(buf) ? buf : null, len(buf)) as number;
  if (r < 0) throw new SysError(lastErrno(), 'llistxattr');
  return r;
}

export function removexattr(path: PathArg, name: PathArg): void {
  if ((removexattr_(cstr(path, 0), cstr(name, 1)) as number) < 0) throw new SysError(lastErrno(), 'removexattr');
}

export function lremovexattr(path: PathArg, name: PathArg): void {
  if ((lremovexattr_(cstr(path, 0), cstr(name, 1)) as number) < 0) throw new SysError(lastErrno(), 'lremovexattr');
}

// ---- *xattrat (6.13+) --------------------------------------------------------------------

function fillArgs(buf: Uint8Array | null, flags: number): void {
  writeI64(argsBuf, 0, buf === null ? 0 : addressOf(buf));
  argsBuf.writeUInt32LE(len(buf), 8);
  argsBuf.writeUInt32LE(flags, 12);
}

/** getxattrat(2). atFlags: AT_SYMLINK_NOFOLLOW, AT_EMPTY_PATH. */
export function getxattrat(dirfd: number, path: PathArg, atFlags: number, name: PathArg, buf: Uint8Array | null): number {
  fillArgs(buf, 0);
  const r = xattrat_(SYS.getxattrat, dirfd, cstr(path, 0), atFlags, cstr(name, 1), argsBuf, SIZEOF_XATTR_ARGS) as number;
  if (r < 0) throw new SysError(lastErrno(), 'getxattrat');
  return r;
}

/** setxattrat(2); `flags` is XATTR_CREATE / XATTR_REPLACE. */
export function setxattrat(dirfd: number, path: PathArg, atFlags: number, name: PathArg, value: Uint8Array, flags = 0): void {
  fillArgs(value, flags);
  const r = xattrat_(SYS.setxattrat, dirfd, cstr(path, 0), atFlags, cstr(name, 1), argsBuf, SIZEOF_XATTR_ARGS) as number;
  if (r < 0) throw new SysError(lastErrno(), 'setxattrat');
}

export function listxattrat(dirfd: number, path: PathArg, atFlags: number, buf: Uint8Array | null): number {
  const r = listxattrat_(SYS.listxattrat, dirfd, cstr(path), atFlags, len(buf) ? buf : null, len(buf)) as number;
  if (r < 0) throw new SysError(lastErrno(), 'listxattrat');
  return r;
}

export function removexattrat(dirfd: number, path: PathArg, atFlags: number, name: PathArg): void {
  const r = removexattrat_(SYS.removexattrat, dirfd, cstr(path, 0), atFlags, cstr(name, 1)) as number;
  if (r < 0) throw new SysError(lastErrno(), 'removexattrat');
}

export interface XattrAtSupport {
  /** The four *xattrat syscalls exist (6.13+). */
  syscalls: boolean;
  /** They accept an O_PATH fd with "" + AT_EMPTY_PATH. */
  opathEmptyPath: boolean;
}

let support: XattrAtSupport | undefined;

/** Probed once: listxattrat on "/" by path, then through an O_PATH fd with AT_EMPTY_PATH. */
export function xattrAtSupport(): XattrAtSupport {
  if (support) return support;
  let syscalls = false;
  let opathEmptyPath = false;
  if ((listxattrat_(SYS.listxattrat, AT_FDCWD, '/', 0, null, 0) as number) >= 0 || lastErrno() !== ENOSYS) {
    syscalls = true;
    const fd = open_('/', O_PATH | O_CLOEXEC, 0) as number;
    if (fd >= 0) {
      const r = listxattrat_(SYS.listxattrat, fd, '', AT_EMPTY_PATH, null, 0) as number;
      // EOPNOTSUPP would still mean the fd was accepted; EBADF is the O_PATH refusal.
      opathEmptyPath = r >= 0 || lastErrno() !== 9;
      close_(fd);
    }
  }
  support = { syscalls, opathEmptyPath };
  return support;
}

// ---- any-fd helpers ------------------------------------------------------------------------

/** "/proc/self/fd/N": following it reaches the fd's own inode, even a symlink or special file behind an O_PATH fd. */
export function procFdPath(fd: number): string {
  return `/proc/self/fd/${fd}`;
}

/**
 * xattr access through any fd. For a normal fd pass `opath` false (f*xattr).
 * For an O_PATH fd: *xattrat with AT_EMPTY_PATH when the kernel allows it,
 * else the following path calls on /proc/self/fd/N (works for symlinks too:
 * the magic link resolves to the symlink itself, not its target).
 */
export function getxattrFd(fd: number, opath: boolean, name: PathArg, buf: Uint8Array | null): number {
  if (!opath) return fgetxattr(fd, name, buf);
  if (xattrAtSupport().opathEmptyPath) return getxattrat(fd, '', AT_EMPTY_PATH, name, buf);
  return getxattr(procFdPath(fd), name, buf);
}

export function setxattrFd(fd: number, opath: boolean, name: PathArg, value: Uint8Array, flags = 0): void {
  if (!opath) return fsetxattr(fd, name, value, flags);
  if (xattrAtSupport().opathEmptyPath) return setxattrat(fd, '', AT_EMPTY_PATH, name, value, flags);
  return setxattr(procFdPath(fd), name, value, flags);
}

export function listxattrFd(fd: number, opath: boolean, buf: Uint8Array | null): number {
  if (!opath) return flistxattr(fd, buf);
  if (xattrAtSupport().opathEmptyPath) return listxattrat(fd, '', AT_EMPTY_PATH, buf);
  return listxattr(procFdPath(fd), buf);
}

export function removexattrFd(fd: number, opath: boolean, name: PathArg): void {
  if (!opath) return fremovexattr(fd, name);
  if (xattrAtSupport().opathEmptyPath) return removexattrat(fd, '', AT_EMPTY_PATH, name);
  return removexattr(procFdPath(fd), name);
}

const ERANGE = 34;

/**
 * Runs a getter/lister with the size probe, then into a buffer of that size,
 * retrying if the value grew in between: `xattrBuffer((b) => fgetxattr(fd, name, b))`.
 */
export function xattrBuffer(get: (buf: Buffer | null) => number): Buffer {
  for (let tries = 0; ; tries++) {
    const n = get(null);
    if (n === 0) return Buffer.alloc(0);
    const b = Buffer.allocUnsafe(n);
    try {
      return b.subarray(0, get(b));
    } catch (e) {
      if (tries < 4 && e instanceof SysError && e.errno === ERANGE) continue;
      throw e;
    }
  }
}

/** Splits a list{,}xattr result into names (views into `buf`, without their NULs). */
export function splitXattrList(buf: Buffer, n: number = buf.length): Buffer[] {
  const out: Buffer[] = [];
  let start = 0;
  while (start < n) {
    let end = buf.indexOf(0, start);
    if (end < 0 || end > n) end = n;
    if (end > start) out.push(buf.subarray(start, end));
    start = end + 1;
  }
  return out;
}
