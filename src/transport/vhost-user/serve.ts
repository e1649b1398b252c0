/**
 * serve(): a virtio-fs back-end on a vhost-user socket, as virtiofsd is one.
 * It listens on a unix socket (created at `socketPath`, or the listening fd a
 * manager such as libvirt passes with --fd), accepts one front-end, serves
 * it until it disconnects (the VM shut down or was killed) and resolves;
 * the caller decides whether to serve again.
 */
import { errno as E } from '../../sys/errno.js';
import { lstatSync, unlinkSync } from 'node:fs';
import {
  acceptRaw, AF_UNIX, AT_FDCWD, AT_SYMLINK_NOFOLLOW, bind, close, eventfd, fchmodat, fchownat, fcntl, F_GETFL, F_SETFL,
  getsockoptInt, groupId, listen, O_NONBLOCK, pollAsync, POLLIN, SO_ACCEPTCONN, SOCK_CLOEXEC, SOCK_NONBLOCK,
  SOCK_STREAM, sockaddrUn, socket, SOL_SOCKET, SysError, writeRaw,
} from '../../sys/index.js';
import { stderrLog, type LogFn } from '../../fuse/log.js';
import { rateLimited, VhostUserBackend } from './backend.js';
import { Connection } from './connection.js';
import { runLoop } from './event-loop.js';
import { VirtioFsDevice, type FsDeviceOptions } from './fs-device.js';

const EAGAIN = E.EAGAIN!;
const EINTR = E.EINTR!;
const ECONNABORTED = E.ECONNABORTED!;
const PARK_MS = 200;

export interface ServeOptions extends FsDeviceOptions {
  /** Create the socket here and listen on it (a stale socket there is replaced; anything else is refused). */
  socketPath?: string;
  /** Or accept on this socket, already bound and listening (libvirt's --fd). It is set non-blocking and left open. */
  listenFd?: number;
  /**
   * Give the socket at `socketPath` to this group (name or gid) with mode
   * 0660, so a front-end running as another user of that group can connect
   * (virtiofsd's --socket-group).
   */
  socketGroup?: string | number;
  /** Log lines (default: warnings and errors to stderr). Complaints about the guest are rate-limited. */
  log?: LogFn;
  /** Stop: stop waiting for a front-end, or close the connection. serve() then resolves. */
  signal?: AbortSignal;
  /** The serving loop owns the thread (a daemon; see event-loop.ts). Default false. */
  ownThread?: boolean;
  /** Called once the socket listens (when a daemon may report that it is ready). */
  onListening?: () => void;
  /** GET_MAX_MEM_SLOTS (default 509). */
  maxMemSlots?: number;
  /** How long stopping a ring (GET_VRING_BASE) waits for its requests in flight (default 5000 ms). */
  stopTimeoutMs?: number;
}

/**
 * Listens, accepts one front-end, serves it until it disconnects, and
 * resolves. Rejects only for set-up failures (bad options, the socket cannot
 * be created or accepted on); nothing the front-end or the guest does makes
 * it reject. With `socketPath`, the socket is removed once the front-end is
 * accepted (as virtiofsd does) or when serve() stops before.
 */
export async function serve(opts: ServeOptions): Promise<void> {
  if ((opts.socketPath === undefined) === (opts.listenFd === undefined)) {
    throw new TypeError('serve: give exactly one of socketPath and listenFd');
  }
  const log = opts.log ?? stderrLog('warn');
  const device = new VirtioFsDevice(opts, log, rateLimited(log));
  let listenFd: number;
  let own = false;
  if (opts.socketPath !== undefined) {
    listenFd = listenAt(opts.socketPath, opts.socketGroup);
    own = true;
  } else {
    listenFd = opts.listenFd!;
    if (getsockoptInt(listenFd, SOL_SOCKET, SO_ACCEPTCONN) !== 1) throw new TypeError(`serve: fd ${listenFd} is not a listening socket`);
    fcntl(listenFd, F_SETFL, fcntl(listenFd, F_GETFL) | O_NONBLOCK);
  }
  let conn: number;
  try {
    opts.onListening?.();
    log('info', `vhost-user: waiting for a front-end on ${opts.socketPath ?? `fd ${listenFd}`}`);
    const accepted = await acceptOne(listenFd, opts.signal);
    if (accepted === undefined) return;
    conn = accepted;
  } finally {
    if (own) {
      close(listenFd);
      try {
        unlinkSync(opts.socketPath!);
      } catch {
        // already gone
      }
    }
  }
  await serveWith(conn, device, log, opts);
}

/**
 * Serves a front-end already connected on `fd` (a socketpair's end, or a
 * socket accepted elsewhere) until it disconnects; takes ownership of `fd`.
 */
export async function serveConnection(fd: number, opts: Omit<ServeOptions, 'socketPath' | 'listenFd' | 'socketGroup' | 'onListening'>): Promise<void> {
  const log = opts.log ?? stderrLog('warn');
  let device: VirtioFsDevice;
  try {
    device = new VirtioFsDevice(opts, log, rateLimited(log));
  } catch (e) {
    close(fd);
    throw e;
  }
  await serveWith(fd, device, log, opts);
}

async function serveWith(fd: number, device: VirtioFsDevice, log: LogFn, opts: ServeOptions): Promise<void> {
  const guestLog = rateLimited(log);
  const backend = new VhostUserBackend(new Connection(fd), device, {
    log, guestLog, maxMemSlots: opts.maxMemSlots, stopTimeoutMs: opts.stopTimeoutMs,
  });
  log('info', 'vhost-user: front-end connected');
  await runLoop(backend, { log, ownThread: opts.ownThread, signal: opts.signal });
}

/** A listening socket at `path`, bound and permissioned before it listens (so nobody connects in between). */
function listenAt(path: string, group: string | number | undefined): number {
  const addr = sockaddrUn(path);
  let gid: number | undefined;
  if (group !== undefined) {
    gid = typeof group === 'number' ? group : groupId(group);
    if (gid === undefined) throw new Error(`serve: no group named ${group}`);
  }
  try {
    if (!lstatSync(path).isSocket()) throw new Error(`serve: ${path} exists and is not a socket`);
    unlinkSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  const fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK);
  let bound = false;
  try {
    bind(fd, addr);
    bound = true;
    // Whoever can connect drives the daemon as a VM would: only its owner
    // (or the --socket-group) may. The mode is set before listen(), so no one
    // can connect while it is still what the umask gave (the serving thread's
    // umask is 0, see passthrough.ts).
    if (gid !== undefined) fchownat(AT_FDCWD, path, -1, gid, AT_SYMLINK_NOFOLLOW);
    fchmodat(AT_FDCWD, path, gid !== undefined ? 0o660 : 0o600);
    listen(fd, 1);
    return fd;
  } catch (e) {
    close(fd);
    if (bound) {
      try {
        unlinkSync(path);
      } catch {
        // gone already
      }
    }
    throw e;
  }
}

/** Waits for and accepts one connection; undefined when `signal` aborted first. */
async function acceptOne(listenFd: number, signal: AbortSignal | undefined): Promise<number | undefined> {
  const wakeFd = eventfd();
  const wake = (): void => void writeRaw(wakeFd, Buffer.from([1, 0, 0, 0, 0, 0, 0, 0]), 8);
  signal?.addEventListener('abort', wake);
  try {
    for (;;) {
      if (signal?.aborted) return undefined;
      const fds = [{ fd: listenFd, events: POLLIN, revents: 0 }, { fd: wakeFd, events: POLLIN, revents: 0 }];
      await pollAsync(fds, PARK_MS);
      if (signal?.aborted) return undefined;
      if (!fds[0]!.revents) continue;
      const c = acceptRaw(listenFd, SOCK_CLOEXEC | SOCK_NONBLOCK);
      if (c >= 0) return c;
      if (c === -EAGAIN || c === -EINTR || c === -ECONNABORTED) continue;
      throw new SysError(-c, 'accept4');
    }
  } finally {
    signal?.removeEventListener('abort', wake);
    close(wakeFd);
  }
}
