/**
 * Mounting and unmounting a FUSE connection: mount(2) when we are root,
 * fusermount3 (setuid helper, passes the device fd back over a socket) when not.
 */
import { spawn, spawnSync } from 'node:child_process';
import koffi from 'koffi';
import { readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { libc, lastErrno } from '../sys/libc.js';
import { SysError, errno as E } from '../sys/errno.js';
import { FuseDevice } from '../transport/fusedev.js';

const c_mount = libc.func('int mount(const char *src, const char *target, const char *fstype, unsigned long flags, const char *data)');
const c_umount2 = libc.func('int umount2(const char *target, int flags)');
const c_socketpair = libc.func('int socketpair(int domain, int type, int protocol, _Out_ int *sv)');
const c_recvmsg = libc.func('intptr_t recvmsg(int fd, void *msg, int flags)');
const c_close = libc.func('int close(int fd)');

const MS_RDONLY = 1;
const MS_NOSUID = 2;
const MS_NODEV = 4;
const MS_NOEXEC = 8;
const MS_SYNCHRONOUS = 16;
const MS_DIRSYNC = 128;
const MS_NOATIME = 1024;
const MS_NODIRATIME = 2048;
const MNT_DETACH = 2;
const UMOUNT_NOFOLLOW = 8;

export interface MountOptions {
  /** Source name shown in /proc/mounts. Default "passthroughfs". */
  fsname?: string;
  /** Type shown as fuse.<subtype>. Default "passthroughfs". */
  subtype?: string;
  /** Let users other than the mounter use the mount. */
  allowOther?: boolean;
  /** Let the kernel check permissions from the mode bits before asking us. */
  defaultPermissions?: boolean;
  readOnly?: boolean;
  maxRead?: number;
  /** Further options as for mount -o: suid, dev, exec/noexec, noatime, sync, dirsync, … */
  extra?: string[];
}

/** Flags and data string for mount(2); unknown extra options are an error. */
export function mountArgs(opts: MountOptions, fd: number, rootMode: number, uid: number, gid: number): { flags: number; data: string } {
  let flags = MS_NOSUID | MS_NODEV;
  const data = [`fd=${fd}`, `rootmode=${rootMode.toString(8)}`, `user_id=${uid}`, `group_id=${gid}`];
  if (opts.allowOther) data.push('allow_other');
  if (opts.defaultPermissions) data.push('default_permissions');
  if (opts.maxRead !== undefined) data.push(`max_read=${opts.maxRead}`);
  if (opts.readOnly) flags |= MS_RDONLY;
  for (const o of opts.extra ?? []) {
    switch (o) {
      case 'suid': flags &= ~MS_NOSUID; break;
      case 'nosuid': flags |= MS_NOSUID; break;
      case 'dev': flags &= ~MS_NODEV; break;
      case 'nodev': flags |= MS_NODEV; break;
      case 'exec': flags &= ~MS_NOEXEC; break;
      case 'noexec': flags |= MS_NOEXEC; break;
      case 'noatime': flags |= MS_NOATIME; break;
      case 'nodiratime': flags |= MS_NODIRATIME; break;
      case 'sync': flags |= MS_SYNCHRONOUS; break;
      case 'dirsync': flags |= MS_DIRSYNC; break;
      case 'rw': flags &= ~MS_RDONLY; break;
      case 'ro': flags |= MS_RDONLY; break;
      default: throw new TypeError(`unknown mount option "${o}"`);
    }
  }
  return { flags, data: data.join(',') };
}

function fusermountOptions(opts: MountOptions): string {
  const o = [`fsname=${opts.fsname ?? 'passthroughfs'}`, `subtype=${opts.subtype ?? 'passthroughfs'}`, 'nosuid', 'nodev'];
  if (opts.allowOther) o.push('allow_other');
  if (opts.defaultPermissions) o.push('default_permissions');
  if (opts.readOnly) o.push('ro');
  if (opts.maxRead !== undefined) o.push(`max_read=${opts.maxRead}`);
  for (const x of opts.extra ?? []) {
    if (/[,\\]/.test(x)) throw new TypeError(`bad mount option "${x}"`);
    o.push(x);
  }
  return o.join(',');
}

function escapeOpt(s: string): string {
  if (/[,\s\\]/.test(s) || s.includes('\0')) throw new TypeError(`mount option value "${s}" has a comma, space or backslash`);
  return s;
}

/** Mount points currently in this mount namespace (from /proc/self/mountinfo). */
export function isMountPoint(path: string): boolean {
  const target = resolve(path);
  const info = readFileSync('/proc/self/mountinfo', 'utf8');
  for (const line of info.split('\n')) {
    const f = line.split(' ');
    if (f.length > 4 && unescapeMountinfo(f[4]!) === target) return true;
  }
  return false;
}

function unescapeMountinfo(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/**
 * Mount a FUSE filesystem at `mountpoint` and return the device to serve it on.
 * Refuses a mountpoint that is not a directory or is already a mount point.
 */
export function mountFuse(mountpoint: string, opts: MountOptions = {}): FuseDevice {
  const target = resolve(mountpoint);
  let st;
  try {
    st = statSync(target);
  } catch (e) {
    throw new Error(`mountpoint ${target}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
  if (!st.isDirectory()) throw new Error(`mountpoint ${target} is not a directory`);
  if (isMountPoint(target)) throw new Error(`mountpoint ${target} is already in use (something is mounted there)`);
  if (process.geteuid?.() === 0) return mountDirect(target, opts, st.mode & 0o170000);
  return mountWithFusermount(target, opts);
}

function mountDirect(target: string, opts: MountOptions, rootType: number): FuseDevice {
  const dev = FuseDevice.open();
  try {
    const { flags, data } = mountArgs(opts, dev.fd, rootType, process.getuid!(), process.getgid!());
    const fsname = escapeOpt(opts.fsname ?? 'passthroughfs');
    const type = `fuse.${escapeOpt(opts.subtype ?? 'passthroughfs')}`;
    if ((c_mount(fsname, target, type, flags, data) as number) < 0) throw new SysError(lastErrno(), `mount ${target}`);
    return dev;
  } catch (e) {
    dev.close();
    throw e;
  }
}

function mountWithFusermount(target: string, opts: MountOptions): FuseDevice {
  const sv = [0, 0];
  if ((c_socketpair(1 /* AF_UNIX */, 1 | 0o2000000 /* SOCK_STREAM|SOCK_CLOEXEC */, 0, sv) as number) < 0) {
    throw new SysError(lastErrno(), 'socketpair');
  }
  const [ours, theirs] = sv as [number, number];
  try {
    const r = spawnSync('fusermount3', ['-o', fusermountOptions(opts), '--', target], {
      stdio: ['ignore', 'inherit', 'pipe', theirs],
      env: { ...process.env, _FUSE_COMMFD: '3' },
      encoding: 'utf8',
    });
    if (r.error) throw new Error(`fusermount3: ${(r.error as NodeJS.ErrnoException).code === 'ENOENT' ? 'not installed (package fuse3)' : r.error.message}`);
    if (r.status !== 0) throw new Error(`fusermount3 failed: ${(r.stderr || '').trim() || `exit ${r.status}`}`);
    return new FuseDevice(recvFd(ours));
  } finally {
    c_close(ours);
    c_close(theirs);
  }
}

/** Receive one fd sent with SCM_RIGHTS. */
function recvFd(sock: number): number {
  const data = Buffer.alloc(1);
  const iov = Buffer.alloc(16);
  const ctl = Buffer.alloc(64);
  const msg = Buffer.alloc(56);
  const koffiAddr = (b: Buffer) => koffi.address(b);
  iov.writeBigUInt64LE(koffiAddr(data), 0);
  iov.writeBigUInt64LE(1n, 8);
  msg.writeBigUInt64LE(koffiAddr(iov), 16); // msg_iov
  msg.writeBigUInt64LE(1n, 24); // msg_iovlen
  msg.writeBigUInt64LE(koffiAddr(ctl), 32); // msg_control
  msg.writeBigUInt64LE(BigInt(ctl.length), 40); // msg_controllen
  const n = Number(c_recvmsg(sock, msg, 0));
  if (n < 0) throw new SysError(lastErrno(), 'recvmsg');
  const ctlLen = Number(msg.readBigUInt64LE(40));
  // struct cmsghdr { size_t len; int level; int type; } then the fd.
  if (ctlLen < 20 || ctl.readInt32LE(8) !== 1 /* SOL_SOCKET */ || ctl.readInt32LE(12) !== 1 /* SCM_RIGHTS */) {
    throw new Error('fusermount3 did not pass a file descriptor');
  }
  return ctl.readInt32LE(16);
}

/**
 * Unmount. Tries a plain unmount first; if the mount is busy and `lazy` is
 * set, detaches it (it disappears once the last user is gone).
 */
export function unmountFuse(mountpoint: string, lazy = true): void {
  const target = resolve(mountpoint);
  if (process.geteuid?.() === 0) {
    if ((c_umount2(target, UMOUNT_NOFOLLOW) as number) === 0) return;
    const e = lastErrno();
    if (e === E.EBUSY && lazy && (c_umount2(target, MNT_DETACH | UMOUNT_NOFOLLOW) as number) === 0) return;
    const e2 = e === E.EBUSY && lazy ? lastErrno() : e;
    throw new SysError(e2, `umount ${target}`);
  }
  const r = spawnSync('fusermount3', lazy ? ['-u', '-z', '--', target] : ['-u', '--', target], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`fusermount3 -u failed: ${(r.stderr || '').trim() || r.error?.message || `exit ${r.status}`}`);
}


/**
 * Unmount without blocking this thread: umount2 on the thread pool (root) or
 * fusermount3 as a child process. Use it from the thread that serves the
 * mount, which must keep answering requests (e.g. writeback flushes) meanwhile.
 */
export function unmountFuseAsync(mountpoint: string): Promise<void> {
  const target = resolve(mountpoint);
  if (process.geteuid?.() === 0) {
    const call = (flags: number) => new Promise<number>((res) => {
      c_umount2.async(target, flags, (err: unknown, r: number) => res(err ? -E.EIO! : r < 0 ? -lastErrno() : 0));
    });
    return call(UMOUNT_NOFOLLOW).then(async (r) => {
      if (r === -E.EBUSY!) r = await call(MNT_DETACH | UMOUNT_NOFOLLOW);
      if (r < 0) throw new SysError(-r, `umount ${target}`);
    });
  }
  return new Promise((res, rej) => {
    const c = spawn('fusermount3', ['-u', '-z', '--', target], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    c.stderr!.on('data', (d) => (err += d));
    c.on('error', rej);
    c.on('exit', (code) => (code === 0 ? res() : rej(new Error(`fusermount3 -u failed: ${err.trim() || `exit ${code}`}`))));
  });
}
