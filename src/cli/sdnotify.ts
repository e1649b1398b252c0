/**
 * systemd's readiness protocol (sd_notify(3)) for a Type=notify service: when
 * systemd starts the daemon it sets NOTIFY_SOCKET to an AF_UNIX datagram
 * socket (a path, or "@name" in the abstract namespace), and the daemon sends
 * "READY=1" once it serves and "STOPPING=1" when it begins to shut down.
 * systemd reads the sender's credentials from the socket, so these must come
 * from the process systemd started (the daemon in the foreground, -f).
 */
import {
  AF_UNIX, SOCK_CLOEXEC, SOCK_DGRAM, SOCK_NONBLOCK, MSG_NOSIGNAL, POLLOUT,
  close, errno, errnoName, pollFd, sendtoRaw, socket, sockaddrUn, type SockaddrUn,
} from '../sys/index.js';
import type { LogFn } from '../fuse/log.js';

export const NOTIFY_SOCKET_ENV = 'NOTIFY_SOCKET';

/** How long one notification may wait for room in systemd's queue. */
const SEND_WAIT_MS = 1000;

export class SdNotify {
  private sentReady = false;
  private sentStopping = false;

  private constructor(
    private fd: number,
    private readonly addr: SockaddrUn,
    /** NOTIFY_SOCKET as given, for messages. */
    private readonly where: string,
    private readonly log: LogFn | undefined,
  ) {}

  /**
   * Takes NOTIFY_SOCKET out of the environment (nothing the daemon runs, such
   * as fusermount3, may inherit it and notify in its name) and returns a
   * notifier for it; undefined when it is unset, or unusable (then a warning
   * is logged).
   */
  static fromEnv(log?: LogFn, env: NodeJS.ProcessEnv = process.env): SdNotify | undefined {
    const where = env[NOTIFY_SOCKET_ENV];
    delete env[NOTIFY_SOCKET_ENV];
    if (!where) return undefined;
    if (!where.startsWith('/') && !where.startsWith('@')) {
      log?.('warn', `NOTIFY_SOCKET=${where}: only unix socket paths and @abstract names are supported; not notifying systemd`);
      return undefined;
    }
    let fd = -1;
    try {
      const addr = sockaddrUn(where.startsWith('@') ? `\0${where.slice(1)}` : where);
      fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC);
      return new SdNotify(fd, addr, where, log);
    } catch (e) {
      if (fd >= 0) close(fd);
      log?.('warn', `NOTIFY_SOCKET=${where}: ${e instanceof Error ? e.message : String(e)}; not notifying systemd`);
      return undefined;
    }
  }

  /** The mount is live (once). */
  ready(): boolean {
    if (this.sentReady) return true;
    this.sentReady = true;
    return this.send('READY=1');
  }

  /** Shutting down (once; after the unmount began, or the mount went away). */
  stopping(): boolean {
    if (this.sentStopping) return true;
    this.sentStopping = true;
    return this.send('STOPPING=1');
  }

  /**
   * Sends one notification ("KEY=value" lines). Waits up to a second for room
   * when systemd's queue is full, then gives up with a warning. Never throws.
   */
  send(state: string): boolean {
    if (this.fd < 0) return false;
    const b = Buffer.from(state, 'utf8');
    const deadline = Date.now() + SEND_WAIT_MS;
    for (;;) {
      const r = sendtoRaw(this.fd, b, b.length, MSG_NOSIGNAL, this.addr);
      if (r >= 0) return true;
      if (r === -errno.EINTR!) continue;
      const left = deadline - Date.now();
      if (r === -errno.EAGAIN! && left > 0) {
        pollFd(this.fd, POLLOUT, left);
        continue;
      }
      this.log?.('warn', `cannot notify systemd (${state}) on ${this.where}: ${errnoName(-r)}`);
      return false;
    }
  }

  close(): void {
    if (this.fd < 0) return;
    try { close(this.fd); } catch { /* nothing to do */ }
    this.fd = -1;
  }
}
