/**
 * The session layer. Server.handle is fuzzed and probed through a fake
 * channel; real mounts are served in this process with FuseSession, and only
 * child processes (or nothing) touch them: a synchronous call from this
 * thread into its own mount would wait for a reply this thread must send.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import { join } from 'node:path';
import type { Context } from '../src/fs/context.js';
import { FsError } from '../src/fs/errors.js';
import type { FileSystem } from '../src/fs/filesystem.js';
import type { DirSink } from '../src/fs/types.js';
import { FOPEN, InitFlag, Opcode, opcodeName } from '../src/fuse/abi.js';
import {
  decodeDirents, decodeOutHeader, decodeRequest, direntSize, encodeRequest, requestOpcode, setattrValid,
  type Request, type RequestExt,
} from '../src/fuse/codec.js';
import { isMountPoint } from '../src/fuse/mount.js';
import { Server } from '../src/fuse/server.js';
import { NO_REPLY_OPCODES, OPCODES } from '../src/fuse/opcodes.js';
import type { ReplySink } from '../src/fuse/sink.js';
import { FuseSession } from '../src/fuse/session.js';
import { errno as E, SysError } from '../src/sys/errno.js';
import {
  asyncMemFs, chaosFs, FixedFs, pick, prng, type ChaosLog, type Rand,
} from './fixtures/session-fs.js';
import { makeTempDir, removeTempDir } from './helpers.js';
import { PassthroughFs } from '../src/passthrough/passthrough.js';
import { defaultOptions } from '../src/passthrough/options.js';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const ALL_INIT_FLAGS = Object.values(InitFlag).reduce((a, b) => a | b, 0n);
/** Requests the kernel expects no reply to (NOTIFY_REPLY: the kernel sends it with noreply set). */
const NO_REPLY = NO_REPLY_OPCODES;

// ---------------------------------------------------------------------------
// Server.handle with a fake reply sink (what a transport gives each request)

class FakeChannel implements ReplySink {
  readonly replies: Buffer[] = [];
  /** Requests that were told they get no reply. */
  nones = 0;
  onWrite?: (buf: Buffer, len: number) => void;
  reply(buf: Buffer, len: number): number {
    this.onWrite?.(buf, len);
    this.replies.push(Buffer.from(buf.subarray(0, len)));
    return 0;
  }
  none(): void {
    this.nones++;
  }
}

const H = { nodeid: 1n, uid: 0, gid: 0, pid: 1 };

function initRequest(unique: bigint, major = 7, minor = 45): Buffer {
  return encodeRequest({ ...H, unique, nodeid: 0n, opcode: Opcode.INIT },
    { op: 'init', major, minor, maxReadahead: 131072, flags: ALL_INIT_FLAGS }, 45);
}

function request(unique: bigint, req: Request, nodeid = 1n): Buffer {
  return encodeRequest({ ...H, unique, nodeid, opcode: requestOpcode(req) }, req, 45);
}

/** A Server on a fake channel, INIT done; `logs` collects what it logs. */
function initedServer(fsImpl: FileSystem) {
  const chan = new FakeChannel();
  const logs: string[] = [];
  const server = new Server(fsImpl, {}, { log: (level, msg) => logs.push(`${level}: ${msg}`) });
  const init = initRequest(1n);
  server.handle(init, init.length, chan);
  assert.equal(server.minor, 45);
  assert.equal(decodeOutHeader(chan.replies[0]!).error, 0);
  chan.replies.length = 0;
  return { chan, server, logs };
}

function replyFor(chan: FakeChannel, unique: bigint): Buffer[] {
  return chan.replies.filter((r) => decodeOutHeader(r).unique === unique);
}

/** Let timers, immediates and promise continuations run. */
async function settle(log?: ChaosLog): Promise<void> {
  for (let i = 0; i < 10_000 && log && log.promises.size > 0; i++) {
    await Promise.allSettled([...log.promises]);
    await new Promise((r) => setImmediate(r));
  }
  await sleep(30);
}

function randomBytes(rand: Rand, n: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = Math.floor(rand() * 256);
  return b;
}

/** Random bytes, most of them with a header consistent enough to reach the body decoders. */
function randomMessage(rand: Rand): Buffer {
  const len = rand() < 0.1 ? Math.floor(rand() * 40) : 40 + Math.floor(rand() ** 3 * 3000);
  const b = randomBytes(rand, len);
  if (len >= 40 && rand() < 0.85) {
    b.writeUInt32LE(len, 0);
    b.writeUInt32LE(rand() < 0.9 ? Math.floor(rand() * 56) : Math.floor(rand() * 2 ** 32), 4);
    if (rand() < 0.7) b.writeUInt16LE(rand() < 0.8 ? 0 : Math.floor(rand() * 4), 36);
    if (rand() < 0.7) b.writeBigUInt64LE(BigInt(Math.floor(rand() * 8)), 16);
    if (rand() < 0.5) for (let i = 40; i < len; i++) if (rand() < 0.1) b[i] = 0;
  }
  return b;
}

/** A well-formed request of each kind, with random fields. */
function requestMakers(rand: Rand, recent: () => bigint): (() => Request)[] {
  const int = (n: number) => Math.floor(rand() * n);
  const name = () => Buffer.from(pick(rand, ['a', 'b', 'dir', 'file.txt', '', 'x'.repeat(1 + int(300))]));
  const fh = () => BigInt(int(10));
  const size = () => pick(rand, [0, 1, 100, 4096, 131072, 1 << 20, 2 ** 32 - 1]);
  const lock = () => ({ start: BigInt(int(5000)), end: pick(rand, [0x7fffffffffffffffn, BigInt(int(5000))]), type: int(3), pid: int(5000) });
  const bytes = (n: number) => randomBytes(rand, n);
  return [
    () => ({ op: 'init', major: pick(rand, [5, 6, 7, 8]), minor: int(50), maxReadahead: int(1 << 20), flags: ALL_INIT_FLAGS }),
    () => ({ op: 'destroy' }),
    () => ({ op: 'lookup', name: name() }),
    () => ({ op: 'forget', nlookup: BigInt(int(3)) }),
    () => ({ op: 'batchForget', items: Array.from({ length: int(5) }, () => ({ node: BigInt(int(12)), nlookup: BigInt(int(3)) })) }),
    () => ({ op: 'getattr', getattrFlags: int(2), fh: fh() }),
    () => {
      const set = pick(rand, [{ size: int(100_000), killSuidgid: false }, { mode: 0o644, uid: 1, gid: 2, killSuidgid: true },
        { atime: 'now' as const, mtime: { sec: int(1e9), nsec: int(1e9) }, killSuidgid: false }, { killSuidgid: false }]);
      return { op: 'setattr', set, valid: setattrValid(set) };
    },
    () => ({ op: 'readlink' }),
    () => ({ op: 'symlink', name: name(), target: name() }),
    () => ({ op: 'mknod', mode: 0o100644, rdev: 0, umask: 0o22, name: name() }),
    () => ({ op: 'mkdir', mode: 0o755, umask: 0o22, name: name() }),
    () => ({ op: 'unlink', name: name() }),
    () => ({ op: 'rmdir', name: name() }),
    () => ({ op: 'rename', newDir: BigInt(int(12)), flags: pick(rand, [0, 0, 1, 2]), name: name(), newName: name() }),
    () => ({ op: 'link', oldNode: BigInt(int(12)), newName: name() }),
    () => ({ op: 'open', flags: int(4), openFlags: 0 }),
    () => ({ op: 'read', fh: fh(), offset: int(100_000), size: size(), readFlags: 0, lockOwner: 0n, flags: 0 }),
    () => {
      const data = bytes(int(5000));
      return { op: 'write', fh: fh(), offset: int(100_000), size: data.length, writeFlags: 0, lockOwner: 0n, flags: 1, data };
    },
    () => ({ op: 'statfs' }),
    () => ({ op: 'release', fh: fh(), flags: 0, releaseFlags: int(4), lockOwner: 0n }),
    () => ({ op: 'fsync', fh: fh(), fsyncFlags: int(2) }),
    () => {
      const value = bytes(int(300));
      return { op: 'setxattr', size: value.length, flags: int(3), setxattrFlags: 0, name: Buffer.from('user.x'), value };
    },
    () => ({ op: 'getxattr', size: pick(rand, [0, 10, 1000]), name: Buffer.from('user.x') }),
    () => ({ op: 'listxattr', size: pick(rand, [0, 5, 1000]) }),
    () => ({ op: 'removexattr', name: name() }),
    () => ({ op: 'flush', fh: fh(), lockOwner: 7n }),
    () => ({ op: 'opendir', flags: 0, openFlags: 0 }),
    () => ({ op: 'readdir', fh: fh(), offset: BigInt(int(10)), size: size() }),
    () => ({ op: 'readdirplus', fh: fh(), offset: BigInt(int(10)), size: size() }),
    () => ({ op: 'releasedir', fh: fh(), flags: 0, releaseFlags: 0, lockOwner: 0n }),
    () => ({ op: 'fsyncdir', fh: fh(), fsyncFlags: int(2) }),
    () => ({ op: 'getlk', fh: fh(), owner: 3n, lock: lock(), lkFlags: int(2) }),
    () => ({ op: 'setlk', fh: fh(), owner: 3n, lock: lock(), lkFlags: int(2), sleep: rand() < 0.5 }),
    () => ({ op: 'access', mask: int(8) }),
    () => ({ op: 'create', flags: 0o101, mode: 0o100644, umask: 0o22, openFlags: 0, name: name() }),
    () => ({ op: 'interrupt', target: recent() }),
    () => ({ op: 'bmap', block: BigInt(int(1000)), blocksize: 4096 }),
    () => {
      const data = bytes(int(100));
      return { op: 'ioctl', fh: fh(), flags: 0, cmd: int(2 ** 32), arg: 0n, inSize: data.length, outSize: int(100), data };
    },
    () => ({ op: 'poll', fh: fh(), kh: 1n, flags: 1, events: 1 }),
    () => {
      const data = bytes(int(100));
      return { op: 'notifyReply', offset: 0n, size: data.length, data };
    },
    () => ({ op: 'fallocate', fh: fh(), offset: int(10_000), length: int(10_000), mode: int(4) }),
    () => ({ op: 'lseek', fh: fh(), offset: int(10_000), whence: int(5) }),
    () => ({ op: 'copyFileRange', fhIn: fh(), offIn: int(1000), nodeOut: BigInt(int(12)), fhOut: fh(), offOut: int(1000), len: int(2 ** 34), flags: 0, wide: rand() < 0.5 }),
    () => ({ op: 'setupmapping', fh: fh(), foffset: 0n, len: 4096n, flags: 0n, moffset: 0n }),
    () => ({ op: 'removemapping', count: 1, entries: [{ moffset: 0n, len: 4096n }] }),
    () => ({ op: 'syncfs' }),
    () => ({ op: 'tmpfile', flags: 2, mode: 0o100600, umask: 0o22, openFlags: 0 }),
    () => ({ op: 'statx', getattrFlags: int(2), fh: fh(), sxFlags: 0, sxMask: 0x7ff }),
  ];
}

/** Truncate (fixing up the length field, mostly), flip bytes, both, or neither. */
function mangle(rand: Rand, b: Buffer): Buffer {
  let out = Buffer.from(b);
  const r = rand();
  if (r < 0.25) return out;
  if (r < 0.6 || r >= 0.85) {
    out = Buffer.from(out.subarray(0, Math.floor(rand() * out.length)));
    if (out.length >= 4 && rand() < 0.75) out.writeUInt32LE(out.length, 0);
  }
  if (r >= 0.6) {
    for (let n = 1 + Math.floor(rand() * 4); n > 0 && out.length > 0; n--) {
      const at = rand() < 0.8 && out.length > 8 ? 8 + Math.floor(rand() * (out.length - 8)) : Math.floor(rand() * out.length);
      out[at] = rand() < 0.5 ? out[at]! ^ (1 << Math.floor(rand() * 8)) : Math.floor(rand() * 256);
    }
  }
  return out;
}

describe('Server.handle fuzzed through a fake channel', () => {
  it('answers every request exactly once with a well-formed reply, and FORGET/BATCH_FORGET/INTERRUPT never', { timeout: 300_000 }, async (t) => {
    const seed = Number(process.env.SESSION_FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 32));
    t.diagnostic(`seed ${seed} (SESSION_FUZZ_SEED to replay)`);
    const rand = prng(seed);
    const log: ChaosLog = { unsettled: new Set(), promises: new Set(), aborted: new Set(), calls: 0 };
    const decoderFailures: string[] = [];
    const chan = new FakeChannel();
    const server = new Server(chaosFs(rand, log), {}, {
      log: (level, msg) => { if (level === 'error' && msg.startsWith('decoder failure')) decoderFailures.push(msg); },
    });
    const init = initRequest(1n);
    server.handle(init, init.length, chan);
    assert.equal(server.minor, 45);
    const setxattrExt = (server.conn!.want & InitFlag.SETXATTR_EXT) !== 0n;
    chan.replies.length = 0;

    interface Msg { what: string; opcode: number; expect: number | 'notify'; replies: number }
    const byUnique = new Map<bigint, Msg>();
    const problems: string[] = [];
    const problem = (s: string) => { if (problems.length < 50) problems.push(s); };
    chan.onWrite = (buf, len) => {
      const h = decodeOutHeader(buf);
      if (len < 16 || len > buf.length || h.len !== len) problem(`reply length ${len}, header says ${h.len}`);
      if (h.error !== 0 && !(h.error < 0 && h.error >= -4095)) problem(`reply error ${h.error} out of range (unique ${h.unique})`);
      if (h.error !== 0 && len !== 16) problem(`error reply ${h.error} with ${len - 16} bytes of payload`);
      if (log.unsettled.has(h.unique)) problem(`reply to unique ${h.unique} before its promise settled`);
      const m = byUnique.get(h.unique);
      if (m) m.replies++;
      else problem(`reply to unique ${h.unique} that no message carried`);
    };

    const used = new Set<bigint>([1n]);
    let fresh = 1n << 40n;
    const recentUniques: bigint[] = [];
    const escaped: string[] = [];
    const opcodesSent = new Set<number>();
    const decodes = (raw: Buffer) => {
      try {
        decodeRequest(raw, raw.length, server.minor, { setxattrExt });
        return true;
      } catch {
        return false;
      }
    };
    const sendOne = (raw: Buffer, what: string) => {
      if (raw.length >= 16) {
        // Every message gets a unique of its own so each reply names exactly one message.
        let u = raw.readBigUInt64LE(8);
        while (used.has(u)) u = fresh++;
        raw.writeBigUInt64LE(u, 8);
        used.add(u);
        recentUniques.push(u);
        if (recentUniques.length > 16) recentUniques.shift();
        if (raw.length >= 40) {
          const opcode = raw.readUInt32LE(4);
          let expect: Msg['expect'] = 1;
          // The kernel sends NOTIFY_REPLY with noreply set; whether a malformed one may be answered is left open.
          if (opcode === Opcode.NOTIFY_REPLY) expect = decodes(raw) ? 0 : 'notify';
          else if (NO_REPLY.has(opcode)) expect = 0;
          byUnique.set(u, { what, opcode, expect, replies: 0 });
        }
      }
      // The server is handed a buffer with room to spare, as from the device.
      const buf = Buffer.alloc(raw.length + Math.floor(rand() * 64));
      raw.copy(buf);
      try {
        server.handle(buf, raw.length, chan);
      } catch (e) {
        escaped.push(`${what}: ${String(e)}`);
      }
    };
    const breathe = async () => {
      const r = rand();
      if (r < 0.1) await null;
      else if (r < 0.12) await new Promise((res) => setImmediate(res));
      else if (r < 0.13) await sleep(1);
    };

    // (a) random bytes
    for (let i = 0; i < 20_000; i++) {
      sendOne(randomMessage(rand), `random #${i}`);
      await breathe();
    }
    // Random bytes may have held a DESTROY: start (b) on a live session.
    await settle(log);
    if ((server.minor as number) === 0) sendOne(initRequest(1n << 41n), 're-INIT after (a)');
    await settle(log);
    // (b) every kind of well-formed request, intact, truncated or with bytes flipped
    let encodeFailures = 0;
    // INTERRUPT mostly the request just sent: the likeliest to be still pending.
    const makers = requestMakers(rand, () => (recentUniques.length === 0 ? 0n
      : rand() < 0.5 ? recentUniques[recentUniques.length - 1]! : pick(rand, recentUniques)));
    for (let i = 0; i < 20_000; i++) {
      const req = makers[i % makers.length]!();
      const opcode = requestOpcode(req);
      opcodesSent.add(opcode);
      const ext: RequestExt | undefined = rand() < 0.1
        ? pick(rand, [{ suppGroup: 100 }, { secctx: { name: 'security.selinux', value: Buffer.from('label\0') } }])
        : undefined;
      let bytes: Buffer;
      try {
        bytes = encodeRequest({ unique: BigInt(2 + 2 * i), nodeid: BigInt(Math.floor(rand() * 12)), uid: 0, gid: 0, pid: 1, opcode },
          req, 45, ext, { setxattrExt });
      } catch {
        encodeFailures++; // encodeRequest's own bug, see 'encodeRequest builds requests larger than 256 bytes'
        continue;
      }
      sendOne(mangle(rand, bytes), `${req.op} #${i}`);
      // A DESTROY ends the session; a guest that mounts again sends a new INIT (answered once the teardown is done).
      if (req.op === 'destroy' || (server.minor as number) === 0) {
        await settle(log);
        sendOne(initRequest(BigInt(3 + 2 * i)), `re-INIT #${i}`);
        await settle(log);
      }
      await breathe();
    }
    await settle(log);

    assert.deepEqual(escaped, [], 'exceptions escaped Server.handle');
    assert.equal(log.promises.size, 0);
    assert.equal(server.inFlight, 0, 'requests still in flight after every promise settled');
    for (const [name, n] of Object.entries(Opcode)) if (n !== Opcode.CUSE_INIT) assert.ok(opcodesSent.has(n), `no ${name} sent`);

    const wrongCount: string[] = [];
    let malformedNotifyReplies = 0;
    for (const [u, m] of byUnique) {
      if (m.expect === 'notify') {
        if (m.replies > 1) wrongCount.push(`${m.what} (NOTIFY_REPLY, unique ${u}): ${m.replies} replies`);
        malformedNotifyReplies += m.replies;
      } else if (m.replies !== m.expect) {
        wrongCount.push(`${m.what} (${opcodeName(m.opcode)}, unique ${u}): ${m.replies} replies, want ${m.expect}`);
      }
    }
    t.diagnostic(`${byUnique.size} messages of >= 40 bytes, ${chan.replies.length} replies, ${log.calls} filesystem calls, ` +
      `${log.aborted.size} aborted by INTERRUPT, ${malformedNotifyReplies} error replies to malformed NOTIFY_REPLY, ` +
      `${encodeFailures} requests encodeRequest could not build`);
    assert.deepEqual(problems, [], 'malformed or misdirected replies');
    assert.deepEqual(wrongCount.slice(0, 20), [], `${wrongCount.length} messages with the wrong number of replies`);
    assert.ok(log.calls > 5000, 'too few requests reached the filesystem for the fuzz to mean much');
    assert.ok(log.aborted.size > 0, 'no INTERRUPT ever reached a pending request');
    assert.deepEqual(decoderFailures.slice(0, 10), [], 'decodeRequest threw something other than ProtocolError');
  });

  it('a FORGET whose filesystem method throws gets no reply', () => {
    const { chan, server } = initedServer({
      forget() { throw new FsError('EIO'); },
      batchForget() { throw new Error('boom'); },
    });
    const f = request(10n, { op: 'forget', nlookup: 1n }, 5n);
    const b = request(12n, { op: 'batchForget', items: [{ node: 5n, nlookup: 1n }] });
    assert.doesNotThrow(() => server.handle(f, f.length, chan));
    assert.doesNotThrow(() => server.handle(b, b.length, chan));
    assert.deepEqual(chan.replies.map((r) => decodeOutHeader(r)), []);
  });

  it('a thrown object without a prototype is answered EIO, not thrown out of handle', async () => {
    const weird = () => Object.create(null) as object;
    const { chan, server } = initedServer({
      getattr() { throw weird(); },
      statfs() { return Promise.reject(weird()); },
    });
    const g = request(10n, { op: 'getattr', getattrFlags: 0, fh: 0n });
    const s = request(12n, { op: 'statfs' });
    const rejections: unknown[] = [];
    const onRejection = (e: unknown) => rejections.push(e);
    process.on('unhandledRejection', onRejection);
    try {
      assert.doesNotThrow(() => server.handle(g, g.length, chan));
      server.handle(s, s.length, chan);
      await settle();
    } finally {
      process.off('unhandledRejection', onRejection);
    }
    assert.deepEqual(rejections.map(String), []);
    assert.deepEqual(chan.replies.map((r) => decodeOutHeader(r)), [
      { len: 16, error: -E.EIO!, unique: 10n },
      { len: 16, error: -E.EIO!, unique: 12n },
    ]);
    assert.equal(server.inFlight, 0);
  });
});

// ---------------------------------------------------------------------------
// Protocol edge cases through Server.handle

describe('Server.handle: unknown opcodes and protocol errors', () => {
  const header = (unique: bigint, opcode: number, len = 40) => {
    const b = Buffer.alloc(len);
    b.writeUInt32LE(len, 0);
    b.writeUInt32LE(opcode, 4);
    b.writeBigUInt64LE(unique, 8);
    b.writeBigUInt64LE(1n, 16);
    return b;
  };

  it('an unknown opcode (9999) is answered ENOSYS', () => {
    const { chan, server } = initedServer({});
    const b = header(77n, 9999, 56);
    server.handle(b, b.length, chan);
    assert.deepEqual(chan.replies.map((r) => decodeOutHeader(r)), [{ len: 16, error: -E.ENOSYS!, unique: 77n }]);
  });

  it('INIT with major 6 is refused with EPROTO and leaves the session uninitialized', () => {
    const chan = new FakeChannel();
    const server = new Server({}, {}, { log: () => {} });
    const b = initRequest(5n, 6, 99);
    server.handle(b, b.length, chan);
    assert.deepEqual(chan.replies.map((r) => decodeOutHeader(r)), [{ len: 16, error: -E.EPROTO!, unique: 5n }]);
    assert.equal(server.minor, 0);
  });

  it('INIT with a newer major is answered with ours, then the real INIT works', () => {
    const chan = new FakeChannel();
    const server = new Server({}, {}, { log: () => {} });
    const b = initRequest(5n, 8, 0);
    server.handle(b, b.length, chan);
    const h = decodeOutHeader(chan.replies[0]!);
    assert.equal(h.error, 0);
    assert.equal(chan.replies[0]!.readUInt32LE(16), 7, 'major in fuse_init_out');
    assert.equal(server.minor, 0);
    const ok = initRequest(7n);
    server.handle(ok, ok.length, chan);
    assert.equal(server.minor, 45);
  });

  it('a request before INIT is answered EIO; a second INIT too', () => {
    const chan = new FakeChannel();
    const server = new Server({ getattr: () => { throw new Error('must not be called'); } }, {}, { log: () => {} });
    const g = request(3n, { op: 'getattr', getattrFlags: 0, fh: 0n });
    server.handle(g, g.length, chan);
    assert.deepEqual(chan.replies.map((r) => decodeOutHeader(r)), [{ len: 16, error: -E.EIO!, unique: 3n }]);
    const init = initRequest(5n);
    server.handle(init, init.length, chan);
    server.handle(init, init.length, chan);
    assert.deepEqual(chan.replies.slice(1).map((r) => decodeOutHeader(r).error), [0, -E.EIO!]);
  });

  it('malformed requests: short ones dropped, bad lengths EINVAL, FORGET/INTERRUPT silent', () => {
    const { chan, server } = initedServer({});
    const short = header(9n, Opcode.GETATTR, 39).subarray(0, 39);
    server.handle(short, short.length, chan);
    const lying = header(10n, Opcode.GETATTR, 56);
    lying.writeUInt32LE(1000, 0);
    server.handle(lying, 56, chan);
    const noName = header(11n, Opcode.LOOKUP, 44);
    noName.fill(0x41, 40);
    server.handle(noName, 44, chan);
    const forget = header(12n, Opcode.FORGET, 44);
    server.handle(forget, 44, chan);
    const intr = header(13n, Opcode.INTERRUPT, 44);
    server.handle(intr, 44, chan);
    assert.deepEqual(chan.replies.map((r) => decodeOutHeader(r)), [
      { len: 16, error: -E.EINVAL!, unique: 10n },
      { len: 16, error: -E.EINVAL!, unique: 11n },
    ]);
    // Every request was answered once: the short one, FORGET and INTERRUPT with no reply.
    assert.equal(chan.nones, 3);
  });
});

describe('encodeRequest (the test-side encoder the fuzz uses)', () => {
  it('builds requests larger than 256 bytes', {
  }, () => {
    const data = Buffer.alloc(1000, 0x61);
    const w = request(1n, { op: 'write', fh: 0n, offset: 0, size: data.length, writeFlags: 0, lockOwner: 0n, flags: 0, data });
    assert.deepEqual(w.subarray(w.length - 1000), data, 'WRITE payload');
    const name = Buffer.alloc(214, 0x62);
    const l = encodeRequest({ ...H, unique: 2n, opcode: Opcode.LOOKUP }, { op: 'lookup', name }, 45, { suppGroup: 5 });
    assert.deepEqual(l.subarray(40, 40 + name.length), name);
  });
});

// ---------------------------------------------------------------------------
// INTERRUPT ordering and async results through Server.handle

function deferred<T>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => { resolve = res; reject = rej; });
  return { promise, resolve, reject };
}

describe('Server.handle: INTERRUPT racing with completion', () => {
  const readReq = (unique: bigint) => request(unique, { op: 'read', fh: 0n, offset: 0, size: 100, readFlags: 0, lockOwner: 0n, flags: 0 }, 2n);
  const interruptReq = (unique: bigint, target: bigint) => request(unique, { op: 'interrupt', target }, 0n);

  /** A read that the test settles by hand; records whether ctx.signal fired. */
  function manualFs() {
    const calls: { ctx: Context; d: ReturnType<typeof deferred<Buffer>>; aborted: boolean }[] = [];
    const fsImpl: FileSystem = {
      read(ctx) {
        const call = { ctx, d: deferred<Buffer>(), aborted: false };
        ctx.signal!.addEventListener('abort', () => (call.aborted = true));
        calls.push(call);
        return call.d.promise;
      },
    };
    return { calls, fsImpl };
  }

  it('INTERRUPT while pending, filesystem completes anyway: one reply, with the data', async () => {
    const { calls, fsImpl } = manualFs();
    const { chan, server } = initedServer(fsImpl);
    const r = readReq(100n);
    server.handle(r, r.length, chan);
    const i = interruptReq(101n, 100n);
    server.handle(i, i.length, chan);
    assert.equal(calls[0]!.aborted, true);
    calls[0]!.d.resolve(Buffer.from('done'));
    await settle();
    assert.deepEqual(chan.replies.map((x) => decodeOutHeader(x)), [{ len: 20, error: 0, unique: 100n }]);
    assert.equal(chan.replies[0]!.subarray(16).toString(), 'done');
    assert.equal(server.inFlight, 0);
  });

  it('INTERRUPT after the reply: nothing more is sent', async () => {
    const { calls, fsImpl } = manualFs();
    const { chan, server } = initedServer(fsImpl);
    const r = readReq(200n);
    server.handle(r, r.length, chan);
    calls[0]!.d.resolve(Buffer.from('x'));
    await settle();
    const i = interruptReq(201n, 200n);
    server.handle(i, i.length, chan);
    await settle();
    assert.equal(calls[0]!.aborted, false);
    assert.deepEqual(chan.replies.map((x) => decodeOutHeader(x)), [{ len: 17, error: 0, unique: 200n }]);
  });

  it('INTERRUPT between the promise settling and the reply being written: one reply', async () => {
    for (const outcome of ['resolve', 'reject'] as const) {
      const { calls, fsImpl } = manualFs();
      const { chan, server } = initedServer(fsImpl);
      const r = readReq(300n);
      server.handle(r, r.length, chan);
      if (outcome === 'resolve') calls[0]!.d.resolve(Buffer.from('late'));
      else calls[0]!.d.reject(new FsError('EAGAIN'));
      // The server's continuation has not run yet: the request is still pending.
      const i = interruptReq(301n, 300n);
      server.handle(i, i.length, chan);
      assert.equal(calls[0]!.aborted, true);
      await settle();
      assert.deepEqual(chan.replies.map((x) => decodeOutHeader(x)),
        [outcome === 'resolve' ? { len: 20, error: 0, unique: 300n } : { len: 16, error: -E.EAGAIN!, unique: 300n }], outcome);
    }
  });

  it('a request whose unique is still in flight is not answered twice', async () => {
    const { calls, fsImpl } = manualFs();
    const { chan, server } = initedServer(fsImpl);
    const r = readReq(400n);
    server.handle(r, r.length, chan);
    server.handle(r, r.length, chan);
    calls[0]!.d.resolve(Buffer.from('once'));
    await settle();
    assert.equal(calls.length, 1);
    assert.equal(replyFor(chan, 400n).length, 1);
  });

  it("an async readdir's reply is not changed by a synchronous readdir answered before it is written", {
  }, async () => {
    // Node 2 answers later, node 3 at once; the synchronous one reuses the shared dirent buffer.
    for (let ticks = 0; ticks < 8; ticks++) {
      const later = deferred<void>();
      const fsImpl: FileSystem = {
        readdir(_ctx, node, _fh, offset, out: DirSink) {
          if (offset !== 0n) return;
          if (node === 2n) {
            for (const [i, n] of ['one', 'two', 'three'].entries()) out.add(n, BigInt(10 + i), 8, BigInt(i + 1));
            return later.promise;
          }
          out.add('sync-entry-with-a-long-name', 20n, 8, 1n);
        },
      };
      const { chan, server } = initedServer(fsImpl);
      const rd = (unique: bigint, node: bigint) => request(unique, { op: 'readdir', fh: 0n, offset: 0n, size: 4096 }, node);
      const a = rd(500n, 2n);
      server.handle(a, a.length, chan);
      later.resolve();
      for (let i = 0; i < ticks; i++) await null;
      const b = rd(502n, 3n);
      server.handle(b, b.length, chan);
      await settle();
      const [ra] = replyFor(chan, 500n);
      assert.ok(ra, `no reply to the async readdir (${ticks} ticks)`);
      const want = ['one', 'two', 'three'];
      assert.equal(ra.length, 16 + want.reduce((s, n) => s + direntSize(n.length), 0), `reply length (${ticks} ticks)`);
      assert.deepEqual(decodeDirents(ra.subarray(16)).map((d) => d.name.toString()), want, `entries (${ticks} ticks)`);
      const [rb] = replyFor(chan, 502n);
      assert.deepEqual(decodeDirents(rb!.subarray(16)).map((d) => d.name.toString()), ['sync-entry-with-a-long-name']);
    }
  });
});

// ---------------------------------------------------------------------------
// Real mounts served in this process

interface Ran { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }

/** Start a child; it is SIGKILLed (by pid) if it runs longer than timeoutMs. */
function runChild(cmd: string, args: string[], timeoutMs = 30_000): { child: ChildProcess; done: Promise<Ran> } {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const done = new Promise<Ran>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
  return { child, done };
}

async function run(cmd: string, ...args: string[]): Promise<Ran> {
  return runChild(cmd, args).done;
}

async function cat(path: string): Promise<string> {
  const r = await run('cat', path);
  assert.equal(r.code, 0, `cat ${path}: ${r.stderr}`);
  return r.stdout;
}

async function exists(path: string): Promise<boolean> {
  const r = await run('stat', '-c', '%s', path);
  if (r.code !== 0) assert.match(r.stderr, /No such file or directory/);
  return r.code === 0;
}

interface Mounted {
  session: FuseSession;
  mnt: string;
  dir: string;
  /** Requests read from the device (a NOTIFY_REPLY carries the notifier's unique, which may equal a kernel one). */
  requests: { unique: bigint; opcode: number }[];
  /** Replies written: unique → error of each. */
  replies: Map<bigint, number[]>;
  /** Targets of INTERRUPT requests. */
  interrupts: bigint[];
  logs: string[];
  /** Unmount and wait for serve() to resolve (idempotent). */
  stop(): Promise<void>;
}

/** Mount and serve `fsImpl` on this thread, recording the traffic on the device. */
function mountInProcess(fsImpl: FileSystem): Mounted {
  const dir = makeTempDir('ptfs-session-');
  const mnt = join(dir, 'mnt');
  fs.mkdirSync(mnt);
  const logs: string[] = [];
  let session: FuseSession;
  try {
    session = FuseSession.mount(fsImpl, mnt, {
      mount: { fsname: 'session-test', subtype: 'session-test' },
      session: { log: (level, msg) => { if (level !== 'debug') logs.push(`${level}: ${msg}`); } },
    });
  } catch (e) {
    removeTempDir(dir);
    throw e;
  }
  const requests: Mounted['requests'] = [];
  const replies = new Map<bigint, number[]>();
  const interrupts: bigint[] = [];
  const dev = session.device;
  const devRead = dev.read.bind(dev);
  const devWrite = dev.write.bind(dev);
  dev.read = (buf: Buffer) => {
    const n = devRead(buf);
    if (n >= 40) {
      const opcode = buf.readUInt32LE(4);
      requests.push({ unique: buf.readBigUInt64LE(8), opcode });
      if (opcode === Opcode.INTERRUPT) interrupts.push(buf.readBigUInt64LE(40));
    }
    return n;
  };
  dev.write = (buf: Buffer, len: number) => {
    const h = decodeOutHeader(buf);
    // Notifications carry unique 0.
    if (h.unique !== 0n) replies.set(h.unique, [...(replies.get(h.unique) ?? []), h.error]);
    return devWrite(buf, len);
  };
  const serving = session.serve();
  let stopped: Promise<void> | undefined;
  const stop = () => (stopped ??= (async () => {
    try {
      session.unmount();
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<string>((r) => (timer = setTimeout(() => r('timeout'), 20_000)));
      const r = await Promise.race([serving.then(() => 'done'), timeout]);
      clearTimeout(timer);
      if (r === 'timeout') throw new Error('serve() did not resolve within 20 s of unmount');
    } finally {
      // Only once the mount is gone: removing the directory must not walk into it.
      if (!isMountPoint(mnt)) removeTempDir(dir);
    }
  })());
  return { session, mnt, dir, requests, replies, interrupts, logs, stop };
}

/** Each request the kernel sent got exactly one reply (none for FORGET & co.), and no reply went elsewhere. */
function replyProblems(m: Mounted): string[] {
  const out: string[] = [];
  const want = new Map<bigint, { n: number; ops: string[] }>();
  for (const { unique, opcode } of m.requests) {
    const w = want.get(unique) ?? { n: 0, ops: [] };
    if (!NO_REPLY.has(opcode)) w.n++;
    w.ops.push(opcodeName(opcode));
    want.set(unique, w);
  }
  for (const [u, w] of want) {
    const n = m.replies.get(u)?.length ?? 0;
    if (n !== w.n) out.push(`${w.ops.join('+')} unique ${u}: ${n} replies, want ${w.n}`);
  }
  for (const u of m.replies.keys()) if (!want.has(u)) out.push(`reply to unique ${u}, which was never requested`);
  return out;
}

describe('kernel notifications on a mount served in this process', () => {
  const tfs = new FixedFs();
  const F = tfs.add('f', 'version-1\n');
  tfs.add('a', 'aaa');
  const B = tfs.add('b', 'bbb');
  const S = tfs.add('s', 'X'.repeat(16));
  let m: Mounted;
  before(() => { m = mountInProcess(tfs); });
  after(async () => { await m?.stop(); });
  const p = (name: string) => join(m.mnt, name);

  it('cached data is served until invalInode drops it', { timeout: 60_000 }, async () => {
    assert.equal(await cat(p('f')), 'version-1\n');
    const reads = tfs.reads.get(F);
    tfs.files.get('f')!.data = Buffer.from('version-2\n');
    assert.equal(await cat(p('f')), 'version-1\n', 'KEEP_CACHE: the page cache still has version 1');
    assert.equal(tfs.reads.get(F), reads, 'no READ for cached data');
    m.session.notify.invalInode(F, 0n, 0n);
    assert.equal(await cat(p('f')), 'version-2\n');
    assert.ok(tfs.reads.get(F)! > reads!);
  });

  it('invalEntry makes a name the filesystem renamed disappear', { timeout: 60_000 }, async () => {
    assert.ok(await exists(p('a')));
    tfs.files.set('a2', tfs.files.get('a')!);
    tfs.files.delete('a');
    assert.ok(await exists(p('a')), 'the dentry is cached for an hour');
    m.session.notify.invalEntry(1n, 'a');
    assert.equal(await exists(p('a')), false);
    assert.ok(await exists(p('a2')));
    assert.equal(await cat(p('a2')), 'aaa');
  });

  it('delete makes a name the filesystem removed disappear', { timeout: 60_000 }, async () => {
    assert.ok(await exists(p('b')));
    tfs.files.delete('b');
    assert.ok(await exists(p('b')), 'the dentry is cached for an hour');
    m.session.notify.delete(1n, B, 'b');
    assert.equal(await exists(p('b')), false);
  });

  it('store puts data in the page cache: cat reads it without a READ', { timeout: 60_000 }, async () => {
    assert.ok(await exists(p('s')), 'the kernel must know the inode before a store');
    m.session.notify.store(S, 0n, Buffer.from('stored-by-notify'));
    assert.equal(await cat(p('s')), 'stored-by-notify');
    assert.equal(tfs.reads.get(S) ?? 0, 0, 'READs reached the filesystem');
  });

  it('retrieve resolves with what the kernel caches', { timeout: 60_000 }, async () => {
    const got = await m.session.notify.retrieve(S, 0n, 4096);
    assert.equal(got.toString(), 'stored-by-notify');
    const f = await m.session.notify.retrieve(F, 0n, 4096);
    assert.equal(f.toString(), 'version-2\n');
    const tail = await m.session.notify.retrieve(S, 7n, 4);
    assert.equal(tail.toString(), 'by-n');
  });

  it('invalInode of a node id the kernel does not know throws SysError ENOENT', () => {
    assert.throws(() => m.session.notify.invalInode(987_654_321n, 0n, 0n),
      (e: unknown) => e instanceof SysError && e.code === 'ENOENT' && e.errno === E.ENOENT);
  });

  it('unmounts cleanly: serve() resolves, nothing in flight, one reply per request', { timeout: 60_000 }, async () => {
    await m.stop();
    assert.equal(m.session.server.inFlight, 0);
    assert.deepEqual(replyProblems(m), []);
    assert.deepEqual(m.logs.filter((l) => l.startsWith('error')), []);
  });
});

describe('INTERRUPT through the kernel', () => {
  const tfs = new FixedFs();
  const aborted = new Set<bigint>();
  const started = new Map<bigint, ReturnType<typeof deferred<bigint>>>();
  const readStarted = (node: bigint) => {
    const d = deferred<bigint>();
    started.set(node, d);
    return d.promise;
  };
  const onRead = (node: bigint, ctx: Context) => started.get(node)?.resolve(ctx.unique);
  // DIRECT_IO: the caller waits for the READ itself (page-cache readahead would be a background request, never interrupted).
  const SLOW: bigint = tfs.add('slow', 'slow-data\n', FOPEN.DIRECT_IO, (ctx) => new Promise<Buffer>((resolve, reject) => {
    onRead(SLOW, ctx);
    const signal = ctx.signal!;
    const onAbort = () => {
      clearTimeout(timer);
      aborted.add(ctx.unique);
      reject(new FsError('EINTR'));
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve(Buffer.from('slow-data\n'));
    }, 10_000);
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  }));
  // Ignores the interrupt and completes normally a little later.
  const STUBBORN: bigint = tfs.add('stubborn', 'stubborn\n', FOPEN.DIRECT_IO, (ctx, offset) => {
    if (offset > 0) return Buffer.alloc(0);
    onRead(STUBBORN, ctx);
    return new Promise<Buffer>((resolve) => {
      const timer = setTimeout(() => resolve(Buffer.from('stubborn\n')), 10_000);
      ctx.signal!.addEventListener('abort', () => {
        aborted.add(ctx.unique);
        clearTimeout(timer);
        setTimeout(() => resolve(Buffer.from('stubborn\n')), 100);
      }, { once: true });
    });
  });
  tfs.add('fast', 'fast-data\n');
  let m: Mounted;
  before(() => { m = mountInProcess(tfs); });
  after(async () => { await m?.stop(); });

  const interruptedRead = async (name: string, node: bigint, signal: NodeJS.Signals) => {
    const startedRead = readStarted(node);
    const { child, done } = runChild('cat', [join(m.mnt, name)]);
    const unique = await Promise.race([startedRead, done.then((r) => { throw new Error(`cat ended first: ${JSON.stringify(r)}`); })]);
    await sleep(300);
    child.kill(signal);
    const ran = await done;
    return { unique, ran };
  };

  it('a signalled reader interrupts a waiting READ: the filesystem sees the abort, one EINTR reply', { timeout: 60_000 }, async () => {
    const { unique, ran } = await interruptedRead('slow', SLOW, 'SIGTERM');
    assert.equal(ran.signal, 'SIGTERM', JSON.stringify(ran));
    assert.ok(m.interrupts.includes(unique), 'the kernel sent INTERRUPT for the READ');
    assert.ok(aborted.has(unique), 'ctx.signal fired');
    assert.deepEqual(m.replies.get(unique), [-E.EINTR!]);
    assert.equal(await cat(join(m.mnt, 'fast')), 'fast-data\n', 'the mount still works');
  });

  it('a READ that completes normally despite its INTERRUPT gets one reply', { timeout: 60_000 }, async () => {
    const { unique, ran } = await interruptedRead('stubborn', STUBBORN, 'SIGINT');
    assert.equal(ran.signal, 'SIGINT', JSON.stringify(ran));
    assert.ok(aborted.has(unique));
    assert.deepEqual(m.replies.get(unique), [0]);
    assert.equal(await cat(join(m.mnt, 'fast')), 'fast-data\n');
  });

  it('unmounts cleanly: serve() resolves, nothing in flight, one reply per request', { timeout: 60_000 }, async () => {
    await m.stop();
    assert.equal(m.session.server.inFlight, 0);
    assert.deepEqual(replyProblems(m), []);
    assert.deepEqual(m.logs.filter((l) => l.startsWith('error')), []);
  });
});

describe('an asynchronous filesystem under concurrent load', () => {
  let m: Mounted;
  let src: string;
  let work: string;
  before(() => {
    work = makeTempDir('ptfs-session-src-');
    src = join(work, 'src');
    for (let d = 0; d < 10; d++) {
      fs.mkdirSync(join(src, `d${d}`, 'sub'), { recursive: true });
      for (let f = 0; f < 20; f++) {
        const i = d * 20 + f;
        const size = (i * 7919) % 70_000;
        const data = Buffer.alloc(size);
        for (let k = 0; k < size; k++) data[k] = (k * 31 + i) & 0xff;
        fs.writeFileSync(join(src, `d${d}`, f % 5 === 0 ? `sub/f${f}` : `f${f}`), data);
      }
      fs.symlinkSync('f1', join(src, `d${d}`, 'link'));
    }
    m = mountInProcess(asyncMemFs(prng(12345)));
  });
  after(async () => {
    try {
      await m?.stop();
    } finally {
      if (work) removeTempDir(work);
    }
  });

  it('4 concurrent cp -r in, diff -r out, rm -r and ls -lR: all correct', {
    timeout: 240_000,
  }, async () => {
    const copies = [0, 1, 2, 3].map((i) => join(m.mnt, `c${i}`));
    const cps = await Promise.all(copies.map((c) => run('cp', '-r', src, c)));
    for (const r of cps) assert.equal(r.code, 0, r.stderr);
    const diffs = await Promise.all([...copies.map((c) => run('diff', '-r', src, c)), run('cp', '-r', copies[0]!, join(work, 'back'))]);
    for (const r of diffs) assert.equal(r.code, 0, r.stdout + r.stderr);
    const back = await run('diff', '-r', src, join(work, 'back'));
    assert.equal(back.code, 0, back.stdout + back.stderr);
    const [rm, ls] = await Promise.all([run('rm', '-r', copies[1]!), run('ls', '-lR', copies[2]!)]);
    assert.equal(rm.code, 0, rm.stderr);
    assert.equal(ls.code, 0, ls.stderr);
    assert.equal((ls.stdout.match(/^-/gm) ?? []).length, 200);
    const left = await run('ls', m.mnt);
    assert.deepEqual(left.stdout.trim().split('\n').sort(), ['c0', 'c2', 'c3']);
  });

  it('unmounts cleanly: serve() resolves, nothing in flight, one reply per request', { timeout: 60_000 }, async () => {
    await m.stop();
    assert.equal(m.session.server.inFlight, 0);
    const problems = replyProblems(m);
    assert.deepEqual(problems.slice(0, 20), [], `${problems.length} requests with the wrong number of replies`);
    assert.ok(m.requests.length > 2000, `only ${m.requests.length} requests`);
    assert.deepEqual(m.logs.filter((l) => l.startsWith('error')), []);
  });
});

describe('DESTROY, then INIT again (a guest unmounting and mounting)', () => {
  it('the same protocol and PassthroughFs serve a second session from a fresh root', async () => {
    const dir = makeTempDir('ptfs-reinit-');
    const pfs = new PassthroughFs(defaultOptions(dir));
    try {
      fs.writeFileSync(join(dir, 'f'), 'one');
      const chan = new FakeChannel();
      const server = new Server(pfs, {}, { log: () => {} });
      const lookupF = (u: bigint) => request(u, { op: 'lookup', name: Buffer.from('f') });
      for (const [init, look, destroy] of [[1n, 2n, 3n], [11n, 12n, 13n]] as const) {
        const i = initRequest(init);
        server.handle(i, i.length, chan);
        await settle();
        const l = lookupF(look);
        server.handle(l, l.length, chan);
        const d = request(destroy, { op: 'destroy' }, 0n);
        server.handle(d, d.length, chan);
        await settle();
      }
      const errs = chan.replies.map((r) => [decodeOutHeader(r).unique, decodeOutHeader(r).error]);
      assert.deepEqual(errs, [[1n, 0], [2n, 0], [3n, 0], [11n, 0], [12n, 0], [13n, 0]]);
      // Between a DESTROY and the next INIT, requests are refused.
      const l = lookupF(20n);
      server.handle(l, l.length, chan);
      assert.equal(decodeOutHeader(chan.replies.at(-1)!).error, -E.EIO!);
      assert.equal(pfs.inodes.size, 0, 'the second DESTROY closed everything');
    } finally {
      pfs.destroy();
      removeTempDir(dir);
    }
  });
});

describe('the opcode table (opcodes.ts)', () => {
  it('covers every opcode of abi.ts but CUSE_INIT, once, with its fuse.h name', () => {
    const codes = OPCODES.map((o) => o.code);
    assert.equal(new Set(codes).size, codes.length);
    for (const [name, code] of Object.entries(Opcode)) {
      if (code === Opcode.CUSE_INIT) continue;
      assert.equal(OPCODES.find((o) => o.code === code)?.name, name, name);
    }
    assert.deepEqual([...NO_REPLY_OPCODES].map(opcodeName).sort(), ['BATCH_FORGET', 'FORGET', 'INTERRUPT', 'NOTIFY_REPLY']);
  });
});

describe('READ answered with a range of a host file', () => {
  it('is read into the reply, or handed to a sink that moves file data itself', () => {
    const dir = makeTempDir('ptfs-range-');
    try {
      const path = join(dir, 'data');
      fs.writeFileSync(path, 'abcdefghij');
      const fd = fs.openSync(path, 'r');
      try {
        const { chan, server } = initedServer({
          open: () => ({ fh: 7n, openFlags: 0 }),
          read: (_c, _n, _fh, offset, size) => ({ fd, offset, length: size }),
        });
        const rd = (u: bigint, offset: number, size: number) =>
          request(u, { op: 'read', fh: 7n, offset, size, readFlags: 0, lockOwner: 0n, flags: 0 }, 2n);
        let r = rd(2n, 3, 4);
        server.handle(r, r.length, chan);
        assert.equal(chan.replies[0]!.subarray(16).toString(), 'defg');
        r = rd(3n, 8, 100);
        server.handle(r, r.length, chan);
        assert.equal(chan.replies[1]!.subarray(16).toString(), 'ij', 'short at the end of the file');
        // A transport that reads file data itself gets the range, and the header to send before it.
        const calls: [number, number, number][] = [];
        const mover = Object.assign(new FakeChannel(), {
          replyFromFile(header: Buffer, f: number, offset: number, length: number): number {
            calls.push([f, offset, length]);
            assert.equal(decodeOutHeader(header).unique, 4n);
            return 2;
          },
        });
        r = rd(4n, 1, 2);
        server.handle(r, r.length, mover);
        assert.deepEqual(calls, [[fd, 1, 2]]);
        assert.equal(mover.replies.length, 0);
        assert.equal(mover.nones, 0);
        // A failure of the transport's read is the request's errno.
        const failing = Object.assign(new FakeChannel(), { replyFromFile: () => -E.EIO! });
        r = rd(5n, 0, 2);
        server.handle(r, r.length, failing);
        assert.deepEqual(failing.replies.map((b) => decodeOutHeader(b)), [{ len: 16, error: -E.EIO!, unique: 5n }]);
      } finally {
        fs.closeSync(fd);
      }
    } finally {
      removeTempDir(dir);
    }
  });
});
