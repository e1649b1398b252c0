/**
 * The vhost-user back-end against a front-end played by the test (QEMU's
 * message sequence over a real unix socket, guest memory in a memfd, rings
 * laid out by hand), with a small RequestHandler standing in for the FUSE
 * protocol core. Replies are checked byte for byte in guest memory.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  AF_UNIX, bind, close, connect, dup, eventfd, ftruncate, groupId, listen, memfdCreate, pread, SOCK_CLOEXEC, SOCK_NONBLOCK, SOCK_STREAM, sockaddrUn, socket, socketpair,
} from '../src/sys/index.js';
import type { ReplySink, RequestHandler } from '../src/fuse/sink.js';
import type { LogLevel } from '../src/fuse/log.js';
import { serve, serveConnection } from '../src/transport/vhost-user/index.js';
import {
  decodeConfig, decodeU64, decodeVringState, encodeConfig, encodeMemTable, encodeRequest, encodeSingleMemRegion, encodeU64,
  encodeVringAddr, encodeVringState, Flag, HEADER_SIZE, ProtocolFeature, Req, VirtioFeature, decodeVringAddr, decodeMemTable,
} from '../src/transport/vhost-user/message.js';
import { needEvent } from '../src/transport/vhost-user/virtqueue.js';
import { GuestMemory } from '../src/transport/vhost-user/memory.js';
import {
  FakeFrontend, FakeGuestMemory, FakeRing, fuseReply, fuseRequest, IN_HEADER, Op,
} from './vhostuser-frontend.js';

// ---- a RequestHandler with fixed answers --------------------------------------------

/** fuse_init_out as this handler answers it: 64 bytes, a recognisable pattern. */
const INIT_OUT = Buffer.alloc(64);
INIT_OUT.writeUInt32LE(7, 0); // major
INIT_OUT.writeUInt32LE(41, 4); // minor
INIT_OUT.writeUInt32LE(0x20000, 8); // max_readahead
for (let i = 12; i < 64; i++) INIT_OUT[i] = i;

/** fuse_entry_out for LOOKUP of `name`: nodeid = 100 + name length, the rest a pattern. */
function entryOut(name: Buffer): Buffer {
  const b = Buffer.alloc(128);
  for (let i = 0; i < 128; i++) b[i] = (i * 7 + name.length) & 0xff;
  b.writeBigUInt64LE(BigInt(100 + name.length), 0);
  return b;
}

/** READ's reply data: `size` bytes depending on the offset. */
function readData(offset: number, size: number): Buffer {
  const b = Buffer.alloc(size);
  for (let i = 0; i < size; i++) b[i] = (offset + i * 13) & 0xff;
  return b;
}

class TestHandler implements RequestHandler {
  readonly seen: { opcode: number; unique: bigint; len: number }[] = [];
  readonly writes: Buffer[] = [];
  /** Async requests whose buffer changed before they were answered (must stay 0). */
  corrupted = 0;
  /** Delay for STATFS, answered later. */
  asyncDelayMs = 5;
  /** Results the sinks returned. */
  readonly sinkResults: number[] = [];
  /** When set, READ is answered from this file with the sink's replyFromFile (data read straight into guest memory). */
  readFile: number | undefined;

  handle(buf: Buffer, len: number, sink: ReplySink): boolean {
    if (len < IN_HEADER) {
      this.sinkResults.push(sink.reply(fuseReply(0n, -22), 16));
      return false;
    }
    const opcode = buf.readUInt32LE(4);
    const unique = buf.readBigUInt64LE(8);
    this.seen.push({ opcode, unique, len });
    const answer = (b: Buffer) => this.sinkResults.push(sink.reply(b, b.length));
    switch (opcode) {
      case Op.FORGET:
      case Op.BATCH_FORGET:
      case Op.INTERRUPT:
        sink.none();
        return false;
      case Op.INIT:
        answer(fuseReply(unique, 0, INIT_OUT));
        return false;
      case Op.LOOKUP: {
        const name = buf.subarray(IN_HEADER, len - 1);
        answer(fuseReply(unique, 0, entryOut(name)));
        return false;
      }
      case Op.WRITE: {
        const data = Buffer.from(buf.subarray(IN_HEADER + 40, len));
        this.writes.push(data);
        const out = Buffer.alloc(8);
        out.writeUInt32LE(data.length, 0);
        answer(fuseReply(unique, 0, out));
        return false;
      }
      case Op.READ: {
        const offset = Number(buf.readBigUInt64LE(IN_HEADER + 8));
        const size = buf.readUInt32LE(IN_HEADER + 16);
        if (this.readFile !== undefined) {
          this.sinkResults.push(sink.replyFromFile!(fuseReply(unique, 0), this.readFile, offset, size));
          return false;
        }
        answer(fuseReply(unique, 0, readData(offset, size)));
        return false;
      }
      case Op.STATFS: {
        // Answered later, keeping the request buffer: it must not change meanwhile.
        const copy = Buffer.from(buf.subarray(0, len));
        setTimeout(() => {
          if (!buf.subarray(0, len).equals(copy)) this.corrupted++;
          const out = Buffer.alloc(80, 0x5a);
          out.writeBigUInt64LE(unique, 0);
          answer(fuseReply(unique, 0, out));
        }, this.asyncDelayMs);
        return true;
      }
      default:
        answer(fuseReply(unique, -38));
        return false;
    }
  }
}

// ---- harness --------------------------------------------------------------------------

interface Logged {
  level: LogLevel;
  msg: string;
}

interface Harness {
  fe: FakeFrontend;
  mem: FakeGuestMemory;
  handler: TestHandler;
  done: Promise<void>;
  logs: Logged[];
  abort: AbortController;
}

/** serveConnection on one end of a socketpair, the fake front-end on the other. */
function start(opts: { numRequestQueues?: number; tag?: string; handler?: TestHandler; ownThread?: boolean; stopTimeoutMs?: number } = {}): Harness {
  const [a, b] = socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK);
  const handler = opts.handler ?? new TestHandler();
  const logs: Logged[] = [];
  const abort = new AbortController();
  const done = serveConnection(b, {
    handler, tag: opts.tag ?? 'testfs', numRequestQueues: opts.numRequestQueues ?? 1,
    log: (level, msg) => logs.push({ level, msg }), signal: abort.signal, ownThread: opts.ownThread,
    stopTimeoutMs: opts.stopTimeoutMs,
  });
  return { fe: new FakeFrontend(a), mem: FakeGuestMemory.standard(), handler, done, logs, abort };
}

async function finish(h: Harness, rings: FakeRing[] = []): Promise<void> {
  h.fe.close();
  await withTimeout(h.done, 3000, 'serve() did not resolve after the front-end disconnected');
  for (const r of rings) r.destroy();
  h.mem.destroy();
  const internal = h.logs.filter((l) => l.msg.includes('internal error'));
  assert.deepEqual(internal, [], 'no internal errors');
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: NodeJS.Timeout;
  return Promise.race([
    p.finally(() => clearTimeout(t)),
    new Promise<T>((_, reject) => (t = setTimeout(() => reject(new Error(what)), ms))),
  ]);
}

function openFds(): string[] {
  return readdirSync('/proc/self/fd').sort();
}

function memfdMaps(): number {
  return readFileSync('/proc/self/maps', 'utf8').split('\n').filter((l) => l.includes('memfd:')).length;
}

const lookupBody = (name: string) => Buffer.from(name + '\0');

/** READ body: fh, offset, size, read_flags, lock_owner, flags, padding (40 bytes). */
function readBody(offset: number, size: number): Buffer {
  const b = Buffer.alloc(40);
  b.writeBigUInt64LE(1n, 0);
  b.writeBigUInt64LE(BigInt(offset), 8);
  b.writeUInt32LE(size, 16);
  return b;
}

/** WRITE body (fuse_write_in, 40 bytes) then the data. */
function writeBody(data: Buffer): Buffer {
  const b = Buffer.alloc(40);
  b.writeBigUInt64LE(1n, 0);
  b.writeUInt32LE(data.length, 16);
  return Buffer.concat([b, data]);
}

/** Reads a reply scattered over `writable` (the first `len` bytes). */
function readReply(mem: FakeGuestMemory, writable: { addr: number; len: number }[], len: number): Buffer {
  const parts: Buffer[] = [];
  for (const w of writable) {
    if (len <= 0) break;
    const n = Math.min(w.len, len);
    parts.push(mem.read(w.addr, n));
    len -= n;
  }
  return Buffer.concat(parts);
}

// ---- tests ------------------------------------------------------------------------------

describe('vhost-user messages', () => {
  test('golden bytes: header, vring addr, memory table, config', () => {
    const m = encodeRequest(Req.SET_VRING_NUM, encodeVringState({ index: 1, num: 256 }), Flag.VERSION | Flag.NEED_REPLY);
    assert.equal(m.toString('hex'), '08000000' + '09000000' + '08000000' + '01000000' + '00010000');
    const a = encodeVringAddr({ index: 2, flags: 1, desc: 0x1000, used: 0x2000, avail: 0x3000, log: 0x4000 });
    assert.equal(a.length, 40);
    assert.equal(a.toString('hex'),
      '02000000' + '01000000' + '0010000000000000' + '0020000000000000' + '0030000000000000' + '0040000000000000');
    assert.deepEqual(decodeVringAddr(a), { index: 2, flags: 1, desc: 0x1000, used: 0x2000, avail: 0x3000, log: 0x4000 });
    const t = encodeMemTable([{ guestAddr: 0x100000000, size: 0x2000, userAddr: 0x7f0000000000, mmapOffset: 0x1000 }]);
    assert.equal(t.length, 8 + 32);
    assert.equal(t.subarray(0, 16).toString('hex'), '01000000' + '00000000' + '0000000001000000');
    assert.deepEqual(decodeMemTable(t), [{ guestAddr: 0x100000000, size: 0x2000, userAddr: 0x7f0000000000, mmapOffset: 0x1000 }]);
    assert.match(String(decodeMemTable(t.subarray(0, 20))), /bytes for 1 regions/);
    assert.equal(encodeSingleMemRegion({ guestAddr: 1, size: 2, userAddr: 3, mmapOffset: 4 }).length, 40);
    const c = encodeConfig(4, 0, Buffer.from('ab'));
    assert.equal(c.toString('hex'), '04000000' + '02000000' + '00000000' + '6162');
    assert.match(String(decodeConfig(c.subarray(0, 13))), /for 2 config bytes/);
  });

  test('vring_need_event', () => {
    assert.equal(needEvent(0, 1, 0), true);
    assert.equal(needEvent(5, 3, 2), false);
    assert.equal(needEvent(5, 6, 2), true);
    assert.equal(needEvent(0xffff, 0, 0xfffe), true); // across the wrap
  });
});

describe('guest memory', () => {
  test('regions larger than one view, chunk boundaries, unaligned mmap offsets, hostile ranges', () => {
    const fds = openFds();
    const maps = memfdMaps();
    const fd = memfdCreate('vhost-test-big');
    const size = 2.5 * 2 ** 30; // sparse: only the pages touched below are allocated
    ftruncate(fd, size + 8192);
    const mem = new GuestMemory();
    const guestAddr = 2 ** 40;
    // An mmap offset that is not page-aligned: the region starts 100 bytes into page 1.
    assert.equal(mem.setTable([{ guestAddr, size, userAddr: 2 ** 45, mmapOffset: 4196 }], [dup(fd)]), undefined);
    const r = mem.guest(guestAddr, 1)!;
    assert.ok(r);
    // Bytes straddling the first 1 GiB boundary, written and read back in one piece.
    const at = 2 ** 30 - 3;
    const data = Buffer.from('0123456789');
    assert.equal(r.write(at, data, 0, data.length), true);
    const back = Buffer.alloc(10);
    assert.equal(r.read(at, back, 0, 10), true);
    assert.deepEqual(back, data);
    // The same bytes through a contiguous view, and in the file at offset + 4196.
    assert.deepEqual(Buffer.from(r.bytes(at, 10)!), data);
    const file = Buffer.alloc(10);
    pread(fd, file, 4196 + at);
    assert.deepEqual(file, data);
    // Near 2 GiB and at the very end.
    assert.equal(r.write(size - 4, Buffer.from('end!'), 0, 4), true);
    assert.equal(r.write(size - 3, Buffer.from('end!'), 0, 4), false, 'one byte past the end');
    assert.equal(r.bytes(size - 4, 4)!.length, 4);
    assert.equal(r.bytes(size - 4, 5), undefined);
    assert.equal(r.bytes(0, 2 ** 20 + 1), undefined, 'longer than a contiguous view may be');
    assert.equal(r.read(-1, back, 0, 1), false);
    assert.equal(r.read(0, back, 5, 6), false, 'past the destination');
    // Translations: inside one region or nothing.
    assert.equal(mem.guest(guestAddr + size - 1, 1), r);
    assert.equal(mem.guest(guestAddr + size - 1, 2), undefined);
    assert.equal(mem.guest(guestAddr + size, 0), undefined);
    assert.equal(mem.guest(guestAddr - 1, 1), undefined);
    assert.equal(mem.guest(2 ** 53, 0), undefined);
    assert.equal(mem.guest(guestAddr, 2 ** 60), undefined);
    assert.equal(mem.userToGuest(2 ** 45 + 5, 10), guestAddr + 5);
    assert.equal(mem.userToGuest(2 ** 45 - 1, 10), undefined);
    // Refused regions: reaching past 2^53, larger than the file, overlapping.
    assert.match(String(mem.add({ guestAddr: 2 ** 53 - 10, size: 100, userAddr: 0, mmapOffset: 0 }, dup(fd))), /2\^53/);
    assert.match(String(mem.add({ guestAddr: 0, size: size + 8192, userAddr: 0, mmapOffset: 4096 }, dup(fd))), /holds/);
    assert.match(String(mem.add({ guestAddr: guestAddr + 4096, size: 4096, userAddr: 0, mmapOffset: 0 }, dup(fd))), /overlap/);
    assert.equal(mem.count, 1);
    const gen = mem.generation;
    mem.clear();
    assert.ok(mem.generation > gen);
    assert.equal(r.mapped, false);
    assert.equal(r.bytes(0, 1), undefined, 'an unmapped region gives no views');
    close(fd);
    assert.deepEqual(openFds(), fds);
    assert.equal(memfdMaps(), maps);
  });
});

describe('vhost-user back-end', { timeout: 120_000 }, () => {
  let fdsBefore: string[];
  let mapsBefore: number;
  before(() => {
    fdsBefore = openFds();
    mapsBefore = memfdMaps();
  });
  after(() => {
    // Every connection below is closed: no fd and no guest mapping may remain.
    assert.deepEqual(openFds(), fdsBefore);
    assert.equal(memfdMaps(), mapsBefore);
  });

  test('the handshake QEMU performs: features, protocol features, queues, config, memory slots', async () => {
    const h = start({ numRequestQueues: 3, tag: 'myfs' });
    const f = decodeU64(await h.fe.call(Req.GET_FEATURES));
    for (const b of [VirtioFeature.VERSION_1, VirtioFeature.RING_INDIRECT_DESC, VirtioFeature.RING_EVENT_IDX, VirtioFeature.PROTOCOL_FEATURES]) {
      assert.ok(f & (1n << BigInt(b)), `feature bit ${b}`);
    }
    h.fe.send(Req.SET_OWNER);
    const p = decodeU64(await h.fe.call(Req.GET_PROTOCOL_FEATURES));
    for (const b of [ProtocolFeature.MQ, ProtocolFeature.REPLY_ACK, ProtocolFeature.CONFIG, ProtocolFeature.CONFIGURE_MEM_SLOTS, ProtocolFeature.RESET_DEVICE]) {
      assert.ok(p & (1n << BigInt(b)), `protocol feature bit ${b}`);
    }
    assert.equal(p & (1n << BigInt(ProtocolFeature.BACKEND_REQ)), 0n);
    h.fe.send(Req.SET_PROTOCOL_FEATURES, encodeU64(p));
    assert.equal(decodeU64(await h.fe.call(Req.GET_QUEUE_NUM)), 4n);
    assert.equal(decodeU64(await h.fe.call(Req.GET_MAX_MEM_SLOTS)), 509n);
    // virtio-fs config: tag[36] NUL-padded, then num_request_queues.
    const cfg = decodeConfig(await h.fe.call(Req.GET_CONFIG, encodeConfig(0, 0, Buffer.alloc(40))));
    assert.ok(typeof cfg !== 'string');
    const expect = Buffer.alloc(40);
    expect.write('myfs');
    expect.writeUInt32LE(3, 36);
    assert.deepEqual(Buffer.from(cfg.data), expect);
    // A part of it, and past its end (zeros, as virtiofsd).
    const part = decodeConfig(await h.fe.call(Req.GET_CONFIG, encodeConfig(36, 0, Buffer.alloc(8))));
    assert.ok(typeof part !== 'string');
    assert.equal(Buffer.from(part.data).toString('hex'), '0300000000000000');
    // Too large an access is answered with an empty payload (the spec's error answer).
    const big = decodeConfig(await h.fe.call(Req.GET_CONFIG, encodeConfig(0, 0, Buffer.alloc(300))));
    assert.ok(typeof big !== 'string');
    assert.equal(big.size, 0);
    // The config space is read-only.
    assert.equal(await h.fe.acked(Req.SET_CONFIG, encodeConfig(0, 0, Buffer.from('x'))), 1n);
    // Features not offered are refused; offered ones acked.
    assert.equal(await h.fe.acked(Req.SET_FEATURES, encodeU64(f | (1n << 40n))), 1n);
    assert.equal(await h.fe.acked(Req.SET_FEATURES, encodeU64(f)), 0n);
    await finish(h);
  });

  test('INIT and LOOKUP on a request queue, replies byte for byte', async () => {
    const h = start();
    const q1 = new FakeRing(h.mem, 1, 128);
    await h.fe.setUp(h.mem, [q1]);
    const init = q1.addChain([fuseRequest(Op.INIT, 1n, 0n, Buffer.alloc(64, 1))], [16 + 64]);
    q1.publish(init.head);
    // LOOKUP split over two readable buffers (header, name) and two writable ones.
    const req = fuseRequest(Op.LOOKUP, 2n, 1n, lookupBody('hello.txt'));
    const look = q1.addChain([req.subarray(0, IN_HEADER), req.subarray(IN_HEADER)], [16, 128]);
    q1.publish(look.head);
    q1.doKick();
    const used = await q1.waitUsed(2);
    assert.deepEqual(used, [{ id: init.head, len: 80 }, { id: look.head, len: 144 }]);
    assert.deepEqual(readReply(h.mem, init.writable, 80), fuseReply(1n, 0, INIT_OUT));
    assert.deepEqual(readReply(h.mem, look.writable, 144), fuseReply(2n, 0, entryOut(Buffer.from('hello.txt'))));
    assert.deepEqual(h.handler.seen.map((s) => [s.opcode, s.len]), [[Op.INIT, 104], [Op.LOOKUP, IN_HEADER + 10]]);
    assert.ok(h.handler.sinkResults.every((r) => r === 0));
    await finish(h, [q1]);
  });

  test('large WRITE and READ across many descriptors and both memory regions', async () => {
    const h = start();
    const q1 = new FakeRing(h.mem, 1, 256);
    await h.fe.setUp(h.mem, [q1]);
    const data = Buffer.alloc(300_000);
    for (let i = 0; i < data.length; i++) data[i] = (i * 31) & 0xff;
    const req = fuseRequest(Op.WRITE, 10n, 5n, writeBody(data));
    const pieces: Buffer[] = [];
    for (let at = 0; at < req.length; at += 4096) pieces.push(req.subarray(at, at + 4096));
    const w = q1.addChain(pieces, [16 + 8], { region: 1 });
    q1.publish(w.head);
    const r = q1.addChain([fuseRequest(Op.READ, 11n, 5n, readBody(7, 100_000))], [16, 40_000, 40_000, 20_000, 500]);
    q1.publish(r.head);
    q1.doKick();
    const used = await q1.waitUsed(2);
    assert.deepEqual(used, [{ id: w.head, len: 24 }, { id: r.head, len: 100_016 }]);
    assert.deepEqual(h.handler.writes[0], data);
    const out = Buffer.alloc(8);
    out.writeUInt32LE(data.length, 0);
    assert.deepEqual(readReply(h.mem, w.writable, 24), fuseReply(10n, 0, out));
    assert.deepEqual(readReply(h.mem, r.writable, 100_016), fuseReply(11n, 0, readData(7, 100_000)));
    // The unused tail of the last buffer is untouched.
    assert.equal(h.mem.read(r.writable[4]!.addr, 500).every((x) => x === 0xee), true);
    await finish(h, [q1]);
  });

  test('READ answered from a file: preadv straight into the guest\'s buffers, short at EOF, EIO when they are too small', async () => {
    const h = start();
    const dir = mkdtempSync(join(tmpdir(), 'ptfs-vhost-read-'));
    const path = join(dir, 'data');
    const content = readData(0, 200_000);
    writeFileSync(path, content);
    const fd = openSync(path, 'r');
    try {
      h.handler.readFile = fd;
      const q1 = new FakeRing(h.mem, 1, 256);
      await h.fe.setUp(h.mem, [q1]);
      const r = q1.addChain([fuseRequest(Op.READ, 11n, 5n, readBody(7, 100_000))], [16, 40_000, 40_000, 20_000, 500]);
      // The header and the first bytes of data share a buffer here.
      const tail = q1.addChain([fuseRequest(Op.READ, 12n, 5n, readBody(199_990, 100))], [200]);
      const small = q1.addChain([fuseRequest(Op.READ, 13n, 5n, readBody(0, 4096))], [16, 1000]);
      for (const c of [r, tail, small]) q1.publish(c.head);
      q1.doKick();
      const used = await q1.waitUsed(3);
      assert.deepEqual(used, [{ id: r.head, len: 100_016 }, { id: tail.head, len: 26 }, { id: small.head, len: 16 }]);
      assert.deepEqual(readReply(h.mem, r.writable, 100_016), fuseReply(11n, 0, content.subarray(7, 100_007)));
      assert.equal(h.mem.read(r.writable[4]!.addr, 500).every((x) => x === 0xee), true, 'nothing written past the data');
      assert.deepEqual(readReply(h.mem, tail.writable, 26), fuseReply(12n, 0, content.subarray(199_990)));
      assert.deepEqual(readReply(h.mem, small.writable, 16), fuseReply(13n, -5));
      assert.deepEqual(h.handler.sinkResults, [100_000, 10, 0]);
      await finish(h, [q1]);
    } finally {
      closeSync(fd);
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('indirect descriptors, and a mix of direct and indirect chains', async () => {
    const h = start();
    const q1 = new FakeRing(h.mem, 1, 64);
    await h.fe.setUp(h.mem, [q1]);
    const heads = [];
    for (let i = 0; i < 10; i++) {
      const req = fuseRequest(Op.LOOKUP, BigInt(100 + i), 1n, lookupBody('n'.repeat(i + 1)));
      const c = q1.addChain([req.subarray(0, 8), req.subarray(8)], [16, 64, 64], { indirect: i % 2 === 0 });
      q1.publish(c.head);
      heads.push(c);
    }
    q1.doKick();
    const used = await q1.waitUsed(10);
    assert.deepEqual(used.map((u) => u.id), heads.map((c) => c.head));
    heads.forEach((c, i) => {
      assert.deepEqual(readReply(h.mem, c.writable, 144), fuseReply(BigInt(100 + i), 0, entryOut(Buffer.from('n'.repeat(i + 1)))));
    });
    await finish(h, [q1]);
  });

  test('async replies: the chain stays off the used ring until answered; the request buffer is kept', async () => {
    const h = start();
    h.handler.asyncDelayMs = 60;
    const q1 = new FakeRing(h.mem, 1, 64);
    await h.fe.setUp(h.mem, [q1]);
    const slow = q1.addChain([fuseRequest(Op.STATFS, 50n, 1n)], [16 + 80]);
    q1.publish(slow.head);
    const fast = [];
    for (let i = 0; i < 5; i++) {
      const c = q1.addChain([fuseRequest(Op.LOOKUP, BigInt(60 + i), 1n, lookupBody(`f${i}`))], [144]);
      q1.publish(c.head);
      fast.push(c);
    }
    q1.doKick();
    const first = await q1.waitUsed(5);
    assert.deepEqual(first.map((u) => u.id), fast.map((c) => c.head), 'the sync replies come first');
    // More requests while the slow one is pending: its buffer must not be reused.
    for (let i = 0; i < 5; i++) {
      const c = q1.addChain([fuseRequest(Op.LOOKUP, BigInt(70 + i), 1n, lookupBody(`g${i}`))], [144]);
      q1.publish(c.head);
    }
    q1.doKick();
    await q1.waitUsed(5);
    const late = await q1.waitUsed(1, 3000);
    assert.deepEqual(late, [{ id: slow.head, len: 96 }]);
    const out = Buffer.alloc(80, 0x5a);
    out.writeBigUInt64LE(50n, 0);
    assert.deepEqual(readReply(h.mem, slow.writable, 96), fuseReply(50n, 0, out));
    assert.equal(h.handler.corrupted, 0);
    await finish(h, [q1]);
  });

  test('several request queues and the high-priority queue', async () => {
    const h = start({ numRequestQueues: 3 });
    const rings = [0, 1, 2, 3].map((i) => new FakeRing(h.mem, i, 32));
    await h.fe.setUp(h.mem, rings);
    const forget = Buffer.alloc(8);
    forget.writeBigUInt64LE(3n, 0);
    const f = rings[0]!.addChain([fuseRequest(Op.FORGET, 0n, 7n, forget)], []);
    rings[0]!.publish(f.head);
    const chains = [1, 2, 3].map((qi) => {
      const c = rings[qi]!.addChain([fuseRequest(Op.LOOKUP, BigInt(qi), 1n, lookupBody(`q${qi}`))], [144]);
      rings[qi]!.publish(c.head);
      return c;
    });
    for (const r of rings) r.doKick();
    assert.deepEqual(await rings[0]!.waitUsed(1), [{ id: f.head, len: 0 }]);
    for (const qi of [1, 2, 3]) {
      assert.deepEqual(await rings[qi]!.waitUsed(1), [{ id: chains[qi - 1]!.head, len: 144 }]);
      assert.deepEqual(readReply(h.mem, chains[qi - 1]!.writable, 144), fuseReply(BigInt(qi), 0, entryOut(Buffer.from(`q${qi}`))));
    }
    assert.equal(h.handler.seen.filter((s) => s.opcode === Op.FORGET).length, 1);
    await finish(h, rings);
  });

  test('EVENT_IDX: used_event decides calls, avail_event is published', async () => {
    const h = start();
    const q1 = new FakeRing(h.mem, 1, 16);
    await h.fe.setUp(h.mem, [q1], { eventIdx: true });
    const lookup = (u: bigint) => {
      const c = q1.addChain([fuseRequest(Op.LOOKUP, u, 1n, lookupBody('e'))], [144]);
      q1.publish(c.head);
    };
    lookup(1n);
    q1.doKick();
    assert.equal(await q1.waitCall(), true, 'the first used buffer is notified');
    assert.equal(q1.takeUsed().length, 1);
    assert.equal(q1.availEvent(), 1, 'the device asks to be kicked from index 1 on');
    // used_event = 3: no call for used idx 2, a call once 4 is reached.
    q1.setUsedEvent(3);
    lookup(2n);
    q1.doKick();
    assert.equal(await q1.waitCall(300), false, 'no call before used_event is passed');
    assert.equal(q1.takeUsed().length, 1);
    lookup(3n);
    lookup(4n);
    q1.doKick();
    assert.equal(await q1.waitCall(), true, 'a call once used_event is passed');
    assert.equal(q1.usedIdx(), 4);
    assert.equal(q1.availEvent(), 4);
    await finish(h, [q1]);
  });

  test('without EVENT_IDX: VRING_AVAIL_F_NO_INTERRUPT suppresses calls', async () => {
    const h = start();
    const q1 = new FakeRing(h.mem, 1, 16);
    await h.fe.setUp(h.mem, [q1], { eventIdx: false });
    q1.setAvailFlags(1);
    const c = q1.addChain([fuseRequest(Op.LOOKUP, 1n, 1n, lookupBody('x'))], [144]);
    q1.publish(c.head);
    q1.doKick();
    assert.equal(await q1.waitCall(300), false);
    assert.equal(q1.takeUsed().length, 1, 'but the buffer is used');
    q1.setAvailFlags(0);
    const d = q1.addChain([fuseRequest(Op.LOOKUP, 2n, 1n, lookupBody('y'))], [144]);
    q1.publish(d.head);
    q1.doKick();
    assert.equal(await q1.waitCall(), true);
    await finish(h, [q1]);
  });

  test('a reply larger than the chain allows fails the request with EIO', async () => {
    const h = start();
    const q1 = new FakeRing(h.mem, 1, 16);
    await h.fe.setUp(h.mem, [q1]);
    const small = q1.addChain([fuseRequest(Op.LOOKUP, 9n, 1n, lookupBody('big'))], [16, 40]);
    q1.publish(small.head);
    const tiny = q1.addChain([fuseRequest(Op.LOOKUP, 10n, 1n, lookupBody('big'))], [8]);
    q1.publish(tiny.head);
    q1.doKick();
    const used = await q1.waitUsed(2);
    assert.deepEqual(used, [{ id: small.head, len: 16 }, { id: tiny.head, len: 0 }]);
    assert.deepEqual(readReply(h.mem, small.writable, 16), fuseReply(9n, -5));
    assert.deepEqual(h.handler.sinkResults, [-22, -22], 'the handler is told (EINVAL, as /dev/fuse does)');
    await finish(h, [q1]);
  });

  test('GET_VRING_BASE stops the ring and returns its index; the ring restarts from it', async () => {
    const h = start();
    const q1 = new FakeRing(h.mem, 1, 16);
    await h.fe.setUp(h.mem, [q1]);
    for (let i = 0; i < 3; i++) {
      const c = q1.addChain([fuseRequest(Op.LOOKUP, BigInt(i), 1n, lookupBody('a'))], [144]);
      q1.publish(c.head);
    }
    q1.doKick();
    await q1.waitUsed(3);
    const st = decodeVringState(await h.fe.call(Req.GET_VRING_BASE, encodeVringState({ index: 1, num: 0 })));
    assert.deepEqual(st, { index: 1, num: 3 });
    // Stopped: a new request and a kick are not taken. The kick fd was released by
    // the back-end; kicking ours does nothing.
    const c = q1.addChain([fuseRequest(Op.LOOKUP, 7n, 1n, lookupBody('b'))], [144]);
    q1.publish(c.head);
    q1.doKick();
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(q1.usedIdx(), 3);
    // QEMU's restart: the ring set up again from the base; the waiting request is taken.
    await h.fe.setUpRing(h.mem, q1, st.num);
    q1.doKick();
    assert.deepEqual(await q1.waitUsed(1), [{ id: c.head, len: 144 }]);
    await finish(h, [q1]);
  });

  test('GET_VRING_BASE waits for the replies in flight, then answers', async () => {
    const h = start();
    h.handler.asyncDelayMs = 80;
    const q1 = new FakeRing(h.mem, 1, 16);
    await h.fe.setUp(h.mem, [q1]);
    const slow = q1.addChain([fuseRequest(Op.STATFS, 1n, 1n)], [96]);
    q1.publish(slow.head);
    q1.doKick();
    await new Promise((r) => setTimeout(r, 20));
    const t0 = Date.now();
    const st = decodeVringState(await h.fe.call(Req.GET_VRING_BASE, encodeVringState({ index: 1, num: 0 })));
    assert.ok(Date.now() - t0 >= 40, 'answered once the reply came');
    assert.deepEqual(st, { index: 1, num: 1 });
    assert.deepEqual(q1.takeUsed(), [{ id: slow.head, len: 96 }], 'the reply reached the ring before the answer');
    assert.deepEqual(h.handler.sinkResults, [0]);
    await finish(h, [q1]);
  });

  test('GET_VRING_BASE gives up on replies that do not come in time; they go nowhere', async () => {
    const h = start({ stopTimeoutMs: 50 });
    h.handler.asyncDelayMs = 300;
    const q1 = new FakeRing(h.mem, 1, 16);
    await h.fe.setUp(h.mem, [q1]);
    const slow = q1.addChain([fuseRequest(Op.STATFS, 1n, 1n)], [96]);
    q1.publish(slow.head);
    q1.doKick();
    await new Promise((r) => setTimeout(r, 20));
    const st = decodeVringState(await h.fe.call(Req.GET_VRING_BASE, encodeVringState({ index: 1, num: 0 })));
    assert.deepEqual(st, { index: 1, num: 1 });
    await new Promise((r) => setTimeout(r, 400));
    assert.equal(q1.usedIdx(), 0, 'nothing written after the ring stopped');
    assert.equal(h.mem.read(slow.writable[0]!.addr, 96).every((x) => x === 0xee), true);
    assert.deepEqual(h.handler.sinkResults, [-19], 'the sink said ENODEV');
    assert.ok(h.logs.some((l) => l.msg.includes('1 requests unanswered')));
    await finish(h, [q1]);
  });

  test('ADD_MEM_REG and REM_MEM_REG (CONFIGURE_MEM_SLOTS), with acks', async () => {
    const h = start();
    const q1 = new FakeRing(h.mem, 1, 16);
    await h.fe.call(Req.GET_FEATURES);
    const p = decodeU64(await h.fe.call(Req.GET_PROTOCOL_FEATURES));
    h.fe.send(Req.SET_PROTOCOL_FEATURES, encodeU64(p));
    const f = decodeU64(await h.fe.call(Req.GET_FEATURES));
    assert.equal(await h.fe.acked(Req.SET_FEATURES, encodeU64(f)), 0n);
    for (const i of [0, 1]) {
      const fd = dup(h.mem.fd);
      assert.equal(await h.fe.acked(Req.ADD_MEM_REG, encodeSingleMemRegion(h.mem.region(i)), [fd]), 0n);
      close(fd);
    }
    // The same region again overlaps: refused.
    const fd = dup(h.mem.fd);
    assert.equal(await h.fe.acked(Req.ADD_MEM_REG, encodeSingleMemRegion(h.mem.region(0)), [fd]), 1n);
    close(fd);
    // Without an fd: refused.
    assert.equal(await h.fe.acked(Req.ADD_MEM_REG, encodeSingleMemRegion(h.mem.region(0))), 1n);
    await h.fe.setUpRing(h.mem, q1);
    const c = q1.addChain([fuseRequest(Op.LOOKUP, 1n, 1n, lookupBody('m'))], [144], { region: 1 });
    q1.publish(c.head);
    q1.doKick();
    assert.deepEqual(await q1.waitUsed(1), [{ id: c.head, len: 144 }]);
    // Region 1 goes: a chain whose buffers lie there is returned unused.
    assert.equal(await h.fe.acked(Req.REM_MEM_REG, encodeSingleMemRegion(h.mem.region(1))), 0n);
    assert.equal(await h.fe.acked(Req.REM_MEM_REG, encodeSingleMemRegion(h.mem.region(1))), 1n, 'already gone');
    const d = q1.addChain([fuseRequest(Op.LOOKUP, 2n, 1n, lookupBody('m'))], [144], { region: 1 });
    q1.publish(d.head);
    q1.doKick();
    assert.deepEqual(await q1.waitUsed(1), [{ id: d.head, len: 0 }]);
    await finish(h, [q1]);
  });

  test('polling mode: SET_VRING_KICK without an fd', async () => {
    const h = start();
    const q1 = new FakeRing(h.mem, 1, 16);
    await h.fe.setUp(h.mem, [q1]);
    assert.equal(await h.fe.pollRing(1), 0n);
    const c = q1.addChain([fuseRequest(Op.LOOKUP, 1n, 1n, lookupBody('p'))], [144]);
    q1.publish(c.head);
    assert.deepEqual(await q1.waitUsed(1), [{ id: c.head, len: 144 }]);
    await finish(h, [q1]);
  });

  test('malformed messages are answered as the spec says; fds that do not belong are closed', async () => {
    const h = start();
    await h.fe.call(Req.GET_FEATURES);
    const p = decodeU64(await h.fe.call(Req.GET_PROTOCOL_FEATURES));
    h.fe.send(Req.SET_PROTOCOL_FEATURES, encodeU64(p));
    // Short payload, bad index, bad size, an unimplemented request: each acked 1.
    assert.equal(await h.fe.acked(Req.SET_VRING_NUM, Buffer.alloc(4)), 1n);
    assert.equal(await h.fe.acked(Req.SET_VRING_NUM, encodeVringState({ index: 9, num: 16 })), 1n);
    assert.equal(await h.fe.acked(Req.SET_VRING_NUM, encodeVringState({ index: 1, num: 100 })), 1n);
    assert.equal(await h.fe.acked(Req.SET_VRING_NUM, encodeVringState({ index: 1, num: 65536 })), 1n);
    assert.equal(await h.fe.acked(Req.SET_LOG_FD), 1n);
    assert.equal(await h.fe.acked(Req.SET_VRING_KICK, encodeU64(1)), 1n, 'an fd was announced and none came');
    // A memory table whose fds do not match its regions.
    const one = dup(h.mem.fd);
    assert.equal(await h.fe.acked(Req.SET_MEM_TABLE, encodeMemTable([h.mem.region(0), h.mem.region(1)]), [one]), 1n);
    close(one);
    // An eventfd is no memory: refused, and closed.
    const e = eventfd();
    assert.equal(await h.fe.acked(Req.SET_MEM_TABLE, encodeMemTable([h.mem.region(0)]), [e]), 1n);
    close(e);
    // Nine fds with one message: more than the protocol allows.
    const many = Array.from({ length: 9 }, () => eventfd());
    assert.equal(await h.fe.acked(Req.SET_VRING_CALL, encodeU64(1), many), 1n);
    for (const fd of many) close(fd);
    // fds with a request that takes none: closed, the request still answered.
    const x = eventfd();
    assert.equal(decodeU64(await h.fe.call(Req.GET_QUEUE_NUM, new Uint8Array(0), [x])), 2n);
    close(x);
    // Still serving.
    assert.equal(decodeU64(await h.fe.call(Req.GET_QUEUE_NUM)), 2n);
    assert.ok(h.logs.some((l) => l.msg.includes('closed 1 fds that came with GET_QUEUE_NUM')));
    await finish(h);
  });

  test('an unknown request, a bad version, an oversized payload end the connection', async () => {
    for (const bytes of [
      encodeRequest(999),
      encodeRequest(Req.GET_FEATURES, new Uint8Array(0), 0x2),
      (() => {
        const b = encodeRequest(Req.SET_FEATURES, encodeU64(0));
        b.writeUInt32LE(1 << 20, 8);
        return b;
      })(),
      encodeRequest(Req.GET_FEATURES, Buffer.alloc(3)), // a reply-required request that cannot be answered
      encodeRequest(Req.GET_INFLIGHT_FD, Buffer.alloc(24)), // needs an answer, not supported
    ]) {
      const h = start();
      const e = eventfd();
      assert.equal(h.fe.sendRaw(bytes, [e]), bytes.length);
      close(e);
      assert.equal(await h.fe.recv(1000), undefined, 'no answer: the connection closed');
      await withTimeout(h.done, 3000, 'serve() resolves');
      await finish(h);
      assert.ok(h.logs.some((l) => l.msg.includes('closing the connection')));
    }
  });

  test('a message cut short by the front-end going away', async () => {
    const h = start();
    const b = encodeRequest(Req.SET_VRING_NUM, encodeVringState({ index: 0, num: 8 }));
    const e = eventfd();
    h.fe.sendRaw(b.subarray(0, HEADER_SIZE + 3), [e]);
    close(e);
    await finish(h);
  });

  test('RESET_DEVICE releases the rings and keeps the memory table; the device can be set up again', async () => {
    const h = start();
    const q1 = new FakeRing(h.mem, 1, 16);
    await h.fe.setUp(h.mem, [q1]);
    assert.equal(await h.fe.acked(Req.RESET_DEVICE), 0n);
    const c = q1.addChain([fuseRequest(Op.LOOKUP, 1n, 1n, lookupBody('r'))], [144]);
    q1.publish(c.head);
    q1.doKick();
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(q1.usedIdx(), 0);
    const f = decodeU64(await h.fe.call(Req.GET_FEATURES));
    assert.equal(await h.fe.acked(Req.SET_FEATURES, encodeU64(f)), 0n);
    // No new memory table: a front-end using ADD_MEM_REG would send none either.
    await h.fe.setUpRing(h.mem, q1);
    q1.doKick();
    assert.deepEqual(await q1.waitUsed(1), [{ id: c.head, len: 144 }]);
    await finish(h, [q1]);
  });

  test('disconnect with requests in flight: serve() resolves, later replies go nowhere', async () => {
    const fds = openFds();
    const maps = memfdMaps();
    const h = start();
    h.handler.asyncDelayMs = 50;
    const q1 = new FakeRing(h.mem, 1, 16);
    await h.fe.setUp(h.mem, [q1]);
    assert.ok(memfdMaps() > maps, 'the back-end mapped guest memory');
    const c = q1.addChain([fuseRequest(Op.STATFS, 1n, 1n)], [96]);
    q1.publish(c.head);
    q1.doKick();
    await new Promise((r) => setTimeout(r, 10));
    await finish(h, [q1]);
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(h.handler.sinkResults, [-19]);
    assert.deepEqual(openFds(), fds);
    assert.equal(memfdMaps(), maps);
  });

  test('a loop owning its thread (as a daemon runs it) serves the same, async replies included', async () => {
    const h = start({ ownThread: true });
    h.handler.asyncDelayMs = 20;
    const q1 = new FakeRing(h.mem, 1, 16);
    await h.fe.setUp(h.mem, [q1], { eventIdx: true });
    const slow = q1.addChain([fuseRequest(Op.STATFS, 1n, 1n)], [96]);
    q1.publish(slow.head);
    const fast = q1.addChain([fuseRequest(Op.LOOKUP, 2n, 1n, lookupBody('own'))], [144]);
    q1.publish(fast.head);
    q1.doKick();
    const used = await q1.waitUsed(2, 3000);
    assert.deepEqual(used, [{ id: fast.head, len: 144 }, { id: slow.head, len: 96 }]);
    assert.deepEqual(readReply(h.mem, fast.writable, 144), fuseReply(2n, 0, entryOut(Buffer.from('own'))));
    await finish(h, [q1]);
  });

  test('abort stops serving', async () => {
    const h = start();
    await h.fe.call(Req.GET_FEATURES);
    h.abort.abort();
    await withTimeout(h.done, 2000, 'serve() resolves on abort');
    assert.equal(await h.fe.recv(500), undefined, 'the back-end closed its end');
    await finish(h);
  });
});

describe('serve() on a unix socket', { timeout: 120_000 }, () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'ptfs-vhost-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  function connectTo(path: string): FakeFrontend {
    const s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK);
    connect(s, sockaddrUn(path));
    return new FakeFrontend(s);
  }

  test('listens, serves one front-end, removes the socket, resolves at disconnect', async () => {
    const fds = openFds();
    const path = join(dir, 'vfs.sock');
    let listening = false;
    const logs: string[] = [];
    // A group other than root's when the system has one, by name (NSS lookup).
    const group = ['daemon', 'bin', 'sys', 'adm'].find((g) => groupId(g) !== undefined) ?? 'root';
    const done = serve({
      socketPath: path, handler: new TestHandler(), tag: 'sock', socketGroup: group,
      log: (_l, m) => logs.push(m), onListening: () => (listening = true),
    });
    for (let i = 0; i < 100 && !listening; i++) await new Promise((r) => setTimeout(r, 10));
    assert.ok(listening);
    const st = statSync(path);
    assert.ok(st.isSocket());
    assert.equal(st.mode & 0o777, 0o660, 'group-owned socket: mode 0660');
    assert.equal(st.gid, groupId(group));
    const fe = connectTo(path);
    assert.ok(decodeU64(await fe.call(Req.GET_FEATURES)) & (1n << 32n));
    for (let i = 0; i < 100; i++) {
      try {
        statSync(path);
        await new Promise((r) => setTimeout(r, 10));
      } catch {
        break;
      }
    }
    assert.throws(() => statSync(path), /ENOENT/, 'the socket is removed once a front-end is accepted');
    fe.close();
    await withTimeout(done, 3000, 'serve() resolves');
    assert.deepEqual(openFds(), fds);
  });

  test('an already-listening fd (libvirt --fd), and abort while waiting', async () => {
    const path = join(dir, 'fd.sock');
    const ls = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC);
    bind(ls, sockaddrUn(path));
    listen(ls, 1);
    const done = serve({ listenFd: ls, handler: new TestHandler(), log: () => {} });
    const fe = connectTo(path);
    assert.equal(decodeU64(await fe.call(Req.GET_QUEUE_NUM)), 2n);
    fe.close();
    await withTimeout(done, 3000, 'serve() resolves');
    // The fd stays the caller's: serve again on it, and stop it before anyone connects.
    const ac = new AbortController();
    const again = serve({ listenFd: ls, handler: new TestHandler(), log: () => {}, signal: ac.signal });
    setTimeout(() => ac.abort(), 50);
    await withTimeout(again, 2000, 'abort ends the wait');
    close(ls);
  });

  test('refuses a path that is not a socket, and bad options', async () => {
    const path = join(dir, 'plain');
    writeFileSync(path, 'x');
    await assert.rejects(serve({ socketPath: path, handler: new TestHandler() }), /not a socket/);
    await assert.rejects(serve({ handler: new TestHandler() }), /exactly one of/);
    await assert.rejects(serve({ socketPath: join(dir, 't.sock'), handler: new TestHandler(), tag: 'x'.repeat(37) }), /tag/);
    await assert.rejects(serve({ socketPath: join(dir, 'g.sock'), handler: new TestHandler(), socketGroup: 'no-such-group-xyz' }), /no group/);
  });
});
