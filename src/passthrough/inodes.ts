/**
 * The inode store: one entry per host inode the kernel holds a reference to,
 * keyed by (dev, ino, mnt_id), each holding an O_PATH fd. Node ids are slot
 * numbers reused after FORGET; every reuse bumps the slot's generation so the
 * kernel (and NFS export) never confuses a new inode with an old one.
 *
 * The entry carries `fd` today; it is the one place that would hold a kernel
 * file handle (name_to_handle_at) instead, so a file-handle mode only changes
 * how `fd` is obtained and released.
 */
import { close } from '../sys/index.js';

export interface Inode {
  readonly nodeid: bigint;
  readonly generation: bigint;
  /** O_PATH|O_NOFOLLOW fd of the host inode. */
  readonly fd: number;
  /** S_IFMT bits, fixed for the inode's life. */
  readonly type: number;
  /** `ino:devMajor:devMinor:mntId` */
  readonly key: string;
  /** `:devMajor:devMinor:mntId`: with a child's d_ino, the child's key if it is on the same mount. */
  readonly keySuffix: string;
  /**
   * Its filesystem answers AT_STATX_DONT_SYNC from a cache (see devices.ts):
   * a lookup's statx of the name does not refresh it, a statx of `fd` does.
   */
  readonly refresh: boolean;
  /** Lookups the kernel holds. */
  refs: number;
}

/** `:devMajor:devMinor:mntId` of a key: which mount the inode is on. */
export function keySuffixOf(key: string): string {
  return key.slice(key.indexOf(':'));
}

export class InodeStore {
  private readonly slots: (Inode | undefined)[] = [undefined];
  private readonly generations: number[] = [0];
  private readonly free: number[] = [];
  private readonly byKey = new Map<string, Inode>();

  get size(): number {
    return this.byKey.size;
  }

  get(nodeid: bigint): Inode | undefined {
    return nodeid < 0x100000000n ? this.slots[Number(nodeid)] : undefined;
  }

  getByKey(key: string): Inode | undefined {
    return this.byKey.get(key);
  }

  /** Add a new inode with one reference (the root gets slot 1 by being first). */
  insert(fd: number, type: number, key: string, refresh: boolean): Inode {
    const slot = this.free.pop() ?? this.slots.length;
    const gen = (this.generations[slot] ?? -1) + 1;
    this.generations[slot] = gen;
    const keySuffix = keySuffixOf(key);
    const inode: Inode = { nodeid: BigInt(slot), generation: BigInt(gen), fd, type, key, keySuffix, refresh, refs: 1 };
    this.slots[slot] = inode;
    this.byKey.set(key, inode);
    return inode;
  }

  /** Drop `n` references; closes and frees the entry when none remain. Root (1) is never freed. */
  forget(nodeid: bigint, n: number): void {
    const inode = this.get(nodeid);
    if (!inode || nodeid === 1n) return;
    inode.refs -= n;
    if (inode.refs > 0) return;
    const slot = Number(nodeid);
    this.slots[slot] = undefined;
    if (this.byKey.get(inode.key) === inode) this.byKey.delete(inode.key);
    this.free.push(slot);
    close(inode.fd);
  }

  /** Close every fd (on destroy). */
  clear(): void {
    for (const inode of this.slots) if (inode) close(inode.fd);
    this.slots.length = 1;
    this.free.length = 0;
    this.byKey.clear();
  }
}
