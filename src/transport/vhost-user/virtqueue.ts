/**
 * Split virtqueues (virtio 1.x §2.7): the descriptor table, available ring
 * and used ring a driver in the guest lays out in its memory, read and
 * written here in place.
 *
 * The guest is not trusted. Whatever it writes into the rings must cost at
 * most a bad chain or a broken queue, logged; never an exception, an access
 * outside guest memory, an allocation it sizes, or a loop it controls:
 * - a chain longer than the queue (or an indirect table longer than its own
 *   entry count) is a loop; a next index beyond the table, an address outside
 *   every region, a length past a region's end, an indirect descriptor inside
 *   an indirect table or with NEXT set, an indirect table that is empty or not
 *   a whole number of descriptors, a readable descriptor after a writable one:
 *   each makes the chain bad. A bad chain goes back on the used ring with
 *   length 0 and the queue carries on;
 * - an available index more than the queue size ahead of what was taken, or a
 *   head index beyond the table, breaks the queue: nothing more is taken from
 *   it until the front-end sets it up again (the error eventfd is signalled);
 * - at most `size` chains are in flight (taken, not yet returned): a guest
 *   that offers the same descriptors again before they come back cannot make
 *   the host hold more requests than the queue has room for.
 *
 * Ordering: the used element is written before the used index, and the used
 * index before the guest's notification hints are read; the available-event
 * hint is written before the available index is read again. x86 keeps stores
 * in order and loads in order but may move a load before an earlier store,
 * so those two store→load steps go through fence() (a locked instruction).
 */
import { close, readRaw, writeRaw } from '../../sys/index.js';
import type { LogFn } from '../../fuse/log.js';
import type { GuestMemory } from './memory.js';

export const DescFlag = {
  /** The chain continues at `next`. */
  NEXT: 0x1,
  /** The device writes this buffer (otherwise it reads it). */
  WRITE: 0x2,
  /** The buffer is a table of descriptors (VIRTIO_F_INDIRECT_DESC). */
  INDIRECT: 0x4,
} as const;

/** avail.flags: the driver asks for no used-buffer notifications (without EVENT_IDX). */
export const AVAIL_F_NO_INTERRUPT = 0x1;

/** The largest split queue (2^15). */
export const MAX_QUEUE_SIZE = 32768;

const DESC_SIZE = 16;
/** An indirect table may hold at most this many descriptors (virtio-queue's limit; 1 MiB of table). */
const MAX_INDIRECT = 65535;
/** Addresses from the guest at or above 2^53 (high word ≥ 2^21) are outside every region. */
const HIGH_LIMIT = 0x200000;
const TWO32 = 2 ** 32;

/** A guest-physical buffer [addr, addr + len) of a chain. */
export interface Segment {
  addr: number;
  len: number;
}

/** One available descriptor chain, taken from the ring and not yet returned. */
export interface DescriptorChain {
  /** The head descriptor's index: what goes back on the used ring. */
  readonly head: number;
  /** The buffers the device reads, in order (zero-length ones left out). */
  readonly readable: Segment[];
  /** The buffers the device writes, in order (zero-length ones left out). */
  readonly writable: Segment[];
  readonly readableBytes: number;
  readonly writableBytes: number;
  /** The queue's generation when taken: a chain from before a stop is never returned. */
  readonly generation: number;
}

const fenceCell = new Int32Array(new SharedArrayBuffer(4));
/** A full memory barrier (a locked read-modify-write), for the store→load orderings above. */
function fence(): void {
  Atomics.add(fenceCell, 0, 0);
}

/** virtio's vring_need_event: has `event` been passed when the index moved from `old` to `now`? */
export function needEvent(event: number, now: number, old: number): boolean {
  return ((now - event - 1) & 0xffff) < ((now - old) & 0xffff);
}

const ONE = Buffer.from([1, 0, 0, 0, 0, 0, 0, 0]);

/** Copies the chain's readable bytes, in order, to dst[0, …). False when a buffer is no longer in guest memory. */
export function gather(mem: GuestMemory, segs: readonly Segment[], dst: Uint8Array): boolean {
  let at = 0;
  for (const s of segs) {
    const r = mem.guest(s.addr, s.len);
    if (r === undefined || !r.read(s.addr - r.guestAddr, dst, at, s.len)) return false;
    at += s.len;
  }
  return true;
}

/**
 * Copies src[0, len) into the chain's writable buffers, in order. Returns
 * the bytes written, or -1 when a buffer is no longer in guest memory
 * (nothing after it is written). Stops at the end of the buffers.
 */
export function scatter(mem: GuestMemory, segs: readonly Segment[], src: Uint8Array, len: number): number {
  let at = 0;
  for (const s of segs) {
    if (at >= len) break;
    const n = Math.min(s.len, len - at);
    const r = mem.guest(s.addr, n);
    if (r === undefined || !r.write(s.addr - r.guestAddr, src, at, n)) return -1;
    at += n;
  }
  return at;
}

/** The rings of one queue, resolved to views of guest memory for one memory generation. */
interface Rings {
  memGeneration: number;
  desc: DataView;
  avail: DataView;
  used: DataView;
}

export class Virtqueue {
  /** Queue size (SET_VRING_NUM): a power of two, or 0 while unset. */
  size = 0;
  /** Guest-physical ring addresses (SET_VRING_ADDR), translated from the front-end's. */
  descAddr: number | undefined;
  availAddr: number | undefined;
  usedAddr: number | undefined;
  /** The next available-ring index to take (SET_VRING_BASE, GET_VRING_BASE). */
  lastAvail = 0;
  /** VIRTIO_F_EVENT_IDX negotiated. */
  eventIdx = false;
  kickFd = -1;
  callFd = -1;
  errFd = -1;
  /** Started by SET_VRING_KICK (with an fd, or polled), stopped by GET_VRING_BASE. */
  started = false;
  /** SET_VRING_ENABLE (or enabled from the start when protocol features were not negotiated). */
  enabled = false;
  /** Why the queue stopped being usable, until it is set up again. */
  broken: string | undefined;
  /** Chains taken and not yet returned (this generation). */
  inflight = 0;
  /** Taking stopped because `size` chains are in flight; onResume runs once one comes back. */
  stalled = false;
  /** Bumped by stop() and reset(): chains from before are abandoned. */
  generation = 0;
  /** Called when a stalled queue can take chains again. */
  onResume: (() => void) | undefined;
  /** Called when the last chain in flight came back (see quiesce()). */
  onIdle: (() => void) | undefined;

  private usedIdx = 0;
  private signalledUsed = 0;
  private signalledValid = false;
  /** Used elements were pushed since the last notification decision. */
  private unsignalled = false;
  /** Read used->idx from guest memory before the first push after a (re)start. */
  private needInit = true;
  private batching = false;
  private rings: Rings | undefined;
  private readonly kickBuf = Buffer.alloc(8);

  constructor(
    readonly index: number,
    private readonly mem: GuestMemory,
    private readonly log: LogFn,
  ) {}

  /** Whether chains may be taken: started, enabled, set up, resolvable, not broken. */
  get ready(): boolean {
    return this.started && this.enabled && this.broken === undefined && this.resolve() !== undefined;
  }

  /** Sets up again after a change of size or addresses: what was broken may work now. */
  reconfigured(): void {
    this.rings = undefined;
    this.broken = undefined;
    this.needInit = true;
  }

  /** Reads (and so clears) the kick eventfd. */
  consumeKick(): void {
    if (this.kickFd >= 0) readRaw(this.kickFd, this.kickBuf);
  }

  /**
   * Takes chains and hands each to `take`, until the ring is empty, `budget`
   * chains were taken, or the queue stalls or breaks. With EVENT_IDX, asks
   * the guest to kick at the next available index and looks once more (the
   * guest may have added one in between). Used-buffer notification is sent
   * once at the end for the chains `take` returned meanwhile. Returns true
   * when it stopped at the budget with chains left. `take` must not throw.
   */
  drain(budget: number, take: (chain: DescriptorChain) => void): boolean {
    if (!this.ready) return false;
    let taken = 0;
    let more = false;
    this.batching = true;
    try {
      for (;;) {
        while (taken < budget) {
          const chain = this.pop();
          if (chain === undefined) break;
          taken++;
          take(chain);
        }
        if (taken >= budget) {
          more = this.ready && !this.stalled && this.availIdx() !== this.lastAvail;
          break;
        }
        if (!this.eventIdx || !this.ready || this.stalled) break;
        const r = this.rings!;
        r.used.setUint16(4 + 8 * this.size, this.lastAvail, true);
        fence();
        if (this.availIdx() === this.lastAvail) break;
      }
    } finally {
      this.batching = false;
      this.signalUsed();
    }
    return more;
  }

  /**
   * Returns `chain` to the guest with `len` bytes written: the used element,
   * then the used index; notifies unless inside drain() (which notifies
   * once at its end). False when the chain belongs to an earlier generation
   * (the queue was stopped or reset since it was taken) or the used ring is
   * no longer in guest memory: nothing is written then.
   */
  complete(chain: DescriptorChain, len: number): boolean {
    if (chain.generation !== this.generation) return false;
    this.inflight--;
    const ok = this.pushUsed(chain.head, len);
    if (!this.batching) this.signalUsed();
    if (this.stalled && this.inflight < this.size) {
      this.stalled = false;
      this.onResume?.();
    }
    if (this.inflight === 0) this.onIdle?.();
    return ok;
  }

  /**
   * Takes no more chains (the kick fd is released), while those in flight
   * may still come back: the first half of GET_VRING_BASE, which answers
   * once they did (or it gave up on them) and then stop()s.
   */
  quiesce(): void {
    this.started = false;
    this.setKick(-1);
  }

  /** Stops the queue (GET_VRING_BASE): nothing more is taken or returned; the kick and call fds are released. */
  stop(): void {
    this.started = false;
    this.abandon();
    this.setKick(-1);
    this.setCall(-1);
  }

  /** Back to the state of a new connection (RESET_DEVICE, disconnect): every fd released. */
  reset(): void {
    this.stop();
    this.setErr(-1);
    this.enabled = false;
    this.size = 0;
    this.descAddr = this.availAddr = this.usedAddr = undefined;
    this.lastAvail = 0;
    this.reconfigured();
  }

  setKick(fd: number): void {
    closeFd(this.kickFd);
    this.kickFd = fd;
  }

  setCall(fd: number): void {
    closeFd(this.callFd);
    this.callFd = fd;
    // A new call fd may belong to a new consumer: let the first batch notify.
    this.signalledValid = false;
  }

  setErr(fd: number): void {
    closeFd(this.errFd);
    this.errFd = fd;
  }

  /** Marks the queue broken (logged once, error eventfd signalled). */
  fail(why: string): void {
    if (this.broken !== undefined) return;
    this.broken = why;
    this.log('error', `virtqueue ${this.index}: ${why}; the queue stops until it is set up again`);
    if (this.errFd >= 0) writeRaw(this.errFd, ONE, 8);
  }

  private abandon(): void {
    this.generation++;
    this.inflight = 0;
    this.stalled = false;
    this.broken = undefined;
    this.needInit = true;
    this.rings = undefined;
  }

  /**
   * The ring views for the current memory generation, made again when
   * memory changed; undefined when the queue is not set up or a ring is not
   * in guest memory (which breaks the queue).
   */
  private resolve(): Rings | undefined {
    const r = this.rings;
    if (r !== undefined && r.memGeneration === this.mem.generation) return r;
    this.rings = undefined;
    if (this.size === 0 || this.descAddr === undefined || this.availAddr === undefined || this.usedAddr === undefined) {
      return undefined;
    }
    const extra = this.eventIdx ? 2 : 0;
    const desc = this.view(this.descAddr, DESC_SIZE * this.size);
    const avail = this.view(this.availAddr, 4 + 2 * this.size + extra);
    const used = this.view(this.usedAddr, 4 + 8 * this.size + extra);
    if (desc === undefined || avail === undefined || used === undefined) {
      this.fail('its rings are not in guest memory');
      return undefined;
    }
    this.rings = { memGeneration: this.mem.generation, desc, avail, used };
    if (this.needInit) {
      this.needInit = false;
      this.usedIdx = used.getUint16(2, true);
      this.signalledValid = false;
    }
    return this.rings;
  }

  private view(addr: number, len: number): DataView | undefined {
    const region = this.mem.guest(addr, len);
    const b = region?.bytes(addr - region.guestAddr, len);
    return b === undefined ? undefined : new DataView(b.buffer, b.byteOffset, b.byteLength);
  }

  private availIdx(): number {
    return this.rings!.avail.getUint16(2, true);
  }

  /** The next good chain, or undefined (empty, stalled, broken). Bad chains are returned with length 0 on the way. */
  private pop(): DescriptorChain | undefined {
    for (;;) {
      if (this.inflight >= this.size) {
        this.stalled = true;
        return undefined;
      }
      const r = this.resolve();
      if (r === undefined) return undefined;
      const avail = r.avail.getUint16(2, true);
      const pending = (avail - this.lastAvail) & 0xffff;
      if (pending === 0) return undefined;
      if (pending > this.size) {
        this.fail(`the available index moved ${pending} entries ahead (queue size ${this.size})`);
        return undefined;
      }
      const head = r.avail.getUint16(4 + 2 * (this.lastAvail & (this.size - 1)), true);
      this.lastAvail = (this.lastAvail + 1) & 0xffff;
      if (head >= this.size) {
        this.fail(`head descriptor ${head} is outside the table of ${this.size}`);
        return undefined;
      }
      const chain = this.walk(head, r.desc);
      if (typeof chain !== 'string') {
        this.inflight++;
        return chain;
      }
      this.log('warn', `virtqueue ${this.index}: chain at descriptor ${head} returned unused: ${chain}`);
      this.pushUsed(head, 0);
    }
  }

  /** Follows the chain at `head`: the chain, or why it is bad. */
  private walk(head: number, table: DataView): DescriptorChain | string {
    const readable: Segment[] = [];
    const writable: Segment[] = [];
    let readableBytes = 0;
    let writableBytes = 0;
    let entries = this.size;
    let indirect = false;
    let seenWritable = false;
    let seen = 0;
    let i = head;
    for (;;) {
      if (++seen > entries) return indirect ? 'loop in an indirect table' : `loop or chain longer than the queue (${entries})`;
      const off = i * DESC_SIZE;
      const lo = table.getUint32(off, true);
      const hi = table.getUint32(off + 4, true);
      const len = table.getUint32(off + 8, true);
      const flags = table.getUint16(off + 12, true);
      const next = table.getUint16(off + 14, true);
      const addr = hi * TWO32 + lo;
      if (flags & DescFlag.INDIRECT) {
        if (indirect) return 'indirect descriptor inside an indirect table';
        if (flags & DescFlag.NEXT) return 'indirect descriptor with NEXT set';
        if (len === 0 || len % DESC_SIZE !== 0) return `indirect table of ${len} bytes`;
        if (len / DESC_SIZE > MAX_INDIRECT) return `indirect table of ${len / DESC_SIZE} descriptors`;
        const t = hi >= HIGH_LIMIT ? undefined : this.view(addr, len);
        if (t === undefined) return 'indirect table outside guest memory';
        table = t;
        entries = len / DESC_SIZE;
        indirect = true;
        seen = 0;
        i = 0;
        continue;
      }
      if (len > 0 && (hi >= HIGH_LIMIT || this.mem.guest(addr, len) === undefined)) {
        return `buffer 0x${addr.toString(16)}+${len} outside guest memory`;
      }
      if (flags & DescFlag.WRITE) {
        seenWritable = true;
        if (len > 0) writable.push({ addr, len });
        writableBytes += len;
      } else {
        if (seenWritable) return 'readable descriptor after a writable one';
        if (len > 0) readable.push({ addr, len });
        readableBytes += len;
      }
      if (!(flags & DescFlag.NEXT)) break;
      if (next >= entries) return `next descriptor ${next} is outside the table of ${entries}`;
      i = next;
    }
    return { head, readable, writable, readableBytes, writableBytes, generation: this.generation };
  }

  private pushUsed(head: number, len: number): boolean {
    const r = this.resolve();
    if (r === undefined) return false;
    const slot = this.usedIdx & (this.size - 1);
    r.used.setUint32(4 + 8 * slot, head, true);
    r.used.setUint32(8 + 8 * slot, len >>> 0, true);
    this.usedIdx = (this.usedIdx + 1) & 0xffff;
    r.used.setUint16(2, this.usedIdx, true);
    this.unsignalled = true;
    return true;
  }

  /** Notifies the guest of used buffers if it wants to be (used_event with EVENT_IDX, else avail.flags). */
  private signalUsed(): void {
    if (!this.unsignalled) return;
    this.unsignalled = false;
    if (this.callFd < 0) return;
    const r = this.resolve();
    if (r === undefined) return;
    fence();
    if (this.eventIdx) {
      const event = r.avail.getUint16(4 + 2 * this.size, true);
      const old = this.signalledUsed;
      const valid = this.signalledValid;
      this.signalledUsed = this.usedIdx;
      this.signalledValid = true;
      if (valid && !needEvent(event, this.usedIdx, old)) return;
    } else if (r.avail.getUint16(0, true) & AVAIL_F_NO_INTERRUPT) {
      return;
    }
    writeRaw(this.callFd, ONE, 8);
  }
}

function closeFd(fd: number): void {
  if (fd < 0) return;
  try {
    close(fd);
  } catch {
    // ours; nothing to report
  }
}
