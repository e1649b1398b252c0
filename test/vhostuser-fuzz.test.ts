/**
 * The vhost-user back-end against a hostile guest and a hostile front-end,
 * from a seeded PRNG (FUZZ_SEED to replay): 100 000 random descriptor chains
 * (loops, addresses outside guest memory, huge lengths, random flags,
 * indirect tables inside indirect tables, available indices running away)
 * and 100 000 random messages (unknown requests, wrong sizes, random
 * payloads, fds where none belong, too many fds).
 *
 * What must hold: no exception escapes (no internal error is logged, the
 * process does not crash), nothing hangs (every round completes within its
 * timeout), and after every burst the back-end still answers a well-formed
 * request correctly; at the end no fd and no guest mapping is left.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import {
  AF_UNIX, close, dup, eventfd, pollAsync, POLLIN, SOCK_CLOEXEC, SOCK_NONBLOCK, SOCK_STREAM, socketpair,
} from '../src/sys/index.js';
import type { ReplySink, RequestHandler } from '../src/fuse/sink.js';
import { Connection, runLoop, VhostUserBackend, VirtioFsDevice } from '../src/transport/vhost-user/index.js';
import type { LogFn } from '../src/fuse/log.js';
import {
  encodeConfig, encodeMemTable, encodeRequest, encodeSingleMemRegion, encodeU64, encodeVringAddr, encodeVringState,
  Flag, MAX_PAYLOAD, REPLY_REQUIRED, Req,
} from '../src/transport/vhost-user/message.js';
import { FakeFrontend, FakeGuestMemory, FakeRing, fuseReply, fuseRequest, IN_HEADER, Op } from './vhostuser-frontend.js';

const SEED = Number(process.env.FUZZ_SEED ?? 20261201);
const CHAINS = Number(process.env.FUZZ_CHAINS ?? 100_000);
const MESSAGES = Number(process.env.FUZZ_MESSAGES ?? 100_000);
/** Every wait of a round; a round that needs longer counts as a hang. */
const ROUND_TIMEOUT_MS = 3000;

/** xorshift128+-style PRNG on 32-bit halves: deterministic for a seed. */
class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;
  constructor(seed: number) {
    this.a = seed >>> 0 || 1;
    this.b = 0x9e3779b9;
    this.c = 0x243f6a88;
    this.d = 0xb7e15162;
    for (let i = 0; i < 16; i++) this.u32();
  }
  /** A uniformly random u32 (xoshiro128**). */
  u32(): number {
    const r = Math.imul(rotl(Math.imul(this.b, 5), 7), 9) >>> 0;
    const t = this.b << 9;
    this.c ^= this.a;
    this.d ^= this.b;
    this.b ^= this.c;
    this.a ^= this.d;
    this.c ^= t;
    this.d = rotl(this.d, 11);
    return r;
  }
  /** 0 ≤ n < max. */
  below(max: number): number {
    return Math.floor((this.u32() / 2 ** 32) * max);
  }
  chance(p: number): boolean {
    return this.u32() / 2 ** 32 < p;
  }
  bytes(n: number): Buffer {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) b[i] = this.u32() & 0xff;
    return b;
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.below(xs.length)]!;
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/** Uniques of the well-formed requests the fuzz checks; random chains rarely hit this range. */
const SANE = 1n << 62n;

/** Answers anything: none, at once, or later; the checked LOOKUPs exactly. */
class FuzzHandler implements RequestHandler {
  corrupted = 0;
  constructor(private readonly rng: Rng) {}

  handle(buf: Buffer, len: number, sink: ReplySink): boolean {
    const unique = len >= 16 ? buf.readBigUInt64LE(8) : 0n;
    if (len >= IN_HEADER && buf.readUInt32LE(4) === Op.LOOKUP && unique >= SANE) {
      const r = saneReply(unique);
      sink.reply(r, r.length);
      return false;
    }
    const mode = this.rng.below(10);
    if (mode === 0) {
      sink.none();
      return false;
    }
    const reply = fuseReply(unique, -this.rng.below(100), this.rng.bytes(this.rng.below(400)));
    if (mode <= 2) {
      const copy = Buffer.from(buf.subarray(0, len));
      setImmediate(() => {
        if (!buf.subarray(0, len).equals(copy)) this.corrupted++;
        sink.reply(reply, reply.length);
      });
      return true;
    }
    sink.reply(reply, reply.length);
    return false;
  }
}

function saneReply(unique: bigint): Buffer {
  const body = Buffer.alloc(128);
  body.writeBigUInt64LE(unique ^ 0xabcdefn, 0);
  return fuseReply(unique, 0, body);
}

interface Side {
  fe: FakeFrontend;
  done: Promise<void>;
  resolved: boolean;
}

/** What the back-end said about the guest and the front-end, by kind (counted, not rate-limited). */
class Complaints {
  readonly counts = new Map<string, number>();
  constructor(private readonly kinds: readonly RegExp[]) {}
  note(msg: string): void {
    for (const k of this.kinds) {
      if (k.test(msg)) this.counts.set(k.source, (this.counts.get(k.source) ?? 0) + 1);
    }
  }
  /** Every kind was seen at least once: the fuzz reached each check. */
  assertAllSeen(): void {
    const missing = this.kinds.filter((k) => !this.counts.has(k.source)).map((k) => k.source);
    assert.deepEqual(missing, [], 'every kind of hostile input was produced and caught');
  }
  summary(): string {
    return [...this.counts].map(([k, n]) => `${k}: ${n}`).join('; ');
  }
}

const CHAIN_COMPLAINTS = [
  /loop or chain longer than the queue/, /loop in an indirect table/, /indirect descriptor inside an indirect table/,
  /indirect descriptor with NEXT set/, /indirect table of \d+ bytes/, /indirect table outside guest memory/,
  /buffer 0x[0-9a-f]+\+\d+ outside guest memory/, /readable descriptor after a writable one/, /next descriptor \d+ is outside/,
  /the available index moved/, /head descriptor \d+ is outside/, /a request of \d+ bytes/, /does not fit/,
  /a chain with nothing to read/,
];

const MESSAGE_COMPLAINTS = [
  /closed \d+ fds that came with/, /more fds came than a message may carry/, /not supported/, /payload of \d+ bytes/,
  /carries the reply flag/, /unknown request/, /protocol version/, /announces a \d+-byte payload/, /cannot be answered/,
  /there is no virtqueue/, /regions came with/, /mapping it failed|the fd holds/, /overlap/, /refused/,
];

/** The back-end on one end of a socketpair, built from its parts so that complaints can be counted. */
function connectBackend(handler: RequestHandler, internal: string[], complaints: Complaints): Side {
  const [a, b] = socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK);
  const log: LogFn = (_level, msg) => {
    if (msg.includes('internal error')) internal.push(msg);
    complaints.note(msg);
  };
  const device = new VirtioFsDevice({ handler, tag: 'fuzz', numRequestQueues: 1 }, log, log);
  const backend = new VhostUserBackend(new Connection(b), device, { log, guestLog: log });
  const side: Side = { fe: new FakeFrontend(a), resolved: false, done: runLoop(backend, { log }) };
  side.done.then(() => (side.resolved = true));
  return side;
}

function within<T>(p: Promise<T>, what: string, ms = ROUND_TIMEOUT_MS): Promise<T> {
  let t: NodeJS.Timeout;
  return Promise.race([
    p.finally(() => clearTimeout(t)),
    new Promise<T>((_, reject) => (t = setTimeout(() => reject(new Error(`hang: ${what} took over ${ms} ms`)), ms))),
  ]);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits until the back-end has read the kick (our eventfd is no longer readable). */
async function kickTaken(fd: number): Promise<void> {
  const deadline = Date.now() + ROUND_TIMEOUT_MS;
  for (;;) {
    const fds = [{ fd, events: POLLIN, revents: 0 }];
    if ((await pollAsync(fds, 0)) === 0) return;
    if (Date.now() > deadline) throw new Error('hang: the kick was not taken');
    await sleep(0);
  }
}

/** A well-formed LOOKUP on a freshly set up ring, answered byte for byte. */
async function checkSane(fe: FakeFrontend, mem: FakeGuestMemory, size: number, unique: bigint): Promise<void> {
  const ring = new FakeRing(mem, 1, size);
  try {
    await fe.setUpRing(mem, ring);
    const c = ring.addChain([fuseRequest(Op.LOOKUP, unique, 1n, Buffer.from('ok\0'))], [16, 128]);
    ring.publish(c.head);
    ring.doKick();
    const used = await ring.waitUsed(1, ROUND_TIMEOUT_MS);
    assert.deepEqual(used, [{ id: c.head, len: 144 }]);
    const got = Buffer.concat([mem.read(c.writable[0]!.addr, 16), mem.read(c.writable[1]!.addr, 128)]);
    assert.deepEqual(got, saneReply(unique));
    // Stop it again so that the next round starts from a stopped ring.
    await fe.call(Req.GET_VRING_BASE, encodeVringState({ index: 1, num: 0 }));
  } finally {
    ring.destroy();
  }
}

function openFds(): string[] {
  return readdirSync('/proc/self/fd').sort();
}
function memfdMaps(): number {
  return readFileSync('/proc/self/maps', 'utf8').split('\n').filter((l) => l.includes('memfd:')).length;
}

// ---- hostile chains ------------------------------------------------------------------

/** A random guest address: mostly inside memory, some at or past region ends, some anywhere. */
function hostileAddr(rng: Rng, mem: FakeGuestMemory): number {
  const r = rng.pick(mem.regions);
  switch (rng.below(10)) {
    case 0: return 0;
    case 1: return r.guestAddr + r.size - rng.below(64);
    case 2: return r.guestAddr + r.size + rng.below(4096);
    case 3: return rng.u32() * 2 ** 21 + rng.u32(); // up to 2^53
    case 4: return Number.MAX_SAFE_INTEGER - rng.below(1000);
    default: return r.guestAddr + rng.below(r.size);
  }
}

function hostileLen(rng: Rng): number {
  switch (rng.below(10)) {
    case 0: case 1: return 0;
    case 2: return rng.u32();
    case 3: return rng.below(4 << 20);
    case 4: return 16 * rng.below(64);
    default: return rng.below(4096);
  }
}

function hostileFlags(rng: Rng): number {
  switch (rng.below(10)) {
    case 0: return rng.u32() & 0xffff;
    case 1: return 4; // indirect
    case 2: return 4 | 1; // indirect with NEXT
    case 3: return 2; // writable
    case 4: return 3;
    default: return rng.below(8);
  }
}

function hostileNext(rng: Rng, i: number, size: number): number {
  switch (rng.below(10)) {
    case 0: return rng.u32() & 0xffff;
    case 1: return i; // a loop onto itself
    case 2: case 3: return rng.below(size);
    default: return (i + 1) % size;
  }
}

/** Writes `n` random descriptors at `table`, some pointing at random (nested) indirect tables. */
function hostileTable(rng: Rng, ring: FakeRing, mem: FakeGuestMemory, table: number, n: number, depth: number): void {
  for (let i = 0; i < n; i++) {
    let addr = hostileAddr(rng, mem);
    let len = hostileLen(rng);
    const flags = hostileFlags(rng);
    if ((flags & 4) && depth < 2 && rng.chance(0.5)) {
      const entries = 1 + rng.below(24);
      addr = mem.alloc(16 * entries, 16, rng.below(2));
      len = rng.chance(0.8) ? 16 * entries : rng.below(16 * entries + 32);
      hostileTable(rng, ring, mem, addr, entries, depth + 1);
    }
    ring.setDesc(i, addr, len, flags, hostileNext(rng, i, n), table);
  }
}

test('100 000 hostile descriptor chains', { timeout: 300_000 }, async (t) => {
  const fds = openFds();
  const maps = memfdMaps();
  const started = performance.now();
  const rng = new Rng(SEED);
  const internal: string[] = [];
  const handler = new FuzzHandler(new Rng(SEED + 1));
  const complaints = new Complaints(CHAIN_COMPLAINTS);
  const side = connectBackend(handler, internal, complaints);
  const mem = FakeGuestMemory.standard();
  const fe = side.fe;
  const seedRing = new FakeRing(mem, 1, 16);
  await fe.setUp(mem, [seedRing]);
  seedRing.destroy();
  const features = (await fe.call(Req.GET_FEATURES)).readBigUInt64LE(0);
  let chains = 0;
  let rounds = 0;
  let broken = 0;
  let returned = 0;
  while (chains < CHAINS) {
    rounds++;
    mem.resetAlloc();
    const size = rng.pick([4, 16, 64, 128, 256]);
    const eventIdx = rng.chance(0.5);
    assert.equal(await fe.acked(Req.SET_FEATURES, encodeU64(eventIdx ? features : features & ~(1n << 29n))), 0n);
    const ring = new FakeRing(mem, 1, size);
    await fe.setUpRing(mem, ring);
    hostileTable(rng, ring, mem, ring.desc, size, 0);
    ring.setAvailFlags(rng.below(4));
    ring.setUsedEvent(rng.u32() & 0xffff);
    const count = 1 + rng.below(size);
    for (let i = 0; i < count; i++) ring.publish(rng.chance(0.001) ? size + rng.below(1000) : rng.below(size));
    if (rng.chance(0.03)) ring.availIdx = (ring.availIdx + size + 1 + rng.below(60000)) & 0xffff;
    ring.mem.dv(ring.avail + 2, 2).setUint16(0, ring.availIdx, true);
    chains += count;
    ring.doKick();
    await within(kickTaken(ring.kick), `round ${rounds}: taking the kick`);
    // The back-end answers, and stops the ring (abandoning what is in flight).
    await within(fe.call(Req.GET_VRING_BASE, encodeVringState({ index: 1, num: 0 })), `round ${rounds}: GET_VRING_BASE`);
    if (await pollAsync([{ fd: ring.err, events: POLLIN, revents: 0 }], 0)) broken++;
    returned += ring.usedIdx();
    ring.destroy();
    await within(checkSane(fe, mem, rng.pick([8, 64]), SANE + BigInt(rounds)), `round ${rounds}: a well-formed request`);
    assert.equal(side.resolved, false, 'the back-end is still serving');
  }
  fe.close();
  await within(side.done, 'serve() resolving');
  mem.destroy();
  assert.deepEqual(internal, []);
  assert.equal(handler.corrupted, 0);
  assert.deepEqual(openFds(), fds);
  assert.equal(memfdMaps(), maps);
  t.diagnostic(complaints.summary());
  if (CHAINS >= 100_000) complaints.assertAllSeen();
  t.diagnostic(`${chains} chains in ${rounds} rounds (${returned} returned on the used ring, ${broken} rounds broke the queue), ${((performance.now() - started) / 1000).toFixed(1)} s`);
});

// ---- hostile messages ----------------------------------------------------------------

/** A payload shaped for `request` with random values, or random bytes of a random size. */
function hostilePayload(rng: Rng, request: number, mem: FakeGuestMemory): Buffer {
  if (rng.chance(0.3)) return rng.bytes(rng.pick([0, 1, 4, 7, 8, 9, 12, 40, 41, 264, rng.below(600)]));
  const idx = () => (rng.chance(0.8) ? rng.below(3) : rng.u32());
  const addr = () => (rng.chance(0.5) ? mem.userAddr(rng.below(1 << 20)) : rng.u32() * rng.below(1 << 20));
  switch (request) {
    case Req.SET_FEATURES: case Req.SET_PROTOCOL_FEATURES:
      return encodeU64((BigInt(rng.u32()) << 32n) | BigInt(rng.u32()));
    case Req.SET_VRING_NUM: case Req.SET_VRING_BASE: case Req.GET_VRING_BASE: case Req.SET_VRING_ENABLE:
      return encodeVringState({ index: idx(), num: rng.chance(0.5) ? 1 << rng.below(17) : rng.u32() });
    case Req.SET_VRING_ADDR:
      return encodeVringAddr({ index: idx(), flags: rng.below(3), desc: addr(), used: addr(), avail: addr(), log: rng.u32() });
    case Req.SET_VRING_KICK: case Req.SET_VRING_CALL: case Req.SET_VRING_ERR:
      return encodeU64(rng.chance(0.7) ? idx() & 0xff : rng.u32());
    case Req.SET_MEM_TABLE: {
      const n = rng.below(10);
      return encodeMemTable(Array.from({ length: n }, () => rng.chance(0.5) ? mem.region(rng.below(2)) : {
        guestAddr: rng.u32() * 4096, size: rng.u32(), userAddr: addr(), mmapOffset: rng.below(64) * 4096 + rng.below(2) * rng.below(4096),
      }));
    }
    case Req.ADD_MEM_REG: case Req.REM_MEM_REG:
      return encodeSingleMemRegion(rng.chance(0.6) ? mem.region(rng.below(2)) : {
        guestAddr: rng.u32() * 65536, size: rng.below(32 << 20), userAddr: addr(), mmapOffset: rng.below(32 << 20),
      });
    case Req.GET_CONFIG: case Req.SET_CONFIG:
      return encodeConfig(rng.below(64), rng.below(3), rng.bytes(rng.pick([0, 4, 36, 40, 256, 300])));
    default:
      return rng.chance(0.7) ? Buffer.alloc(0) : rng.bytes(rng.below(64));
  }
}

/** fds to send along: mostly none; an eventfd or a memfd dup; sometimes far too many. */
function hostileFds(rng: Rng, mem: FakeGuestMemory): number[] {
  const k = rng.below(100);
  const n = k < 80 ? 0 : k < 97 ? 1 + rng.below(2) : 9 + rng.below(4);
  return Array.from({ length: n }, () => (rng.chance(0.5) ? eventfd() : dup(mem.fd)));
}

/** Requests that need a reply this back-end cannot give: they end the connection by design. */
const UNANSWERABLE: number[] = [Req.SET_LOG_BASE, Req.POSTCOPY_ADVISE, Req.GET_INFLIGHT_FD, Req.CREATE_CRYPTO_SESSION, Req.GET_STATUS];
const ANSWERABLE = Array.from({ length: 43 }, (_, i) => i + 1).filter((r) => !UNANSWERABLE.includes(r));

/**
 * One message. Most are known requests with payloads of their shape (or
 * random bytes), so that a burst mostly reaches the handlers; a few percent
 * are of the kinds that end a connection (unknown request, wrong version,
 * broken framing, a reply-required request with a bad payload).
 */
function hostileMessage(rng: Rng, mem: FakeGuestMemory): Buffer {
  const k = rng.below(1000);
  let request: number;
  let flags = Flag.VERSION | (rng.chance(0.5) ? Flag.NEED_REPLY : 0);
  if (k < 5) request = rng.chance(0.5) ? 44 + rng.below(100) : rng.u32();
  else if (k < 15) request = rng.pick(UNANSWERABLE);
  else request = rng.pick(ANSWERABLE);
  if (k >= 15 && k < 20) flags = rng.u32();
  else if (k >= 20 && k < 40) flags |= Flag.REPLY;
  const replyRequired = REPLY_REQUIRED.has(request);
  const payload = replyRequired && rng.chance(0.9) ? shapedPayload(rng, request, mem) : hostilePayload(rng, request, mem);
  const m = encodeRequest(request, payload, flags);
  if (k >= 40 && k < 43) m.writeUInt32LE(MAX_PAYLOAD + 1 + rng.below(1 << 20), 8); // announces too much
  else if (k >= 43 && k < 46) m.writeUInt32LE(m.readUInt32LE(8) + 1 + rng.below(64), 8); // announces more than comes
  return m;
}

/** The right payload size for the reply-required requests (random contents within it). */
function shapedPayload(rng: Rng, request: number, mem: FakeGuestMemory): Buffer {
  switch (request) {
    case Req.GET_VRING_BASE: return encodeVringState({ index: rng.below(3), num: 0 });
    case Req.GET_CONFIG: return encodeConfig(rng.below(64), 0, Buffer.alloc(rng.pick([0, 4, 40, 256, 257])));
    case Req.GET_FEATURES: case Req.GET_PROTOCOL_FEATURES: case Req.GET_QUEUE_NUM: case Req.GET_MAX_MEM_SLOTS:
      return Buffer.alloc(0);
    default: return hostilePayload(rng, request, mem);
  }
}

test('100 000 hostile messages', { timeout: 300_000 }, async (t) => {
  const fds = openFds();
  const maps = memfdMaps();
  const started = performance.now();
  const rng = new Rng(SEED + 2);
  const internal: string[] = [];
  const handler = new FuzzHandler(new Rng(SEED + 3));
  const mem = FakeGuestMemory.standard();
  const complaints = new Complaints(MESSAGE_COMPLAINTS);
  let side = connectBackend(handler, internal, complaints);
  let sent = 0;
  let bursts = 0;
  let reconnects = 0;
  while (sent < MESSAGES) {
    bursts++;
    const burst = 1 + rng.below(24);
    let alive = true;
    for (let i = 0; i < burst && alive; i++) {
      const m = hostileMessage(rng, mem);
      const f = hostileFds(rng, mem);
      const n = side.fe.sendRaw(m, f);
      for (const fd of f) close(fd);
      sent++;
      if (n < 0) alive = false; // the back-end already hung up
    }
    // Is it still there? A GET_CONFIG at an offset no burst uses marks the
    // answer; the answers to the burst come before it and are skipped.
    let answered = false;
    const marker = 0x10000 + bursts;
    if (alive && side.fe.sendRaw(encodeRequest(Req.GET_CONFIG, encodeConfig(marker, 0, Buffer.alloc(4)))) > 0) {
      for (;;) {
        const r = await side.fe.recv(300);
        if (r === undefined) break;
        if (r.request === Req.GET_CONFIG && r.payload.length === 16 && r.payload.readUInt32LE(0) === marker) {
          answered = true;
          break;
        }
      }
    }
    if (answered && bursts % 8 === 0) {
      // Set everything up again, the way a front-end would after a reset, and use it.
      await within(side.fe.drain(), 'draining');
      const proto = 0x1n << 3n; // REPLY_ACK, so that every step is acknowledged
      side.fe.send(Req.SET_PROTOCOL_FEATURES, encodeU64(proto | 1n));
      const features = (await within(side.fe.call(Req.GET_FEATURES), 'GET_FEATURES')).readBigUInt64LE(0);
      assert.equal(await within(side.fe.acked(Req.SET_FEATURES, encodeU64(features)), 'SET_FEATURES'), 0n);
      await within(side.fe.setMemTable(mem), 'SET_MEM_TABLE');
      await within(checkSane(side.fe, mem, 16, SANE + BigInt(bursts)), `burst ${bursts}: a well-formed request`);
    } else if (!answered) {
      // Gone (or stuck waiting for bytes that never come): closing our end must end it.
      side.fe.close();
      await within(side.done, `burst ${bursts}: serve() resolving after the connection ended`);
      reconnects++;
      side = connectBackend(handler, internal, complaints);
    }
  }
  side.fe.close();
  await within(side.done, 'serve() resolving');
  mem.destroy();
  // Async replies of the last connection have run by now.
  await sleep(10);
  assert.deepEqual(internal, []);
  assert.equal(handler.corrupted, 0);
  assert.deepEqual(openFds(), fds);
  assert.equal(memfdMaps(), maps);
  t.diagnostic(complaints.summary());
  if (MESSAGES >= 100_000) complaints.assertAllSeen();
  t.diagnostic(`${sent} messages in ${bursts} bursts, ${reconnects} connections ended, ${((performance.now() - started) / 1000).toFixed(1)} s`);
});
