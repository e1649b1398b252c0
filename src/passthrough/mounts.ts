/**
 * The host mounts inodes live on, by mount id (statx STATX_MNT_ID), and what
 * each allows: file handles, and whether its attributes need a refresh.
 *
 * File handles. An inode with a file handle (name_to_handle_at) holds no fd
 * for long: it is reopened with open_by_handle_at, which needs an fd on the
 * same mount to interpret the handle against. That fd comes from the first
 * inode seen on the mount, reopened for reading (open_by_handle_at refuses
 * O_PATH fds), not from a path in /proc/self/mountinfo: no path walk outside
 * the share, nothing a host user could swap. It is kept while inodes on the
 * mount are in the store, and closed with the last (so an unused nested
 * mount can be unmounted on the host). While it is open the mount cannot go
 * away, so its id cannot be reused under a record.
 *
 * Whether a mount can: `never` gives no handles anywhere; `prefer` tries each
 * mount once (make a handle of the first inode, reopen it by the handle) and
 * falls back to an O_PATH fd per inode where that fails, saying so once per
 * mount; `mandatory` refuses inodes on such a mount (EOPNOTSUPP), and the
 * constructor of the filesystem refuses to start when the source's own mount
 * cannot.
 */
import {
  AT_EMPTY_PATH, AT_FDCWD, FILE_HANDLE_HEADER, MAX_HANDLE_SZ, O_CLOEXEC, O_DIRECTORY, O_NONBLOCK, O_PATH, O_RDONLY, S_IFDIR, S_IFREG,
  SysError, close, errno as E, nameToHandleInto, openByHandleAt, openat, errnoName,
} from '../sys/index.js';
import { readMountinfo } from '../fuse/mountinfo.js';
import type { FdBudget } from './fdbudget.js';
import { cachesAttrs } from './devices.js';

export type FileHandleMode = 'never' | 'prefer' | 'mandatory';
export const FILE_HANDLE_MODES: readonly FileHandleMode[] = ['never', 'prefer', 'mandatory'];

export interface Mount {
  readonly id: number;
  /** Open (not O_PATH) on the mount, for open_by_handle_at; -1 when its inodes hold fds instead. */
  readonly fd: number;
  /** Its filesystem answers AT_STATX_DONT_SYNC from a cache (devices.ts): inodes there are stat'ed again. */
  readonly caching: boolean;
  /** Store entries on it; the record and its fd go with the last. */
  inodes: number;
}

export type Log = (level: 'error' | 'warn' | 'info' | 'debug', msg: string) => void;

/** Scratch for a handle: calls are synchronous on one thread. */
export const handleScratch = Buffer.alloc(FILE_HANDLE_HEADER + MAX_HANDLE_SZ);

/** Why a mount gives no file handles (for the log and for `mandatory`). */
export class NoHandles extends Error {}

export class MountTable {
  private readonly byId = new Map<number, Mount>();
  /** Mount ids already reported as without handles (once each). */
  private readonly reported = new Set<number>();
  /** What was to be logged before the session gave a log (the source's own mount, probed at construction). */
  private pending: [Parameters<Log>[0], string][] = [];
  private logTo: Log | undefined;

  /** Where to log from now on (the session's log, given at init); what was said before goes there first. */
  setLog(log: Log): void {
    this.logTo = log;
    for (const [level, msg] of this.pending) log(level, msg);
    this.pending = [];
  }

  private log(level: Parameters<Log>[0], msg: string): void {
    if (this.logTo) this.logTo(level, msg);
    else this.pending.push([level, msg]);
  }

  constructor(readonly mode: FileHandleMode, private readonly budget: FdBudget) {}

  get size(): number {
    return this.byId.size;
  }

  /**
   * The record of mount `id`, made on first sight from `fd` (an O_PATH fd of
   * an inode of type `type` on it). Under `mandatory` a mount without file
   * handles is an EOPNOTSUPP error for the inode that leads to it.
   */
  get(id: number, fd: number, type: number): Mount {
    const known = this.byId.get(id);
    if (known) return known;
    let mfd = -1;
    if (this.mode !== 'never') {
      try {
        mfd = this.probe(fd, type);
      } catch (e) {
        if (!(e instanceof NoHandles)) throw e;
        if (!this.reported.has(id)) {
          this.reported.add(id);
          this.log(this.mode === 'mandatory' ? 'error' : 'info', `inode file handles: ${describeMount(id)}: ${e.message}; ${this.mode === 'mandatory' ? 'refused (--inode-file-handles=mandatory)' : 'its inodes hold an fd each'}`);
        }
        if (this.mode === 'mandatory') throw new SysError(E.EOPNOTSUPP!, `inode file handles: ${e.message}`);
      }
    }
    const m: Mount = { id, fd: mfd, caching: cachesAttrs(fd), inodes: 0 };
    this.byId.set(id, m);
    return m;
  }

  /** An inode on `m` left the store. */
  release(m: Mount): void {
    m.inodes--;
    this.dropIfUnused(m);
  }

  /** Forget `m` if no inode is on it (also when the inode that made it was refused). */
  dropIfUnused(m: Mount): void {
    if (m.inodes > 0 || this.byId.get(m.id) !== m) return;
    this.byId.delete(m.id);
    if (m.fd >= 0) {
      close(m.fd);
      this.budget.inodeFdClosed();
    }
  }

  /** Close every mount fd (on destroy). */
  clear(): void {
    for (const m of this.byId.values()) {
      if (m.fd >= 0) {
        close(m.fd);
        this.budget.inodeFdClosed();
      }
    }
    this.byId.clear();
  }

  /**
   * Whether handles work on the mount of `fd`: one is made and opened again.
   * Returns the mount fd to keep, or throws NoHandles with the reason.
   */
  private probe(fd: number, type: number): number {
    try {
      nameToHandleInto(fd, '', handleScratch, AT_EMPTY_PATH);
    } catch (e) {
      throw new NoHandles(reason(e, 'the filesystem cannot make file handles'));
    }
    // Only a directory or regular file is opened for reading (a FIFO or device could block or act).
    if (type !== S_IFDIR && type !== S_IFREG) throw new NoHandles('the mount is a special file');
    this.budget.room();
    let mfd: number;
    try {
      mfd = openat(AT_FDCWD, `/proc/self/fd/${fd}`, O_RDONLY | O_NONBLOCK | O_CLOEXEC | (type === S_IFDIR ? O_DIRECTORY : 0));
    } catch (e) {
      throw new NoHandles(reason(e, 'cannot open the mount'));
    }
    try {
      close(openByHandleAt(mfd, handleScratch, O_PATH | O_CLOEXEC));
    } catch (e) {
      close(mfd);
      const why = e instanceof SysError && e.errno === E.EPERM ? 'reopening by handle needs CAP_DAC_READ_SEARCH' : reason(e, 'cannot reopen by handle');
      throw new NoHandles(why);
    }
    this.budget.inodeFdOpened();
    return mfd;
  }
}

function reason(e: unknown, what: string): string {
  return e instanceof SysError ? `${what} (${errnoName(e.errno)})` : `${what} (${String(e)})`;
}

/** "mount 42 at /path (ext4)", from mountinfo, for log lines (rare: once per mount). */
function describeMount(id: number): string {
  try {
    const m = readMountinfo().find((x) => x.mountId === id);
    if (m) return `mount ${id} at ${m.mountPoint} (${m.fsType})`;
  } catch {
    // Described by id alone.
  }
  return `mount ${id}`;
}

