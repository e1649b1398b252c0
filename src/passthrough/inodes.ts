/**
 * The inode store: one entry per host inode the kernel holds a reference to.
 *
 * Identity. An entry is the host inode (dev, ino) seen through one mount (its
 * mount id), and, where the filesystem makes them, its file handle. The index
 * is by inode number, entries sharing one chained; no key string is built per
 * request. A handle names the inode itself: (dev, ino) can be reused once a
 * file is deleted, its handle cannot (it carries the generation). An entry
 * that holds an fd pins its host inode, so its (dev, ino) cannot be reused;
 * one that holds none is checked by reopening its handle (`find`).
 *
 * Node ids are slot numbers reused after FORGET; every reuse bumps the slot's
 * generation so the kernel never confuses a new inode with an old one.
 *
 * Files. Every use of an inode's host object goes through `fd(inode)`, which
 * yields an O_PATH fd:
 *   - an inode without a handle (file handles off, or its filesystem cannot
 *     make them) holds its fd for life: pinned;
 *   - one with a handle holds an fd only while it is among the most recently
 *     used (an LRU of at most FdBudget.cacheMax), and is reopened by handle
 *     through its mount's fd otherwise.
 * What must stay true: an fd from `fd()` stays open until the request that
 * asked for it returns. Eviction closes the least recently used first and
 * never one of the last MIN_CACHED used, and a request holds at most a few
 * fds from fd() at once, each asked for right before its use.
 */
import { O_CLOEXEC, O_PATH, StatxOff, SysError, close, errno as E, openByHandleAt } from '../sys/index.js';
import type { FdBudget } from './fdbudget.js';
import { handleScratch, type Mount, type MountTable } from './mounts.js';

/** Cached fds eviction leaves alone: the ones a request may be using. */
const MIN_CACHED = 8;
/** Slot arrays shorter than this are never compacted. */
const COMPACT_MIN = 4096;

export class Inode {
  /** Lookups the kernel holds. */
  refs = 1;
  /** O_PATH fd, or -1 when the inode has a handle and is not cached. Use `InodeStore.fd()`. */
  fd: number;
  /** Next entry with the same index key (inode number). */
  next: Inode | undefined;
  /** LRU neighbours, while a handle inode holds a cached fd. */
  older: Inode | undefined;
  newer: Inode | undefined;
  /** Still reachable by identity (false once superseded by a live inode with the same number). */
  indexed = true;

  constructor(
    readonly nodeid: bigint,
    readonly generation: bigint,
    fd: number,
    /** S_IFMT bits, fixed for the inode's life. */
    readonly type: number,
    readonly inoLo: number,
    readonly inoHi: number,
    readonly devMajor: number,
    readonly devMinor: number,
    readonly mount: Mount,
    /** The raw struct file_handle as a latin1 string (compact, comparable), if any. */
    readonly handle: string | undefined,
  ) {
    this.fd = fd;
  }
}

/** Inode number of a statx buffer as an index key (exact below 2^53; chains resolve the rest). */
function inoKey(lo: number, hi: number): number {
  return hi * 4294967296 + lo;
}

export class InodeStore {
  private readonly slots: (Inode | undefined)[] = [undefined];
  private readonly generations: number[] = [0];
  private free: number[] = [];
  /**
   * Generations of slots given up by compact() start above this, so a node
   * id is never given out again with a generation it had before.
   */
  private generationFloor = 0;
  /** Inodes freed since the last compact(): it runs only once these pay for its scan. */
  private freedSinceCompact = 0;
  private readonly index = new Map<number, Inode>();
  private count = 0;
  /** LRU of handle inodes holding an fd: oldest … newest. */
  private oldest: Inode | undefined;
  private newest: Inode | undefined;
  private cached = 0;

  constructor(private readonly budget: FdBudget, private readonly mounts: MountTable) {
    budget.evict = () => this.evictOne();
  }

  /** Inodes in the store. */
  get size(): number {
    return this.count;
  }

  /** Handle inodes holding a cached fd now. */
  get cachedFds(): number {
    return this.cached;
  }

  get(nodeid: bigint): Inode | undefined {
    return nodeid < 0x100000000n ? this.slots[Number(nodeid)] : undefined;
  }

  /**
   * The entry with the identity in a statx buffer (ino, dev, mount id), if
   * indexed; not checked for being alive (see `find`).
   */
  indexed(sx: Buffer): Inode | undefined {
    return this.lookup(sx.readUInt32LE(StatxOff.ino), sx.readUInt32LE(StatxOff.ino + 4), sx.readUInt32LE(StatxOff.devMajor), sx.readUInt32LE(StatxOff.devMinor), sx.readUInt32LE(StatxOff.mntId));
  }

  /** The entry for d_ino `ino` on the same device and mount as `dir`, if indexed. */
  child(dir: Inode, inoLo: number, inoHi: number): Inode | undefined {
    return this.lookup(inoLo, inoHi, dir.devMajor, dir.devMinor, dir.mount.id);
  }

  private lookup(lo: number, hi: number, major: number, minor: number, mnt: number): Inode | undefined {
    for (let i = this.index.get(inoKey(lo, hi)); i; i = i.next) {
      if (i.inoLo === lo && i.inoHi === hi && i.devMinor === minor && i.devMajor === major && i.mount.id === mnt) return i;
    }
    return undefined;
  }

  /**
   * The live entry with the identity in a statx buffer. One that holds an fd
   * is alive by that fd; one that does not is reopened by its handle, and if
   * the host inode is gone (ESTALE: its number may now be another file's),
   * it is taken out of the index and this returns undefined.
   */
  find(sx: Buffer): Inode | undefined {
    const i = this.indexed(sx);
    if (!i || i.fd >= 0) return i;
    try {
      this.fd(i);
    } catch (e) {
      if (!(e instanceof SysError) || e.errno !== E.ESTALE) throw e;
      this.unindex(i);
      return undefined;
    }
    return i;
  }

  /**
   * Add a new inode with one reference (the root gets slot 1 by being first).
   * `fd` (an O_PATH fd on it, counted in the budget by the caller) becomes the
   * entry's: pinned without a handle, cached with one. `sx` holds its statx.
   */
  insert(fd: number, type: number, sx: Buffer, mount: Mount, handle: string | undefined): Inode {
    const slot = this.freeSlot();
    const gen = Math.max((this.generations[slot] ?? -1) + 1, this.generationFloor);
    this.generations[slot] = gen;
    const inode = new Inode(
      BigInt(slot), BigInt(gen), fd, type,
      sx.readUInt32LE(StatxOff.ino), sx.readUInt32LE(StatxOff.ino + 4),
      sx.readUInt32LE(StatxOff.devMajor), sx.readUInt32LE(StatxOff.devMinor), mount, handle,
    );
    this.slots[slot] = inode;
    this.count++;
    mount.inodes++;
    const key = inoKey(inode.inoLo, inode.inoHi);
    inode.next = this.index.get(key);
    this.index.set(key, inode);
    if (handle !== undefined) {
      this.addNewest(inode);
      this.trim();
    }
    return inode;
  }

  /**
   * An O_PATH fd of `inode`, open until the current request returns: its own,
   * or reopened by handle (ESTALE when the host inode is gone).
   */
  fd(inode: Inode): number {
    if (inode.fd >= 0) {
      if (inode.handle !== undefined && inode !== this.newest) {
        this.unlink(inode);
        this.addNewest(inode);
      }
      return inode.fd;
    }
    while (this.cached >= this.budget.cacheMax && this.evictOne());
    this.budget.room();
    handleScratch.write(inode.handle!, 0, 'latin1');
    inode.fd = openByHandleAt(inode.mount.fd, handleScratch, O_PATH | O_CLOEXEC);
    this.budget.inodeFdOpened();
    this.addNewest(inode);
    return inode.fd;
  }

  /** A fresh O_PATH fd of the handle inode `inode` (counted by the caller) becomes its cached fd. */
  adopt(inode: Inode, fd: number): void {
    if (inode.fd >= 0 || inode.handle === undefined) throw new Error('adopt: the inode holds an fd already');
    inode.fd = fd;
    this.addNewest(inode);
    this.trim();
  }

  /** After a new cached fd: keep the cache within its size. */
  private trim(): void {
    while (this.cached > this.budget.cacheMax && this.evictOne());
  }

  /** Drop `n` references; closes and frees the entry when none remain. Root (1) is never freed. */
  forget(nodeid: bigint, n: number): void {
    const inode = this.get(nodeid);
    if (!inode || nodeid === 1n) return;
    inode.refs -= n;
    if (inode.refs > 0) return;
    this.slots[Number(nodeid)] = undefined;
    this.free.push(Number(nodeid));
    this.count--;
    this.unindex(inode);
    this.closeFd(inode);
    this.mounts.release(inode.mount);
    const len = this.slots.length;
    if (++this.freedSinceCompact >= this.count && this.count * 4 < len && len > COMPACT_MIN) this.compact();
  }

  /**
   * A slot to use: from the free list (skipping entries compact() left there
   * for slots it gave up, or that are in use again since), else a new one.
   */
  private freeSlot(): number {
    for (;;) {
      const i = this.free.pop();
      if (i === undefined) return this.slots.length;
      if (i < this.slots.length && this.slots[i] === undefined) return i;
    }
  }

  /**
   * Give back the memory of slots above the highest one in use, once the
   * kernel has forgotten most inodes (after a walk and a drop of its caches,
   * the slot, generation and free arrays would otherwise keep their peak
   * size for good). Node ids in use never change. It runs once a quarter or
   * less of the slots are in use and as many FORGETs as inodes remain have
   * come since the last time, so its work (the slots given up, and the free
   * list once it is mostly stale) is paid for by FORGETs: O(1) each, in a
   * storm too.
   */
  private compact(): void {
    this.freedSinceCompact = 0;
    let top = this.slots.length - 1;
    while (top > 1 && this.slots[top] === undefined) top--;
    if (top + 1 === this.slots.length) return;
    for (let i = top + 1; i < this.generations.length; i++) {
      const g = this.generations[i]!;
      if (g >= this.generationFloor) this.generationFloor = g + 1;
    }
    this.slots.length = top + 1;
    this.generations.length = top + 1;
    // Entries above top are skipped by freeSlot(); drop them once they are most of the list.
    if (this.free.length > 2 * this.slots.length) this.free = this.free.filter((i) => i <= top);
  }

  /** Close every fd (on destroy). */
  clear(): void {
    for (const inode of this.slots) if (inode) this.closeFd(inode);
    this.slots.length = 1;
    this.generations.length = 1;
    this.free.length = 0;
    this.freedSinceCompact = 0;
    this.index.clear();
    this.count = 0;
    this.mounts.clear();
  }

  /** Take `inode` out of the index (it stays reachable by node id until forgotten). */
  unindex(inode: Inode): void {
    if (!inode.indexed) return;
    inode.indexed = false;
    const key = inoKey(inode.inoLo, inode.inoHi);
    let head = this.index.get(key);
    if (head === inode) {
      if (inode.next) this.index.set(key, inode.next);
      else this.index.delete(key);
    } else {
      while (head && head.next !== inode) head = head.next;
      if (head) head.next = inode.next;
    }
    inode.next = undefined;
  }

  private closeFd(inode: Inode): void {
    if (inode.fd < 0) return;
    if (inode.handle !== undefined) this.unlink(inode);
    close(inode.fd);
    inode.fd = -1;
    this.budget.inodeFdClosed();
  }

  /** Close the least recently used cached fd, unless it may be in use. */
  private evictOne(): boolean {
    const victim = this.oldest;
    if (!victim || this.cached <= MIN_CACHED) return false;
    this.closeFd(victim);
    return true;
  }

  private addNewest(inode: Inode): void {
    inode.older = this.newest;
    inode.newer = undefined;
    if (this.newest) this.newest.newer = inode;
    else this.oldest = inode;
    this.newest = inode;
    this.cached++;
  }

  private unlink(inode: Inode): void {
    if (inode.older) inode.older.newer = inode.newer;
    else this.oldest = inode.newer;
    if (inode.newer) inode.newer.older = inode.older;
    else this.newest = inode.older;
    inode.older = inode.newer = undefined;
    this.cached--;
  }
}
