/** Open files and directories, by the fh the kernel was given. */
import { close } from '../sys/index.js';
import { SysError, errno as E } from '../sys/errno.js';
import type { Identity } from './creds.js';
import type { FdBudget } from './fdbudget.js';

export interface Handle {
  readonly node: bigint;
  readonly fd: number;
  /** Whose share of the fd budget it counts against (fdbudget.ts): the opener's uid. */
  readonly uid: number;
  /** Files: the flags the host fd was opened with. */
  readonly hostFlags?: number;
  /**
   * Files: whether the host fd has O_DIRECT now. It follows the client's
   * file flags per request (fcntl F_SETFL can change them after open, as dd
   * does for its last, short block).
   */
  direct?: boolean;
  /**
   * Files once used with O_DIRECT: the alignment the host needs for I/O
   * buffers (a power of two, at least a page and the logical block size).
   */
  directAlign?: number;
  /**
   * Files: whom writes and other space-allocating calls run as, when that is
   * not the daemon itself: the opener (see creds.ts).
   */
  readonly opener?: Identity;
  /** FUSE passthrough backing id, to close on release. */
  backingId?: number;
  /** Directories: the directory offset the fd is positioned at (d_off of the last entry returned). */
  dirPos?: bigint;
}

/**
 * Every handle is counted in the fd budget from add to take; the caller
 * checks FdBudget.forOpen before opening the fd.
 */
export class HandleTable {
  private readonly map = new Map<bigint, Handle>();
  private next = 1n;

  constructor(private readonly budget: FdBudget) {}

  get size(): number {
    return this.map.size;
  }

  add(h: Handle): bigint {
    const fh = this.next++;
    this.map.set(fh, h);
    this.budget.opened(h.uid);
    return fh;
  }

  /** The handle `fh`, which must belong to `node` (anything else is EBADF). */
  get(fh: bigint, node: bigint): Handle {
    const h = this.map.get(fh);
    if (!h || h.node !== node) throw new SysError(E.EBADF!, 'handle');
    return h;
  }

  /** Some handle of `node` other than `except` that satisfies `ok` (a linear scan: for rare paths only). */
  find(node: bigint, except: Handle, ok: (h: Handle) => boolean): Handle | undefined {
    for (const h of this.map.values()) if (h.node === node && h !== except && ok(h)) return h;
    return undefined;
  }

  /** Forget `fh` and return it; the caller closes what it holds. */
  take(fh: bigint, node: bigint): Handle {
    const h = this.get(fh, node);
    this.map.delete(fh);
    this.budget.closed(h.uid);
    return h;
  }

  /** Close every fd (backing ids die with the connection). */
  clear(): void {
    for (const h of this.map.values()) close(h.fd);
    this.map.clear();
    this.budget.clearOpenFiles();
  }
}
