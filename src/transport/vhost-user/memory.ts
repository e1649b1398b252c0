/**
 * Guest memory as the front-end shares it: regions, each an fd mapped
 * MAP_SHARED here and reached from JavaScript through views over the mapping
 * (no copy), and the two translations the rings need: guest-physical
 * addresses (what descriptors hold) and front-end virtual addresses (what
 * SET_VRING_ADDR and the region table hold) to a region and an offset in it.
 *
 * What must stay true:
 * - nothing outside a mapping is ever touched: every access is checked
 *   against its region's size first, translations answer undefined for any
 *   [addr, addr + len) that does not lie inside one region, and no address
 *   beyond 2^53 (where JS numbers stop being exact) is ever accepted;
 * - no view is used after its mapping is gone: unmapping drops the region's
 *   views and bumps `generation`, and users of memory (the rings, replies
 *   still to be written) translate again when it changed instead of keeping
 *   views across it. Everything runs on one thread, so a check and the access
 *   after it cannot be separated by an unmap;
 * - every fd handed in is closed, mapped or not (a mapping does not need it).
 *
 * koffi.view cannot make a view larger than 4 GiB, and guest memory regions
 * are often larger, so a region is viewed in overlapping chunks: chunk i
 * covers [i·STRIDE, i·STRIDE + STRIDE + OVERLAP), and any range of at most
 * OVERLAP bytes lies whole in one chunk (rings and descriptor tables are at
 * most 512 KiB). Copies of any length go chunk by chunk.
 *
 * A front-end that truncates a memory fd after sending it makes access to
 * the pages beyond the new end raise SIGBUS, which ends the process; a
 * region larger than its file is refused when it is mapped, but a later
 * truncation cannot be caught from here (virtiofsd has the same exposure).
 */
import { close, fstat, mapShared, MAP_NORESERVE, pageSize, S_IFMT, S_IFREG, unmapShared, viewOf } from '../../sys/index.js';
import type { MemRegion } from './message.js';

/** Distance between chunk starts. */
const STRIDE = 2 ** 30;
/** How far a chunk reaches into the next one: the longest range bytes() guarantees to view. */
export const MAX_CONTIGUOUS = 2 ** 20;

/** Regions may not reach past this: every address and offset in them is an exact JS number. */
const ADDRESS_LIMIT = Number.MAX_SAFE_INTEGER;

/** How many regions a front-end may add with ADD_MEM_REG (what rust-vmm and virtiofsd report). */
export const DEFAULT_MAX_MEM_SLOTS = 509;

export class MemoryRegion {
  /** One past the last guest-physical address. */
  readonly guestEnd: number;
  /** One past the last front-end virtual address. */
  readonly userEnd: number;
  private readonly chunks: (Uint8Array | undefined)[] = [];
  private live = true;

  private constructor(
    readonly guestAddr: number,
    readonly size: number,
    readonly userAddr: number,
    readonly mmapOffset: number,
    /** The mapping, which starts `skew` bytes before the region (mmap offsets must be page-aligned). */
    private readonly base: bigint,
    private readonly skew: number,
  ) {
    this.guestEnd = guestAddr + size;
    this.userEnd = userAddr + size;
  }

  /**
   * Maps region `r` of `fd`. Returns the region, or why it was refused.
   * Always closes `fd`.
   */
  static map(r: MemRegion, fd: number): MemoryRegion | string {
    try {
      const bad = checkRegion(r);
      if (bad) return bad;
      const st = fstat(fd);
      if ((st.mode & S_IFMT) === S_IFREG && st.size < r.mmapOffset + r.size) {
        return `the fd holds ${st.size} bytes, the region needs ${r.mmapOffset + r.size}`;
      }
      const skew = r.mmapOffset % pageSize;
      const base = mapShared(fd, skew + r.size, r.mmapOffset - skew, undefined, MAP_NORESERVE);
      return new MemoryRegion(r.guestAddr, r.size, r.userAddr, r.mmapOffset, base, skew);
    } catch (e) {
      return `mapping it failed: ${(e as Error).message}`;
    } finally {
      try {
        close(fd);
      } catch {
        // an fd we were given and own; nothing to do if it was already bad
      }
    }
  }

  /** Whether the region is still mapped. */
  get mapped(): boolean {
    return this.live;
  }

  /**
   * A view of [offset, offset + len) of the region, len ≤ MAX_CONTIGUOUS, or
   * undefined when the range is not inside the region. Valid until the
   * memory's generation changes.
   */
  bytes(offset: number, len: number): Uint8Array | undefined {
    if (!this.live || !(offset >= 0 && len >= 0 && len <= MAX_CONTIGUOUS && offset <= this.size - len)) return undefined;
    const c = Math.floor(offset / STRIDE);
    const chunk = this.chunk(c);
    const at = offset - c * STRIDE;
    return chunk.subarray(at, at + len);
  }

  /** Copies region bytes [offset, offset + len) to dst at dstOffset. False (nothing copied) when out of range. */
  read(offset: number, dst: Uint8Array, dstOffset: number, len: number): boolean {
    return this.copy(offset, dst, dstOffset, len, false);
  }

  /** Copies src[srcOffset, srcOffset + len) into the region at offset. False (nothing copied) when out of range. */
  write(offset: number, src: Uint8Array, srcOffset: number, len: number): boolean {
    return this.copy(offset, src, srcOffset, len, true);
  }

  /** Region [offset, offset + len) and buf[at, at + len), copied one way or the other, chunk by chunk. */
  private copy(offset: number, buf: Uint8Array, at: number, len: number, intoRegion: boolean): boolean {
    if (!this.inside(offset, len) || !(at >= 0 && at <= buf.length - len)) return false;
    while (len > 0) {
      const c = Math.floor(offset / STRIDE);
      const chunk = this.chunk(c);
      const pos = offset - c * STRIDE;
      const n = Math.min(len, chunk.length - pos);
      if (intoRegion) chunk.set(buf.subarray(at, at + n), pos);
      else buf.set(chunk.subarray(pos, pos + n), at);
      offset += n;
      at += n;
      len -= n;
    }
    return true;
  }

  /** Drops every view and unmaps. Idempotent; never throws. */
  unmap(): void {
    if (!this.live) return;
    this.live = false;
    this.chunks.length = 0;
    try {
      unmapShared(this.base, this.skew + this.size);
    } catch {
      // munmap of a mapping we made cannot fail; if it did, the address space keeps it
    }
  }

  private inside(offset: number, len: number): boolean {
    return this.live && offset >= 0 && len >= 0 && offset <= this.size - len;
  }

  private chunk(c: number): Uint8Array {
    let v = this.chunks[c];
    if (v === undefined) {
      const start = c * STRIDE;
      const len = Math.min(this.size - start, STRIDE + MAX_CONTIGUOUS);
      v = new Uint8Array(viewOf(this.base + BigInt(this.skew + start), len));
      this.chunks[c] = v;
    }
    return v;
  }
}

/** Why region `r` cannot be used, or undefined. */
function checkRegion(r: MemRegion): string | undefined {
  if (!(r.size > 0)) return 'the region is empty';
  if (r.guestAddr > ADDRESS_LIMIT - r.size) return 'its guest addresses reach beyond 2^53';
  if (r.userAddr > ADDRESS_LIMIT - r.size) return 'its user addresses reach beyond 2^53';
  if (r.mmapOffset > ADDRESS_LIMIT - r.size) return 'its fd offsets reach beyond 2^53';
  return undefined;
}

function describeRegion(r: MemRegion): string {
  return `guest 0x${r.guestAddr.toString(16)}+0x${r.size.toString(16)} (user 0x${r.userAddr.toString(16)})`;
}

/** The regions of one connection. */
export class GuestMemory {
  private regions: MemoryRegion[] = [];
  private last: MemoryRegion | undefined;
  /** Bumped whenever a region comes or goes: views and translations made before are stale. */
  generation = 0;

  constructor(readonly maxSlots: number = DEFAULT_MAX_MEM_SLOTS) {}

  get count(): number {
    return this.regions.length;
  }

  /** The mapped regions, for reports and tests. */
  list(): readonly MemoryRegion[] {
    return this.regions;
  }

  /**
   * Replaces every region with `table`, region i mapped from fds[i]
   * (SET_MEM_TABLE). All or nothing: when one region cannot be mapped, the
   * old table stays and the reason is returned. Closes every fd in `fds`.
   */
  setTable(table: readonly MemRegion[], fds: readonly number[]): string | undefined {
    if (table.length !== fds.length) {
      closeAll(fds);
      return `${table.length} regions came with ${fds.length} fds`;
    }
    const mapped: MemoryRegion[] = [];
    let failure: string | undefined;
    for (let i = 0; i < table.length; i++) {
      if (failure !== undefined) {
        closeAll([fds[i]!]);
        continue;
      }
      const r = MemoryRegion.map(table[i]!, fds[i]!);
      if (typeof r === 'string') {
        failure = `region ${i}, ${describeRegion(table[i]!)}: ${r}`;
        continue;
      }
      const clash = overlapping(r, mapped);
      mapped.push(r);
      if (clash) failure = `region ${i}, ${describeRegion(table[i]!)}: ${clash}`;
    }
    if (failure !== undefined) {
      for (const r of mapped) r.unmap();
      return failure;
    }
    const old = this.regions;
    this.regions = mapped;
    this.changed();
    for (const r of old) r.unmap();
    return undefined;
  }

  /** Maps one more region (ADD_MEM_REG). Closes `fd`. */
  add(desc: MemRegion, fd: number): string | undefined {
    if (this.regions.length >= this.maxSlots) {
      closeAll([fd]);
      return `all ${this.maxSlots} memory slots are in use`;
    }
    const r = MemoryRegion.map(desc, fd);
    if (typeof r === 'string') return `${describeRegion(desc)}: ${r}`;
    const clash = overlapping(r, this.regions);
    if (clash) {
      r.unmap();
      return `${describeRegion(desc)}: ${clash}`;
    }
    this.regions = [...this.regions, r];
    this.changed();
    return undefined;
  }

  /** Unmaps the region with desc's guest address, user address and size (REM_MEM_REG; the offset is ignored). */
  remove(desc: MemRegion): string | undefined {
    const r = this.regions.find((x) => x.guestAddr === desc.guestAddr && x.userAddr === desc.userAddr && x.size === desc.size);
    if (r === undefined) return `no region ${describeRegion(desc)}`;
    this.regions = this.regions.filter((x) => x !== r);
    this.changed();
    r.unmap();
    return undefined;
  }

  /** Unmaps everything (reset, disconnect). */
  clear(): void {
    const old = this.regions;
    this.regions = [];
    this.changed();
    for (const r of old) r.unmap();
  }

  /** The region holding guest-physical [addr, addr + len), or undefined. */
  guest(addr: number, len: number): MemoryRegion | undefined {
    const l = this.last;
    if (l !== undefined && addr >= l.guestAddr && addr < l.guestEnd && len >= 0 && len <= l.guestEnd - addr) return l;
    for (const r of this.regions) {
      if (addr >= r.guestAddr && addr < r.guestEnd && len >= 0 && len <= r.guestEnd - addr) {
        this.last = r;
        return r;
      }
    }
    return undefined;
  }

  /** The guest-physical address of front-end virtual [addr, addr + len), or undefined when not inside one region. */
  userToGuest(addr: number, len: number): number | undefined {
    for (const r of this.regions) {
      if (addr >= r.userAddr && addr < r.userEnd && len >= 0 && len <= r.userEnd - addr) return r.guestAddr + (addr - r.userAddr);
    }
    return undefined;
  }

  private changed(): void {
    this.last = undefined;
    this.generation++;
  }
}

/** Why `r` cannot sit beside `others` (its guest or user range overlaps one), or undefined. */
function overlapping(r: MemoryRegion, others: readonly MemoryRegion[]): string | undefined {
  for (const o of others) {
    if (r.guestAddr < o.guestEnd && o.guestAddr < r.guestEnd) return `its guest addresses overlap ${describeRegion(o)}`;
    if (r.userAddr < o.userEnd && o.userAddr < r.userEnd) return `its user addresses overlap ${describeRegion(o)}`;
  }
  return undefined;
}

function closeAll(fds: readonly number[]): void {
  for (const fd of fds) {
    try {
      close(fd);
    } catch {
      // ours to close; nothing to report
    }
  }
}
