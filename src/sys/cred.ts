/**
 * Credentials and per-thread process state.
 *
 * Linux credentials are per thread. glibc's setgroups/setresuid/setresgid (and
 * setuid/setgid…) broadcast the change to every thread of the process (the
 * POSIX "setxid" signal dance), which would also change the credentials of
 * libuv's pool threads and Node's own threads; the raw syscalls below change
 * only the calling thread. glibc's setfsuid/setfsgid are plain per-thread
 * syscalls already. Note that koffi `.async` calls run on pool threads and do
 * not see credentials set here on the main thread.
 */
import { libc, lastErrno } from './libc.js';
import { SysError } from './errno.js';
import { SYS } from './constants.js';

const setfsuid_ = libc.func('int setfsuid(uint32_t uid)');
const setfsgid_ = libc.func('int setfsgid(uint32_t gid)');
const setgroups_ = libc.func('syscall', 'long', ['long', 'size_t', 'void *']);
const setres_ = libc.func('syscall', 'long', ['long', 'int', 'int', 'int']);
const getuid_ = libc.func('uint32_t getuid(void)');
const geteuid_ = libc.func('uint32_t geteuid(void)');
const getgid_ = libc.func('uint32_t getgid(void)');
const getegid_ = libc.func('uint32_t getegid(void)');
const getgroups_ = libc.func('int getgroups(int size, void *list)');
const gettid_ = libc.func('int gettid(void)');
const getpid_ = libc.func('int getpid(void)');
const umask_ = libc.func('uint32_t umask(uint32_t mask)');
const unshare_ = libc.func('int unshare(int flags)');
const prctl_ = libc.func('prctl', 'int', ['int', 'uintptr_t', 'uintptr_t', 'uintptr_t', 'uintptr_t']);
const getgrnam_r_ = libc.func('int getgrnam_r(const char *name, void *grp, void *buf, size_t buflen, void *result)');

let groupsBuf = new Uint32Array(64);

/**
 * Sets the calling thread's filesystem uid; returns the previous one. Like the
 * syscall it never fails visibly: when the change is refused the returned value
 * still is the (unchanged) current fsuid, so callers that care compare with a
 * second call.
 */
export function setfsuid(uid: number): number {
  return setfsuid_(uid >>> 0) as number;
}

export function setfsgid(gid: number): number {
  return setfsgid_(gid >>> 0) as number;
}

/** Supplementary groups of the calling thread only (raw syscall, see above). */
export function setgroups(gids: readonly number[]): void {
  if (groupsBuf.length < gids.length) groupsBuf = new Uint32Array(gids.length);
  for (let i = 0; i < gids.length; i++) groupsBuf[i] = gids[i]!;
  if ((setgroups_(SYS.setgroups, gids.length, gids.length ? groupsBuf : null) as number) < 0) {
    throw new SysError(lastErrno(), 'setgroups');
  }
}

export function getgroups(): number[] {
  let n = getgroups_(0, null) as number;
  if (n < 0) throw new SysError(lastErrno(), 'getgroups');
  if (groupsBuf.length < n) groupsBuf = new Uint32Array(n);
  n = getgroups_(n, groupsBuf) as number;
  if (n < 0) throw new SysError(lastErrno(), 'getgroups');
  return Array.from(groupsBuf.subarray(0, n));
}

/** Calling thread only (raw syscall). -1 leaves an id unchanged. */
export function setresuid(ruid: number, euid: number, suid: number): void {
  if ((setres_(SYS.setresuid, ruid | 0, euid | 0, suid | 0) as number) < 0) throw new SysError(lastErrno(), 'setresuid');
}

/** Calling thread only (raw syscall). -1 leaves an id unchanged. */
export function setresgid(rgid: number, egid: number, sgid: number): void {
  if ((setres_(SYS.setresgid, rgid | 0, egid | 0, sgid | 0) as number) < 0) throw new SysError(lastErrno(), 'setresgid');
}

export function getuid(): number {
  return getuid_() as number;
}
export function geteuid(): number {
  return geteuid_() as number;
}
export function getgid(): number {
  return getgid_() as number;
}
export function getegid(): number {
  return getegid_() as number;
}
export function gettid(): number {
  return gettid_() as number;
}
export function getpid(): number {
  return getpid_() as number;
}

/** Sets the umask (per process, or per thread after unshare(CLONE_FS)); returns the previous one. */
export function umask(mask: number): number {
  return umask_(mask) as number;
}

/** unshare(2); unshare(CLONE_FS) gives the calling thread its own cwd, root and umask. */
export function unshare(flags: number): void {
  if ((unshare_(flags) as number) < 0) throw new SysError(lastErrno(), 'unshare');
}

export function prctl(option: number, a2: number | bigint = 0, a3: number | bigint = 0, a4: number | bigint = 0, a5: number | bigint = 0): number {
  const r = prctl_(option, a2, a3, a4, a5) as number;
  if (r < 0) throw new SysError(lastErrno(), 'prctl');
  return r;
}

/**
 * The gid of group `name` through NSS (getgrnam_r: /etc/group, LDAP…), or
 * undefined when there is no such group. Throws SysError when the lookup
 * itself fails.
 */
export function groupId(name: string): number | undefined {
  // struct group { char *gr_name; char *gr_passwd; gid_t gr_gid; char **gr_mem; }
  const grp = Buffer.alloc(32);
  const result = Buffer.alloc(8);
  for (let size = 16384; ; size *= 2) {
    const buf = Buffer.alloc(size);
    const r = getgrnam_r_(name, grp, buf, size, result) as number;
    if (r === 34 /* ERANGE */ && size < 1 << 24) continue;
    if (r !== 0) throw new SysError(r, 'getgrnam_r');
    return result.readBigUInt64LE(0) === 0n ? undefined : grp.readUInt32LE(16);
  }
}
