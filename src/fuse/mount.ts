/**
 * Mounting and unmounting a FUSE connection: mount(2) when we are root,
 * fusermount3 (setuid helper, passes the device fd back over a socket) when not.
 */
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, realpathSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import {
  AF_UNIX, MNT_DETACH, MS_DIRSYNC, MS_NOATIME, MS_NODEV, MS_NODIRATIME, MS_NOEXEC, MS_NOSUID, MS_RDONLY,
  MS_SYNCHRONOUS, SOCK_CLOEXEC, SOCK_STREAM, SysError, UMOUNT_NOFOLLOW, close, errno as E, mount, recvFd,
  socketpair, umount2, umount2Async,
} from '../sys/index.js';
import { FuseDevice } from '../transport/fusedev/device.js';
import { mountAt } from './mountinfo.js';

export interface MountOptions {
  /** Source name shown in /proc/mounts. Default "passthroughfs". */
  fsname?: string;
  /** Type shown as fuse.<subtype>. Default "passthroughfs". */
  subtype?: string;
  /** Let users other than the mounter use the mount. */
  allowOther?: boolean;
  /**
   * Let root use the mount besides the mounting user. The kernel is told
   * allow_other; the session must refuse other callers (SessionOptions.onlyUids).
   */
  allowRoot?: boolean;
  /**
   * Remove the mount when the serving process dies, however it dies: fusermount3
   * stays alive watching the connection's socket (also used when root).
   */
  autoUnmount?: boolean;
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
  if (opts.allowOther || opts.allowRoot) data.push('allow_other');
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

/** fusermount3 splits its -o list at commas; a backslash escapes the next character. */
function escapeFusermount(s: string): string {
  return s.replace(/[\\,]/g, (c) => `\\${c}`);
}

function fusermountOptions(opts: MountOptions): string {
  const o = [`fsname=${escapeFusermount(fsnameOf(opts))}`, `subtype=${subtypeOf(opts)}`, 'nosuid', 'nodev'];
  if (opts.allowOther || opts.allowRoot) o.push('allow_other');
  if (opts.autoUnmount) o.push('auto_unmount');
  if (opts.defaultPermissions) o.push('default_permissions');
  if (opts.readOnly) o.push('ro');
  if (opts.maxRead !== undefined) o.push(`max_read=${opts.maxRead}`);
  for (const x of opts.extra ?? []) {
    if (/[,\\]/.test(x)) throw new TypeError(`bad mount option "${x}"`);
    o.push(x);
  }
  return o.join(',');
}

/**
 * The mount's source name. mount(2) takes it as its own argument (any bytes but
 * NUL; mountinfo escapes the rest), so any source path can be its own fsname.
 */
function fsnameOf(opts: MountOptions): string {
  const s = opts.fsname ?? 'passthroughfs';
  if (s.includes('\0')) throw new TypeError('fsname holds a NUL byte');
  return s;
}

/** The type is fuse.<subtype>: one plain word, as it is matched by name in fstab and mountinfo. */
function subtypeOf(opts: MountOptions): string {
  const s = opts.subtype ?? 'passthroughfs';
  if (!/^[A-Za-z0-9_.+-]+$/.test(s)) throw new TypeError(`subtype "${s}" is not a plain name (letters, digits, _ . + -)`);
  return s;
}

/** Mount points currently in this mount namespace (from /proc/self/mountinfo). */
export function isMountPoint(path: string): boolean {
  return mountAt(resolve(path)) !== undefined;
}

/**
 * Mount a FUSE filesystem at `mountpoint` and return the device to serve it on.
 * Refuses a mountpoint that is not a directory or is already a mount point.
 */
export function mountFuse(mountpoint: string, opts: MountOptions = {}): FuseDevice {
  let target = resolve(mountpoint);
  let st;
  try {
    // One canonical path from here on: a symlink to a mount point is that mount point.
    target = realpathSync(target);
    st = statSync(target);
  } catch (e) {
    throw new Error(`mountpoint ${target}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
  if (!st.isDirectory()) throw new Error(`mountpoint ${target} is not a directory`);
  if (isMountPoint(target)) throw new Error(`mountpoint ${target} is already in use (something is mounted there)`);
  const dev = process.geteuid?.() === 0 && !opts.autoUnmount ? mountDirect(target, opts, st.mode & 0o170000) : mountWithFusermount(target, opts);
  // The mount's device number goes with the connection (see SessionServices.mountDevice).
  // `target` is canonical already, as mountinfo lists it; it is not walked again
  // (once mounted, a walk ending at the mount root would wait for the daemon).
  const m = mountAt(target);
  if (!m || !m.fsType.startsWith('fuse')) return dev;
  return new FuseDevice(dev.fd, { major: m.major, minor: m.minor });
}

function mountDirect(target: string, opts: MountOptions, rootType: number): FuseDevice {
  const dev = FuseDevice.open();
  try {
    const { flags, data } = mountArgs(opts, dev.fd, rootType, process.getuid!(), process.getgid!());
    const fsname = fsnameOf(opts);
    const type = `fuse.${subtypeOf(opts)}`;
    try {
      mount(fsname, target, type, flags, data);
    } catch (e) {
      throw e instanceof SysError ? new SysError(e.errno, `mount ${target}`) : e;
    }
    return dev;
  } catch (e) {
    dev.close();
    throw e;
  }
}

function mountWithFusermount(target: string, opts: MountOptions): FuseDevice {
  const [ours, theirs] = socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC);
  const args = ['-o', fusermountOptions(opts), '--', target];
  const env = { ...process.env, _FUSE_COMMFD: '3' };
  let keepSocket = false;
  let theirsOpen = true;
  try {
    if (opts.autoUnmount) {
      // fusermount3 then stays alive: it unmounts once our end of the socket
      // closes, which happens when this process dies. Its stderr goes to an
      // unlinked file, read back only if it fails.
      const errDir = mkdtempSync(join(tmpdir(), 'ptfs-fusermount-'));
      const errFd = openSync(join(errDir, 'err'), 'w+', 0o600);
      rmSync(errDir, { recursive: true });
      try {
        const child = spawn('fusermount3', args, { stdio: ['ignore', 'ignore', errFd, theirs], env, detached: true });
        child.unref();
        close(theirs);
        theirsOpen = false;
        const fd = recvFd(ours);
        if (fd < 0) {
          const msg = readFileSync(`/proc/self/fd/${errFd}`, 'utf8').trim();
          throw new Error(`fusermount3 failed: ${msg || 'it passed no file descriptor (is fuse3 installed?)'}`);
        }
        keepSocket = true;
        return new FuseDevice(fd);
      } finally {
        closeSync(errFd);
      }
    }
    const r = spawnSync('fusermount3', args, { stdio: ['ignore', 'inherit', 'pipe', theirs], env, encoding: 'utf8' });
    if (r.error) throw new Error(`fusermount3: ${(r.error as NodeJS.ErrnoException).code === 'ENOENT' ? 'not installed (package fuse3)' : r.error.message}`);
    if (r.status !== 0) throw new Error(`fusermount3 failed: ${(r.stderr || '').trim() || `exit ${r.status}`}`);
    // fusermount3 passes the opened /dev/fuse fd back with SCM_RIGHTS.
    const fd = recvFd(ours);
    if (fd < 0) throw new Error('fusermount3 did not pass a file descriptor');
    return new FuseDevice(fd);
  } finally {
    // With auto_unmount our end stays open for the life of the process: it is
    // what fusermount3 watches.
    if (!keepSocket) close(ours);
    if (theirsOpen) close(theirs);
  }
}

/**
 * Unmount. Tries a plain unmount first; if the mount is busy and `lazy` is
 * set, detaches it (it disappears once the last user is gone).
 */
export function unmountFuse(mountpoint: string, lazy = true): void {
  const target = resolve(mountpoint);
  if (process.geteuid?.() === 0) {
    try {
      umount2(target, UMOUNT_NOFOLLOW);
    } catch (e) {
      if (!(e instanceof SysError) || e.errno !== E.EBUSY || !lazy) throw retitle(e, target);
      try {
        umount2(target, MNT_DETACH | UMOUNT_NOFOLLOW);
      } catch (e2) {
        throw retitle(e2, target);
      }
    }
    return;
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
    return umount2Async(target, UMOUNT_NOFOLLOW).catch((e: unknown) => {
      if (!(e instanceof SysError) || e.errno !== E.EBUSY) throw retitle(e, target);
      return umount2Async(target, MNT_DETACH | UMOUNT_NOFOLLOW).catch((e2: unknown) => {
        throw retitle(e2, target);
      });
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

function retitle(e: unknown, target: string): unknown {
  return e instanceof SysError ? new SysError(e.errno, `umount ${target}`) : e;
}
