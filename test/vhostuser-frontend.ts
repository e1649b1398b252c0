/**
 * A vhost-user front-end played by the test process, as QEMU plays it: guest
 * memory in a memfd (mapped here too), split rings laid out in it, messages
 * and fds over a real unix socket, kicks and calls through eventfds.
 */
import assert from 'node:assert/strict';
import {
  close, dup, eventfd, ftruncate, mapShared, memfdCreate, pollAsync, POLLIN, readRaw, recvWithFds, sendWithFds,
  unmapShared, viewOf, writeRaw, MSG_DONTWAIT,
} from '../src/sys/index.js';
import {
  decodeHeader, encodeMemTable, encodeRequest, encodeU64, encodeVringAddr, encodeVringState, Flag, HEADER_SIZE, Req,
  VRING_NOFD, type MemRegion,
} from '../src/transport/vhost-user/message.js';

export const EAGAIN = 11;
const ECONNRESET = 104;

/** Guest memory: regions of one memfd, each at a guest-physical address. */
export interface FakeRegion {
  guestAddr: number;
  size: number;
  /** Where the region starts in the memfd. */
  fileOffset: number;
  /** The "front-end virtual address" announced for it (made up: only translated, never dereferenced). */
  userAddr: number;
}

export class FakeGuestMemory {
  readonly fd: number;
  readonly bytes: Uint8Array;
  private readonly base: bigint;
  private next: number[] = [];

  constructor(readonly regions: FakeRegion[], readonly fileSize: number) {
    this.fd = memfdCreate('vhost-test-guest');
    ftruncate(this.fd, fileSize);
    this.base = mapShared(this.fd, fileSize, 0);
    this.bytes = new Uint8Array(viewOf(this.base, fileSize));
    this.next = regions.map(() => 0);
  }

  /** Two regions: 16 MiB at guest 0 (file 0) and 8 MiB at guest 1 GiB (file 16 MiB). */
  static standard(): FakeGuestMemory {
    return new FakeGuestMemory([
      { guestAddr: 0, size: 16 << 20, fileOffset: 0, userAddr: 0x7f00_0000_0000 },
      { guestAddr: 1 << 30, size: 8 << 20, fileOffset: 16 << 20, userAddr: 0x7f10_0000_0000 },
    ], 24 << 20);
  }

  /** The wire form of region i. */
  region(i: number): MemRegion {
    const r = this.regions[i]!;
    return { guestAddr: r.guestAddr, size: r.size, userAddr: r.userAddr, mmapOffset: r.fileOffset };
  }

  /** Offset in the memfd of guest [gpa, gpa + len). */
  offset(gpa: number, len = 1): number {
    for (const r of this.regions) {
      if (gpa >= r.guestAddr && gpa + len <= r.guestAddr + r.size) return r.fileOffset + (gpa - r.guestAddr);
    }
    throw new RangeError(`guest 0x${gpa.toString(16)}+${len} is not in test memory`);
  }

  userAddr(gpa: number): number {
    for (const r of this.regions) if (gpa >= r.guestAddr && gpa < r.guestAddr + r.size) return r.userAddr + (gpa - r.guestAddr);
    throw new RangeError('not in test memory');
  }

  /** Allocates `len` bytes aligned to `align` in region `ri` (a bump allocator). */
  alloc(len: number, align = 16, ri = 0): number {
    const r = this.regions[ri]!;
    const at = Math.ceil(this.next[ri]! / align) * align;
    if (at + len > r.size) throw new RangeError('test memory exhausted');
    this.next[ri] = at + len;
    this.bytes.fill(0, r.fileOffset + at, r.fileOffset + at + len);
    return r.guestAddr + at;
  }

  resetAlloc(): void {
    this.next = this.regions.map(() => 0);
  }

  write(gpa: number, data: Uint8Array): void {
    this.bytes.set(data, this.offset(gpa, data.length));
  }

  read(gpa: number, len: number): Buffer {
    const o = this.offset(gpa, len);
    return Buffer.from(this.bytes.subarray(o, o + len));
  }

  dv(gpa: number, len: number): DataView {
    return new DataView(this.bytes.buffer, this.bytes.byteOffset + this.offset(gpa, len), len);
  }

  /** Releases the mapping and the memfd. */
  destroy(): void {
    unmapShared(this.base, this.fileSize);
    close(this.fd);
  }
}

/** One split ring in fake guest memory, with its kick/call/err eventfds. */
export class FakeRing {
  readonly desc: number;
  readonly avail: number;
  readonly used: number;
  readonly kick = eventfd();
  readonly call = eventfd();
  readonly err = eventfd();
  availIdx = 0;
  usedSeen = 0;
  private freeDesc = 0;

  constructor(readonly mem: FakeGuestMemory, readonly index: number, readonly size: number) {
    this.desc = mem.alloc(16 * size, 16);
    this.avail = mem.alloc(6 + 2 * size, 2);
    this.used = mem.alloc(6 + 8 * size, 4);
  }

  /** Writes descriptor i. */
  setDesc(i: number, addr: number, len: number, flags: number, next: number, table = this.desc): void {
    const v = this.mem.dv(table + 16 * i, 16);
    v.setBigUint64(0, BigInt(addr), true);
    v.setUint32(8, len >>> 0, true);
    v.setUint16(12, flags, true);
    v.setUint16(14, next, true);
  }

  /**
   * Lays out a chain: readable buffers holding `out` (each Buffer one
   * descriptor), writable buffers of the given sizes. With `indirect`, the
   * descriptors go into an indirect table and the ring gets one descriptor
   * pointing at it. Returns the head and the writable buffers' addresses.
   */
  addChain(out: Uint8Array[], inSizes: number[], opts: { indirect?: boolean; region?: number } = {}): { head: number; writable: { addr: number; len: number }[] } {
    const ri = opts.region ?? 0;
    const items: { addr: number; len: number; write: boolean }[] = [];
    for (const b of out) {
      const addr = this.mem.alloc(Math.max(b.length, 1), 8, ri);
      this.mem.write(addr, b);
      items.push({ addr, len: b.length, write: false });
    }
    const writable = inSizes.map((len) => {
      const addr = this.mem.alloc(Math.max(len, 1), 8, ri);
      this.mem.bytes.fill(0xee, this.mem.offset(addr, len), this.mem.offset(addr, len) + len);
      return { addr, len };
    });
    for (const w of writable) items.push({ addr: w.addr, len: w.len, write: true });
    let head: number;
    if (opts.indirect) {
      const table = this.mem.alloc(16 * items.length, 16, ri);
      items.forEach((it, i) => this.setDesc(i, it.addr, it.len, (it.write ? 2 : 0) | (i + 1 < items.length ? 1 : 0), i + 1, table));
      head = this.takeDesc(1)[0]!;
      this.setDesc(head, table, 16 * items.length, 4, 0);
    } else {
      const ids = this.takeDesc(items.length);
      items.forEach((it, i) => this.setDesc(ids[i]!, it.addr, it.len, (it.write ? 2 : 0) | (i + 1 < items.length ? 1 : 0), ids[i + 1] ?? 0));
      head = ids[0]!;
    }
    return { head, writable };
  }

  private takeDesc(n: number): number[] {
    const out = [];
    for (let i = 0; i < n; i++) out.push((this.freeDesc++) % this.size);
    return out;
  }

  /** Makes `head` available (ring entry, then index). */
  publish(head: number): void {
    this.mem.dv(this.avail + 4 + 2 * (this.availIdx % this.size), 2).setUint16(0, head, true);
    this.availIdx = (this.availIdx + 1) & 0xffff;
    this.mem.dv(this.avail + 2, 2).setUint16(0, this.availIdx, true);
  }

  doKick(): void {
    writeRaw(this.kick, Buffer.from([1, 0, 0, 0, 0, 0, 0, 0]), 8);
  }

  setAvailFlags(flags: number): void {
    this.mem.dv(this.avail, 2).setUint16(0, flags, true);
  }

  /** used_event, at the end of the available ring (EVENT_IDX). */
  setUsedEvent(v: number): void {
    this.mem.dv(this.avail + 4 + 2 * this.size, 2).setUint16(0, v, true);
  }

  /** avail_event, at the end of the used ring (what the device asks for, EVENT_IDX). */
  availEvent(): number {
    return this.mem.dv(this.used + 4 + 8 * this.size, 2).getUint16(0, true);
  }

  usedIdx(): number {
    return this.mem.dv(this.used + 2, 2).getUint16(0, true);
  }

  /** Used elements not yet looked at. */
  takeUsed(): { id: number; len: number }[] {
    const out = [];
    const now = this.usedIdx();
    while (this.usedSeen !== now) {
      const v = this.mem.dv(this.used + 4 + 8 * (this.usedSeen % this.size), 8);
      out.push({ id: v.getUint32(0, true), len: v.getUint32(4, true) });
      this.usedSeen = (this.usedSeen + 1) & 0xffff;
    }
    return out;
  }

  /** Waits for a call (true) or not within timeoutMs (false); consumes it. */
  async waitCall(timeoutMs = 2000): Promise<boolean> {
    return waitFd(this.call, timeoutMs);
  }

  /** Waits until `n` more used elements are there (calls or not), or throws after timeoutMs. */
  async waitUsed(n: number, timeoutMs = 2000): Promise<{ id: number; len: number }[]> {
    const got: { id: number; len: number }[] = [];
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      got.push(...this.takeUsed());
      if (got.length >= n) return got;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`ring ${this.index}: ${got.length} of ${n} used elements after ${timeoutMs} ms`);
      await waitFd(this.call, Math.min(left, 20));
    }
  }

  destroy(): void {
    for (const fd of [this.kick, this.call, this.err]) close(fd);
  }
}

/** Waits until `fd` (an eventfd) is readable and reads it; false on timeout. */
export async function waitFd(fd: number, timeoutMs: number): Promise<boolean> {
  const fds = [{ fd, events: POLLIN, revents: 0 }];
  const n = await pollAsync(fds, timeoutMs);
  if (n <= 0) return false;
  readRaw(fd, Buffer.alloc(8));
  return true;
}

export interface Reply {
  request: number;
  flags: number;
  payload: Buffer;
}

/** The front-end end of a vhost-user socket. */
export class FakeFrontend {
  private rx = Buffer.alloc(0);

  constructor(readonly sock: number) {}

  send(request: number, payload: Uint8Array = new Uint8Array(0), fds: number[] = [], flags: number = Flag.VERSION): void {
    const m = encodeRequest(request, payload, flags);
    const n = sendWithFds(this.sock, m, m.length, fds);
    assert.equal(n, m.length, `sending request ${request}: ${n}`);
  }

  /** Sends raw bytes (malformed messages). Returns what sendmsg returned. */
  sendRaw(bytes: Uint8Array, fds: number[] = []): number {
    return sendWithFds(this.sock, bytes, bytes.length, fds);
  }

  /** The next message from the back-end, or undefined after timeoutMs or at end of stream. */
  async recv(timeoutMs = 2000): Promise<Reply | undefined> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.rx.length >= HEADER_SIZE) {
        const h = decodeHeader(this.rx);
        if (this.rx.length >= HEADER_SIZE + h.size) {
          const payload = Buffer.from(this.rx.subarray(HEADER_SIZE, HEADER_SIZE + h.size));
          this.rx = this.rx.subarray(HEADER_SIZE + h.size);
          return { request: h.request, flags: h.flags, payload };
        }
      }
      const buf = Buffer.alloc(4096);
      const fds: number[] = [];
      const r = recvWithFds(this.sock, buf, fds, 8, MSG_DONTWAIT);
      for (const fd of fds) close(fd);
      if (r.n > 0) {
        this.rx = Buffer.concat([this.rx, buf.subarray(0, r.n)]);
        continue;
      }
      if (r.n === 0 || r.n === -ECONNRESET) return undefined;
      if (r.n !== -EAGAIN) throw new Error(`recv: ${r.n}`);
      const left = deadline - Date.now();
      if (left <= 0) return undefined;
      await pollAsync([{ fd: this.sock, events: POLLIN, revents: 0 }], Math.min(left, 50));
    }
  }

  /** Sends a request and returns its reply payload (asserting it is one). */
  async call(request: number, payload: Uint8Array = new Uint8Array(0), fds: number[] = [], flags: number = Flag.VERSION): Promise<Buffer> {
    this.send(request, payload, fds, flags);
    const r = await this.recv();
    assert.ok(r, `no reply to request ${request}`);
    assert.equal(r.request, request);
    assert.equal(r.flags, Flag.VERSION | Flag.REPLY);
    return r.payload;
  }

  /** Sends with NEED_REPLY and returns the ack value (0 success). */
  async acked(request: number, payload: Uint8Array = new Uint8Array(0), fds: number[] = []): Promise<bigint> {
    const p = await this.call(request, payload, fds, Flag.VERSION | Flag.NEED_REPLY);
    assert.equal(p.length, 8);
    return p.readBigUInt64LE(0);
  }

  /** Drops whatever the back-end sent and nobody read. */
  async drain(): Promise<void> {
    while (await this.recv(0)) { /* discard */ }
  }

  /**
   * The set-up QEMU performs for a vhost-user-fs device (vhost_user_backend_init,
   * then vhost_dev_start), acks asked for every step: features, protocol
   * features, the memory table, and every ring in `rings`.
   */
  async setUp(mem: FakeGuestMemory, rings: FakeRing[], opts: { eventIdx?: boolean; features?: bigint } = {}): Promise<void> {
    const features = (await this.call(Req.GET_FEATURES)).readBigUInt64LE(0);
    this.send(Req.SET_OWNER);
    const proto = (await this.call(Req.GET_PROTOCOL_FEATURES)).readBigUInt64LE(0);
    this.send(Req.SET_PROTOCOL_FEATURES, encodeU64(proto));
    await this.call(Req.GET_QUEUE_NUM);
    const want = opts.features ?? (features & ~(opts.eventIdx ? 0n : 1n << 29n));
    assert.equal(await this.acked(Req.SET_FEATURES, encodeU64(want)), 0n);
    await this.setMemTable(mem);
    for (const r of rings) await this.setUpRing(mem, r);
  }

  async setMemTable(mem: FakeGuestMemory): Promise<void> {
    const fds = mem.regions.map(() => dup(mem.fd));
    try {
      assert.equal(await this.acked(Req.SET_MEM_TABLE, encodeMemTable(mem.regions.map((_, i) => mem.region(i))), fds), 0n);
    } finally {
      for (const fd of fds) close(fd);
    }
  }

  async setUpRing(mem: FakeGuestMemory, r: FakeRing, base = 0): Promise<void> {
    assert.equal(await this.acked(Req.SET_VRING_NUM, encodeVringState({ index: r.index, num: r.size })), 0n);
    assert.equal(await this.acked(Req.SET_VRING_BASE, encodeVringState({ index: r.index, num: base })), 0n);
    const addr = { index: r.index, flags: 0, desc: mem.userAddr(r.desc), used: mem.userAddr(r.used), avail: mem.userAddr(r.avail), log: 0 };
    assert.equal(await this.acked(Req.SET_VRING_ADDR, encodeVringAddr(addr)), 0n);
    assert.equal(await this.acked(Req.SET_VRING_KICK, encodeU64(r.index), [r.kick]), 0n);
    assert.equal(await this.acked(Req.SET_VRING_CALL, encodeU64(r.index), [r.call]), 0n);
    assert.equal(await this.acked(Req.SET_VRING_ERR, encodeU64(r.index), [r.err]), 0n);
    assert.equal(await this.acked(Req.SET_VRING_ENABLE, encodeVringState({ index: r.index, num: 1 })), 0n);
  }

  /** Polling mode for a ring (SET_VRING_KICK without an fd). */
  async pollRing(index: number): Promise<bigint> {
    return this.acked(Req.SET_VRING_KICK, encodeU64(index | VRING_NOFD));
  }

  close(): void {
    close(this.sock);
  }
}

// ---- FUSE bytes ----------------------------------------------------------------------

export const Op = { LOOKUP: 1, FORGET: 2, GETATTR: 3, READ: 15, WRITE: 16, STATFS: 17, INIT: 26, INTERRUPT: 36, BATCH_FORGET: 42 } as const;
export const IN_HEADER = 40;

/** A fuse_in_header followed by `body` (len filled in). */
export function fuseRequest(opcode: number, unique: bigint, nodeid: bigint, body: Uint8Array = new Uint8Array(0)): Buffer {
  const b = Buffer.alloc(IN_HEADER + body.length);
  b.writeUInt32LE(b.length, 0);
  b.writeUInt32LE(opcode, 4);
  b.writeBigUInt64LE(unique, 8);
  b.writeBigUInt64LE(nodeid, 16);
  b.writeUInt32LE(1000, 24); // uid
  b.writeUInt32LE(1000, 28); // gid
  b.writeUInt32LE(4242, 32); // pid
  b.set(body, IN_HEADER);
  return b;
}

/** A fuse_out_header (len, error, unique) followed by `body`. */
export function fuseReply(unique: bigint, error: number, body: Uint8Array = new Uint8Array(0)): Buffer {
  const b = Buffer.alloc(16 + body.length);
  b.writeUInt32LE(b.length, 0);
  b.writeInt32LE(error, 4);
  b.writeBigUInt64LE(unique, 8);
  b.set(body, 16);
  return b;
}
