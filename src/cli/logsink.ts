/**
 * Where the daemon's log goes: stderr, a log file (--log-file), or the local
 * syslog socket (--syslog). The daemon usually runs as root, and the log file
 * may sit in a world-writable directory chosen by a careless operator, so the
 * file is opened without following a symlink and refused unless it is a
 * regular file with one link owned by the daemon's user (each open is checked
 * on the fd it got, so a swap between check and open gains nothing). A write
 * to any destination never throws and never blocks on syslog: a line that
 * cannot be written is dropped and counted, and the count is logged once the
 * destination works again.
 */
import { basename, dirname, sep } from 'node:path';
import { realpathSync } from 'node:fs';
import {
  AT_FDCWD, O_APPEND, O_CLOEXEC, O_CREAT, O_DIRECTORY, O_NOCTTY, O_NOFOLLOW, O_NONBLOCK, O_PATH, O_WRONLY,
  AF_UNIX, SOCK_CLOEXEC, SOCK_DGRAM, SOCK_NONBLOCK, MSG_DONTWAIT, MSG_NOSIGNAL, S_IFLNK, S_IFMT, S_IFREG,
  AT_SYMLINK_NOFOLLOW, SysError, errno, close, fstat, fstatat, openat, socket, connect, sendRaw, sockaddrUn, type Stat,
} from '../sys/index.js';
import { logs, printable, writeAll, type LogFn, type LogLevel } from '../fuse/log.js';

export type LogTarget =
  | { to: 'stderr' }
  | { to: 'file'; path: string }
  | { to: 'syslog'; socket: string };

/** The local syslog socket (--syslog without --syslog-socket). */
export const SYSLOG_SOCKET = '/dev/log';

/** A log destination that cannot be used; the message names it and why. */
export class LogSetupError extends Error {}

export interface Logger {
  /** For SessionOptions.log: filters by level, never throws. */
  readonly log: LogFn;
  /**
   * SIGHUP: reopen the log file by its name (logrotate renamed the old one) or
   * reconnect to syslog. Never throws; on failure the old destination is kept
   * and the failure logged to it.
   */
  reopen(): void;
  /** At exit: closes the file or socket. Later log calls are dropped. */
  close(): void;
}

interface Sink {
  /** Writes one message; false when it was dropped. Never throws. */
  write(level: LogLevel, msg: string): boolean;
  /** An error message, or undefined when the destination was reopened. */
  reopen(): string | undefined;
  close(): void;
}

function codeOf(e: unknown): string {
  return e instanceof SysError ? e.code : ((e as NodeJS.ErrnoException).code ?? String(e));
}

// ---- stderr ---------------------------------------------------------------------------------

const stderrSink: Sink = {
  write: (level, msg) => writeAll(2, `passthroughfs: ${level}: ${msg}\n`),
  reopen: () => undefined,
  close: () => undefined,
};

// ---- log file ---------------------------------------------------------------------------------

// O_NONBLOCK: a FIFO planted under the log file's name must not hang the open
// (it fails with ENXIO, or is refused below); it changes nothing for a regular
// file. O_NOCTTY: a terminal device must not become our controlling terminal.
const FILE_FLAGS = O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;
const FILE_MODE = 0o600;

function symlinkRefused(path: string): LogSetupError {
  return new LogSetupError(`log file ${path} is a symbolic link (refused: the daemon, often root, does not follow it)`);
}

/** What is under `name` in `dirfd`, not following a symlink; undefined if nothing (or unreadable). */
function lstatAt(dirfd: number, name: string): Stat | undefined {
  try {
    return fstatat(dirfd, name, AT_SYMLINK_NOFOLLOW);
  } catch {
    return undefined;
  }
}

/** Opens `name` in `dirfd` and checks what it got; throws LogSetupError. */
function openLogFile(dirfd: number, name: string, path: string): number {
  let fd: number;
  try {
    fd = openat(dirfd, name, FILE_FLAGS, FILE_MODE);
  } catch (e) {
    const code = codeOf(e);
    if (code === 'ELOOP') throw symlinkRefused(path);
    if (code === 'EISDIR') throw new LogSetupError(`log file ${path} is a directory`);
    if (code === 'ENXIO') throw new LogSetupError(`log file ${path} is not a regular file`);
    if (code === 'EACCES') {
      // In a sticky world-writable directory, fs.protected_symlinks/_regular/_fifos
      // refuse O_CREAT on another user's symlink, file or FIFO: say which.
      const st = lstatAt(dirfd, name);
      const euid = process.geteuid?.() ?? 0;
      if (st && (st.mode & S_IFMT) === S_IFLNK) throw symlinkRefused(path);
      if (st && st.uid !== euid) throw new LogSetupError(`log file ${path} is owned by uid ${st.uid}, not by the daemon's user (uid ${euid})`);
      throw new LogSetupError(`log file ${path}: permission denied`);
    }
    if (code === 'EROFS') throw new LogSetupError(`log file ${path}: read-only file system`);
    throw new LogSetupError(`log file ${path}: ${code}`);
  }
  try {
    const st = fstat(fd);
    const euid = process.geteuid?.() ?? 0;
    if ((st.mode & S_IFMT) !== S_IFREG) throw new LogSetupError(`log file ${path} is not a regular file`);
    if (st.nlink > 1) throw new LogSetupError(`log file ${path} has ${st.nlink} hard links (refused: only a file with one name can be the log)`);
    if (st.uid !== euid) throw new LogSetupError(`log file ${path} is owned by uid ${st.uid}, not by the daemon's user (uid ${euid})`);
  } catch (e) {
    close(fd);
    if (e instanceof LogSetupError) throw e;
    throw new LogSetupError(`log file ${path}: ${codeOf(e)}`);
  }
  return fd;
}

function quietClose(fd: number): void {
  try {
    close(fd);
  } catch {
    // Nothing to do about it.
  }
}

/** A destination behind one fd, which reopen() replaces (keeping the old one if that fails). */
abstract class FdSink implements Sink {
  constructor(protected fd: number) {}

  abstract write(level: LogLevel, msg: string): boolean;
  protected abstract openAgain(): number;

  reopen(): string | undefined {
    if (this.fd < 0) return 'closed';
    try {
      const fd = this.openAgain();
      quietClose(this.fd);
      this.fd = fd;
      return undefined;
    } catch (e) {
      return e instanceof Error ? e.message : String(e);
    }
  }

  close(): void {
    if (this.fd < 0) return;
    quietClose(this.fd);
    this.fd = -1;
  }
}

class FileSink extends FdSink {
  private readonly prefix = ` passthroughfs[${process.pid}]: `;

  /**
   * The directory is held open (O_PATH) and the file reopened relative to it:
   * a reopen on SIGHUP walks no path again (nothing swapped into the path since
   * start-up is followed, and a log file under a directory the daemon later
   * mounts over stays on the directory it was in).
   */
  private constructor(private readonly path: string, private readonly dirfd: number, private readonly name: string, fd: number) {
    super(fd);
  }

  static open(path: string): FileSink {
    const name = basename(path);
    if (name === '' || name === '.' || name === '..' || path.endsWith(sep)) throw new LogSetupError(`log file ${path} is not a file name`);
    const dir = dirname(path);
    let dirfd: number;
    try {
      dirfd = openat(AT_FDCWD, dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    } catch (e) {
      const code = codeOf(e);
      const why = code === 'ENOENT' ? 'no such directory' : code === 'ENOTDIR' ? 'not a directory' : code === 'EACCES' ? 'permission denied' : code;
      throw new LogSetupError(`log file ${path}: ${dir}: ${why}`);
    }
    try {
      return new FileSink(path, dirfd, name, openLogFile(dirfd, name, path));
    } catch (e) {
      close(dirfd);
      throw e;
    }
  }

  write(level: LogLevel, msg: string): boolean {
    if (this.fd < 0) return false;
    return writeAll(this.fd, `${new Date().toISOString()}${this.prefix}${level}: ${msg}\n`);
  }

  protected openAgain(): number {
    return openLogFile(this.dirfd, this.name, this.path);
  }

  override close(): void {
    if (this.fd >= 0) quietClose(this.dirfd);
    super.close();
  }
}

// ---- syslog ---------------------------------------------------------------------------------

/** RFC 3164 facility "daemon" (3), shifted; severities err 3, warning 4, info 6, debug 7. */
const FACILITY_DAEMON = 3 << 3;
const SEVERITY: Record<LogLevel, number> = { error: 3, warn: 4, info: 6, debug: 7 };
/** Never wait for the syslog daemon: a full queue (EAGAIN) drops the line. */
const SEND_FLAGS = MSG_DONTWAIT | MSG_NOSIGNAL;
/** Errors after which the syslog daemon has gone away (restarted): reconnect, at most once a second. */
const PEER_GONE = new Set([errno.ECONNREFUSED, errno.ENOTCONN, errno.ECONNRESET, errno.EPIPE].map((e) => -e!));
const RECONNECT_MS = 1000;

function connectSyslog(path: string): number {
  let addr;
  try {
    addr = sockaddrUn(path);
  } catch {
    throw new LogSetupError(`syslog socket ${path}: name too long for a unix socket`);
  }
  const fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC);
  try {
    connect(fd, addr);
  } catch (e) {
    close(fd);
    const code = codeOf(e);
    if (code === 'ENOENT') throw new LogSetupError(`syslog socket ${path} does not exist (is a syslog daemon running?)`);
    if (code === 'ECONNREFUSED') throw new LogSetupError(`syslog socket ${path}: nothing is listening there`);
    if (code === 'EPROTOTYPE') throw new LogSetupError(`syslog socket ${path} is not a datagram socket`);
    if (code === 'EACCES') throw new LogSetupError(`syslog socket ${path}: permission denied`);
    throw new LogSetupError(`syslog socket ${path}: ${code}`);
  }
  return fd;
}

class SyslogSink extends FdSink {
  private readonly tag = `passthroughfs[${process.pid}]: `;
  private retryAt = 0;

  private constructor(private readonly path: string, fd: number) {
    super(fd);
  }

  static open(path: string): SyslogSink {
    return new SyslogSink(path, connectSyslog(path));
  }

  write(level: LogLevel, msg: string): boolean {
    if (this.fd < 0) return false;
    const b = Buffer.from(`<${FACILITY_DAEMON | SEVERITY[level]}>${this.tag}${msg}`, 'utf8');
    let r = sendRaw(this.fd, b, b.length, SEND_FLAGS);
    if (r < 0 && PEER_GONE.has(r) && Date.now() >= this.retryAt) {
      this.retryAt = Date.now() + RECONNECT_MS;
      if (this.reopen() === undefined) r = sendRaw(this.fd, b, b.length, SEND_FLAGS);
    }
    return r >= 0;
  }

  protected openAgain(): number {
    return connectSyslog(this.path);
  }
}

// ---- the logger -----------------------------------------------------------------------------

function openSink(target: LogTarget): Sink {
  try {
    if (target.to === 'file') return FileSink.open(target.path);
    if (target.to === 'syslog') return SyslogSink.open(target.socket);
    return stderrSink;
  } catch (e) {
    if (e instanceof LogSetupError) throw e;
    throw new LogSetupError(`cannot open the log (${describeTarget(target)}): ${codeOf(e)}`);
  }
}

function describeTarget(target: LogTarget): string {
  return target.to === 'file' ? `file ${target.path}` : target.to === 'syslog' ? `syslog (${target.socket})` : 'stderr';
}

/**
 * Opens the log destination and returns a logger for messages up to `max`.
 * Throws LogSetupError (with a message for the operator) when the destination
 * cannot be used.
 */
export function openLogger(target: LogTarget, max: LogLevel): Logger {
  const sink = openSink(target);
  let dropped = 0;
  let closed = false;
  const put = (level: LogLevel, msg: string): boolean => {
    if (dropped > 0) {
      if (!sink.write('warn', `${dropped} log message${dropped === 1 ? '' : 's'} dropped (the log destination failed or was full)`)) return false;
      dropped = 0;
    }
    return sink.write(level, msg);
  };
  const log: LogFn = (level, msg) => {
    if (closed || !logs(max, level)) return;
    try {
      if (!put(level, printable(msg))) dropped++;
    } catch {
      dropped++;
    }
  };
  return {
    log,
    reopen() {
      if (closed) return;
      try {
        const err = sink.reopen();
        if (err !== undefined) log('error', `cannot reopen the log, still writing to the old one: ${err}`);
        else if (target.to !== 'stderr') log('info', `reopened the log (${describeTarget(target)})`);
      } catch {
        // Never let a reopen fail the signal handler that called it.
      }
    },
    close() {
      if (closed) return;
      closed = true;
      sink.close();
    },
  };
}

/**
 * The CLI's start-up check, before the daemon detaches (so that errors reach
 * the operator): the destination can be opened (a log file is created, 0600),
 * and a log file does not lie under the mountpoint, where the mount would
 * hide it. Throws LogSetupError.
 */
export function checkLogTarget(target: LogTarget, mountpoint: string): void {
  if (target.to === 'file') {
    let dir: string | undefined;
    let mnt: string | undefined;
    try {
      dir = realpathSync(dirname(target.path));
      mnt = realpathSync(mountpoint);
    } catch {
      // Opening it below reports what is wrong with the directory.
    }
    if (dir !== undefined && mnt !== undefined && (dir === mnt || dir.startsWith(mnt === '/' ? '/' : `${mnt}/`))) {
      throw new LogSetupError(`log file ${target.path} is under the mountpoint ${mountpoint}: the mount would hide it`);
    }
  }
  openLogger(target, 'error').close();
}
