/**
 * The file descriptors the filesystem may hold, and who may hold them.
 *
 * The process has RLIMIT_NOFILE descriptors (raised to the hard limit at
 * start-up, see rlimit.ts) and may not run out of them: a daemon that gets
 * EMFILE for its own bookkeeping fails everyone. So every descriptor the
 * filesystem keeps beyond one request is counted here:
 *   - inode fds: O_PATH fds of inodes (pinned for those without a file
 *     handle, cached for those with one, see inodes.ts), and the mount fds
 *     file handles are opened through;
 *   - open files: a client's open file or directory (handles.ts).
 * RESERVE descriptors stay outside the count, for Node itself, the FUSE
 * device, logs and the few fds a request opens and closes before it returns.
 *
 * When the count reaches the limit, cached inode fds are closed, least
 * recently used first (`evict`); only when none is left does the client get
 * ENFILE for the operation that needed one. Open files are also limited per
 * user (`share`, EMFILE beyond it): one user holding thousands of files
 * leaves room for everyone else's.
 */
import { SysError, errno as E } from '../sys/index.js';

/** Descriptors outside the budget: Node's own, the device, logs, and per-request temporaries. */
export const RESERVE = 64;
/** The least budget that works (what --rlimit-nofile accepts, plus RESERVE). */
export const MIN_BUDGET = 64;

export class FdBudget {
  /** Inode fds (pinned and cached) and mount fds. */
  private inodeFds = 0;
  /** Open files and directories. */
  private openFiles = 0;
  private readonly byUid = new Map<number, number>();
  /** Idle cached inode fds kept at most (see inodes.ts). */
  readonly cacheMax: number;
  /** Open files one user may hold. */
  readonly share: number;
  /** Close one idle cached inode fd; false when there is none. Set by the inode store. */
  evict: () => boolean = () => false;
  /** Where refusals are reported (the session's log, once it is known). */
  log: (level: 'warn', msg: string) => void = () => undefined;
  private refused = 0;
  private lastReport = -Infinity;

  /** `limit`: descriptors the filesystem may hold (the soft RLIMIT_NOFILE less RESERVE). */
  constructor(readonly limit: number) {
    if (limit < MIN_BUDGET) throw new RangeError(`fd budget of ${limit} is below the minimum of ${MIN_BUDGET}`);
    this.cacheMax = Math.max(16, Math.min(512, Math.floor(limit / 4)));
    this.share = Math.floor((limit - this.cacheMax) / 2);
  }

  get held(): number {
    return this.inodeFds + this.openFiles;
  }

  /** Make room for one more descriptor (closing idle cached ones), or fail with ENFILE. */
  room(): void {
    while (this.held >= this.limit) {
      if (!this.evict()) this.refuse(E.ENFILE!, `all ${this.limit} descriptors the daemon may hold are in use (${this.openFiles} open files); clients get ENFILE until some are closed or the kernel forgets inodes; consider a larger --rlimit-nofile`);
    }
  }

  /** Before opening a file for `uid`: within its share (else EMFILE), and room for it. */
  forOpen(uid: number): void {
    if ((this.byUid.get(uid) ?? 0) >= this.share) this.refuse(E.EMFILE!, `uid ${uid} holds its share of ${this.share} open files; its further opens get EMFILE`);
    this.room();
  }

  /** Fail the client's operation; say why in the log, at most once a minute (with how many were refused). */
  private refuse(errno: number, why: string): never {
    this.refused++;
    const now = performance.now();
    if (now - this.lastReport >= 60_000) {
      this.log('warn', `fd budget: ${why} (${this.refused} refused since the last report)`);
      this.refused = 0;
      this.lastReport = now;
    }
    throw new SysError(errno, `fd budget: ${why}`);
  }

  opened(uid: number): void {
    this.openFiles++;
    this.byUid.set(uid, (this.byUid.get(uid) ?? 0) + 1);
  }

  closed(uid: number): void {
    this.openFiles--;
    const n = (this.byUid.get(uid) ?? 1) - 1;
    if (n === 0) this.byUid.delete(uid);
    else this.byUid.set(uid, n);
  }

  inodeFdOpened(): void {
    this.inodeFds++;
  }

  inodeFdClosed(): void {
    this.inodeFds--;
  }

  /** Open files of `uid` now. */
  openBy(uid: number): number {
    return this.byUid.get(uid) ?? 0;
  }

  /** Forget every open file (the connection ended and they were closed). */
  clearOpenFiles(): void {
    this.openFiles = 0;
    this.byUid.clear();
  }
}
