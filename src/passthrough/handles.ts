/** Open files and directories, by the fh the kernel was given. */
import { close } from '../sys/index.js';
import { SysError, errno as E } from '../sys/errno.js';

export interface Handle {
  readonly node: bigint;
  readonly fd: number;
  /** Files: the uid that opened it, which writes without a caller (writeback) are made as. */
  readonly uid?: number;
  /** FUSE passthrough backing id, to close on release. */
  backingId?: number;
  /** Directories: the directory offset the fd is positioned at (d_off of the last entry returned). */
  dirPos?: bigint;
}

export class HandleTable {
  private readonly map = new Map<bigint, Handle>();
  private next = 1n;

  get size(): number {
    return this.map.size;
  }

  add(h: Handle): bigint {
    const fh = this.next++;
    this.map.set(fh, h);
    return fh;
  }

  /** The handle `fh`, which must belong to `node` (anything else is EBADF). */
  get(fh: bigint, node: bigint): Handle {
    const h = this.map.get(fh);
    if (!h || h.node !== node) throw new SysError(E.EBADF!, 'handle');
    return h;
  }

  /** Forget `fh` and return it; the caller closes what it holds. */
  take(fh: bigint, node: bigint): Handle {
    const h = this.get(fh, node);
    this.map.delete(fh);
    return h;
  }

  /** Close every fd (backing ids die with the connection). */
  clear(): void {
    for (const h of this.map.values()) close(h.fd);
    this.map.clear();
  }
}
