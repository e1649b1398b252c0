import { test } from 'node:test';
import assert from 'node:assert/strict';
import { constants } from 'node:os';
import type { Attr, Entry, StatxAttr } from '../src/fs/types.js';
import {
  COMPAT, EXPIRE_ONLY, FOPEN, GETATTR_FH, InitFlag, IOCTL, NotifyCode, Opcode, SIZE,
} from '../src/fuse/abi.js';
import {
  decodeAttr, decodeAttrOut, decodeCreateOut, decodeDirentPlus, decodeDirents, decodeEntryOut, decodeHeader,
  decodeInitOut, decodeIoctlOut, decodeLkOut, decodeNotify, decodeOpenOut, decodeOutHeader, decodeRequest,
  decodeStatfsOut, decodeStatxOut, direntPlusSize, direntSize, encodeNotifyDelete, encodeNotifyIncEpoch,
  encodeNotifyInvalEntry, encodeNotifyInvalInode, encodeNotifyPoll, encodeNotifyPrune, encodeNotifyResend,
  encodeNotifyRetrieve, encodeNotifyStore, encodeRequest, makeDev, ProtocolError, requestOpcode, setattrValid,
  writeAttr, writeAttrOut, writeBmapOut, writeCopyFileRangeOut64, writeCreateOut, writeDirent, writeDirentPlus,
  writeEntryOut, writeGetxattrOut, writeInitOut, writeIoctlIovec, writeIoctlOut, writeLkOut, writeLseekOut,
  writeOpenOut, writeOutHeader, writePollOut, writeStatfsOut, writeStatxOut, writeWriteOut,
} from '../src/fuse/codec.js';
import type { InitOut, Request, RequestExt } from '../src/fuse/codec.js';

const { EINVAL, ENOSYS } = constants.errno;
const B = (s: string) => Buffer.from(s);

// ---------------------------------------------------------------------------
// Fixtures

const CASES: Request[] = [
  { op: 'init', major: 7, minor: 45, maxReadahead: 131072, flags: InitFlag.INIT_EXT | InitFlag.ASYNC_READ | InitFlag.PASSTHROUGH | InitFlag.REQUEST_TIMEOUT | InitFlag.SETXATTR_EXT },
  { op: 'init', major: 7, minor: 12, maxReadahead: 4096, flags: InitFlag.ASYNC_READ | InitFlag.BIG_WRITES },
  { op: 'destroy' },
  { op: 'lookup', name: B('hello.txt') },
  { op: 'lookup', name: B('') },
  { op: 'forget', nlookup: 0xfedcba9876543210n },
  { op: 'batchForget', items: [{ node: 2n, nlookup: 1n }, { node: 3n, nlookup: 1n << 40n }, { node: 0xffffffffffffffffn, nlookup: 7n }] },
  { op: 'batchForget', items: [] },
  { op: 'getattr', getattrFlags: GETATTR_FH, fh: 77n },
  {
    op: 'setattr', valid: 0,
    set: {
      mode: 0o100644, uid: 1000, gid: 100, size: 2 ** 40 + 3, atime: { sec: -5, nsec: 1 }, mtime: { sec: 1700000000, nsec: 999999999 },
      ctime: { sec: 1, nsec: 2 }, fh: 9n, lockOwner: 0x1234567890n, killSuidgid: true,
    },
  },
  { op: 'setattr', valid: 0, set: { atime: 'now', mtime: 'now', killSuidgid: false } },
  { op: 'setattr', valid: 0, set: { size: 0, killSuidgid: false } },
  { op: 'readlink' },
  { op: 'symlink', name: B('link'), target: B('../some/where') },
  { op: 'mknod', mode: 0o20644, rdev: makeDev(1, 3), umask: 0o022, name: B('null') },
  { op: 'mkdir', mode: 0o755, umask: 0o077, name: B('dir') },
  { op: 'unlink', name: B('gone') },
  { op: 'rmdir', name: B('gonedir') },
  { op: 'rename', newDir: 5n, flags: 0, name: B('a'), newName: B('b') },
  { op: 'rename', newDir: 6n, flags: 2, name: B('x'), newName: B('yy') },
  { op: 'link', oldNode: 42n, newName: B('hard') },
  { op: 'open', flags: 0o100002, openFlags: 1 },
  { op: 'opendir', flags: 0o200000, openFlags: 0 },
  { op: 'read', fh: 3n, offset: 2 ** 40 + 5, size: 131072, readFlags: 2, lockOwner: 99n, flags: 0o2 },
  { op: 'write', fh: 4n, offset: 12345, size: 5, writeFlags: 3, lockOwner: 98n, flags: 0o1, data: B('abcde') },
  { op: 'write', fh: 4n, offset: 0, size: 0, writeFlags: 0, lockOwner: 0n, flags: 0, data: B('') },
  { op: 'statfs' },
  { op: 'release', fh: 8n, flags: 0o2, releaseFlags: 3, lockOwner: 11n },
  { op: 'releasedir', fh: 9n, flags: 0, releaseFlags: 0, lockOwner: 0n },
  { op: 'fsync', fh: 10n, fsyncFlags: 1 },
  { op: 'fsyncdir', fh: 11n, fsyncFlags: 0 },
  { op: 'setxattr', size: 4, flags: 1, setxattrFlags: 0, name: B('user.k'), value: B('v\0v\0') },
  { op: 'getxattr', size: 100, name: B('user.k') },
  { op: 'listxattr', size: 0 },
  { op: 'removexattr', name: B('user.k') },
  { op: 'flush', fh: 12n, lockOwner: 0xabcdefn },
  { op: 'readdir', fh: 13n, offset: 0xffffffffffffff00n, size: 4096 },
  { op: 'readdirplus', fh: 14n, offset: 3n, size: 8192 },
  { op: 'getlk', fh: 15n, owner: 16n, lock: { start: 0n, end: 0x7fffffffffffffffn, type: 1, pid: 1234 }, lkFlags: 0 },
  { op: 'setlk', fh: 15n, owner: 16n, lock: { start: 10n, end: 20n, type: 0, pid: 1 }, lkFlags: 1, sleep: false },
  { op: 'setlk', fh: 15n, owner: 16n, lock: { start: 10n, end: 20n, type: 2, pid: 1 }, lkFlags: 0, sleep: true },
  { op: 'access', mask: 7 },
  { op: 'create', flags: 0o100101, mode: 0o100600, umask: 0o022, openFlags: 1, name: B('new') },
  { op: 'interrupt', target: 0x8000000000000123n },
  { op: 'bmap', block: 1234567n, blocksize: 4096 },
  { op: 'ioctl', fh: 17n, flags: IOCTL.UNRESTRICTED, cmd: 0xc0045401, arg: 0x7ffd0000n, inSize: 3, outSize: 64, data: B('xyz') },
  { op: 'poll', fh: 18n, kh: 19n, flags: 1, events: 0x41 },
  { op: 'notifyReply', offset: 4096n, size: 3, data: B('pqr') },
  { op: 'fallocate', fh: 20n, offset: 4096, length: 2 ** 33, mode: 3 },
  { op: 'lseek', fh: 21n, offset: 100, whence: 3 },
  { op: 'copyFileRange', fhIn: 22n, offIn: 1, nodeOut: 23n, fhOut: 24n, offOut: 2, len: 2 ** 31, flags: 0, wide: false },
  { op: 'copyFileRange', fhIn: 22n, offIn: 1, nodeOut: 23n, fhOut: 24n, offOut: 2, len: 2 ** 45, flags: 0, wide: true },
  { op: 'setupmapping', fh: 25n, foffset: 1n << 21n, len: 1n << 21n, flags: 3n, moffset: 1n << 30n },
  { op: 'removemapping', count: 2, entries: [{ moffset: 0n, len: 4096n }, { moffset: 1n << 21n, len: 1n << 21n }] },
  { op: 'syncfs' },
  { op: 'tmpfile', flags: 0o20000002, mode: 0o100600, umask: 0o022, openFlags: 0 },
  { op: 'statx', getattrFlags: GETATTR_FH, fh: 26n, sxFlags: 0x800, sxMask: 0xfff },
];
for (const c of CASES) if (c.op === 'setattr') c.valid = setattrValid(c.set);

/** Zero what an older minor cannot carry. */
function compat(req: Request, minor: number): Request {
  const r = { ...req } as Request;
  if (minor < 9) {
    if (r.op === 'getattr') { r.getattrFlags = 0; r.fh = 0n; }
    if (r.op === 'read' || r.op === 'write') { r.lockOwner = 0n; r.flags = 0; }
    if (r.op === 'getlk' || r.op === 'setlk') r.lkFlags = 0;
  }
  if (minor < 8 && (r.op === 'release' || r.op === 'releasedir')) { r.releaseFlags = 0; r.lockOwner = 0n; }
  if (minor < 12) {
    if (r.op === 'mknod' || r.op === 'mkdir') r.umask = 0;
    if (r.op === 'create') { r.umask = 0; r.openFlags = 0; }
  }
  return r;
}

const H = { unique: 0x1122334455667788n, nodeid: 1n, uid: 1000, gid: 1000, pid: 4242 };

function roundTrip(req: Request, minor: number, ext?: RequestExt, setxattrExt = false) {
  const opcode = requestOpcode(req);
  const buf = encodeRequest({ ...H, opcode }, req, minor, ext, { setxattrExt });
  const d = decodeRequest(buf, buf.length, minor, { setxattrExt });
  const extLen = buf.readUInt16LE(36) * 8;
  assert.deepStrictEqual(d.header, { ...H, opcode, len: buf.length, extLen }, `${req.op}@${minor}`);
  assert.deepStrictEqual(d.req, req, `${req.op}@${minor}`);
  assert.deepStrictEqual({ ...d.ext }, ext ?? {}, `${req.op}@${minor} ext`);
  return { buf, d };
}

// ---------------------------------------------------------------------------
// Requests

test('every opcode is covered by the fixtures', () => {
  const seen = new Set(CASES.map(requestOpcode));
  for (const [name, n] of Object.entries(Opcode)) {
    if (n === Opcode.CUSE_INIT) continue;
    assert.ok(seen.has(n), `no fixture for ${name}`);
  }
});

test('requests round-trip at every layout-changing minor', () => {
  for (const minor of [7, 8, 9, 11, 12, 23, 36, 44, 45]) {
    for (const c of CASES) roundTrip(compat(c, minor), minor);
  }
});

test('setxattr with and without SETXATTR_EXT', () => {
  const req: Request = { op: 'setxattr', size: 3, flags: 2, setxattrFlags: 1, name: B('system.posix_acl_access'), value: B('abc') };
  const { buf } = roundTrip(req, 45, undefined, true);
  assert.equal(buf.length, 40 + 16 + 24 + 3);
  const plain = roundTrip({ ...req, setxattrFlags: 0 }, 45, undefined, false);
  assert.equal(plain.buf.length, 40 + 8 + 24 + 3);
});

test('compat body sizes', () => {
  const size = (req: Request, minor: number) =>
    encodeRequest({ ...H, opcode: requestOpcode(req) }, compat(req, minor), minor).length - 40;
  const find = (op: string) => CASES.find((c) => c.op === op)!;
  assert.equal(size(find('read'), 8), COMPAT.READ_IN_SIZE);
  assert.equal(size(find('read'), 9), SIZE.READ_IN);
  assert.equal(size(find('write'), 8), COMPAT.WRITE_IN_SIZE + 5);
  assert.equal(size(find('write'), 45), SIZE.WRITE_IN + 5);
  assert.equal(size(find('getattr'), 8), 0);
  assert.equal(size(find('getattr'), 9), 16);
  assert.equal(size(find('getlk'), 8), COMPAT.LK_IN_SIZE);
  assert.equal(size(find('getlk'), 9), 48);
  assert.equal(size(find('release'), 7), COMPAT.RELEASE_IN_SIZE);
  assert.equal(size(find('release'), 8), 24);
  assert.equal(size(find('mknod'), 11), COMPAT.MKNOD_IN_SIZE + 5);
  assert.equal(size(find('mknod'), 12), 16 + 5);
  assert.equal(size(find('create'), 11), COMPAT.CREATE_IN_SIZE + 4);
  assert.equal(size(find('create'), 12), 16 + 4);
  assert.equal(size(find('setattr'), 45), SIZE.SETATTR_IN);
  assert.equal(size(CASES[0]!, 45), SIZE.INIT_IN);
  assert.equal(size(CASES[1]!, 45), COMPAT.INIT_IN_SIZE);
});

test('a modern kernel layout decodes at an old minor', () => {
  // Current kernels send the full fuse_read_in / fuse_getattr_in even to 7.8 servers.
  const read = CASES.find((c) => c.op === 'read')!;
  const buf = encodeRequest({ ...H, opcode: Opcode.READ }, read, 45);
  assert.deepStrictEqual(decodeRequest(buf, buf.length, 8).req, compat(read, 8));
  const ga = CASES.find((c) => c.op === 'getattr')!;
  const gbuf = encodeRequest({ ...H, opcode: Opcode.GETATTR }, ga, 45);
  assert.deepStrictEqual(decodeRequest(gbuf, gbuf.length, 8).req, compat(ga, 8));
});

test('extensions: security context and supplementary group', () => {
  const secctx = { name: 'security.selinux', value: B('unconfined_u:object_r:user_tmp_t:s0\0') };
  const create = CASES.find((c) => c.op === 'create')!;
  const { buf } = roundTrip(create, 45, { secctx, suppGroup: 4321 });
  const extLen = buf.readUInt16LE(36) * 8;
  assert.ok(extLen > 0 && extLen % 8 === 0);
  roundTrip(CASES.find((c) => c.op === 'mkdir')!, 45, { suppGroup: 7 });
  roundTrip(CASES.find((c) => c.op === 'symlink')!, 45, { secctx });
  roundTrip(CASES.find((c) => c.op === 'tmpfile')!, 45, { secctx, suppGroup: 0 });
  // An empty secctx header (nr_secctx 0, as sent when no LSM labels the file).
  const base = encodeRequest({ ...H, opcode: Opcode.MKDIR }, CASES.find((c) => c.op === 'mkdir')!, 45);
  const withEmpty = Buffer.concat([base, Buffer.from([8, 0, 0, 0, 0, 0, 0, 0])]);
  withEmpty.writeUInt32LE(withEmpty.length, 0);
  withEmpty.writeUInt16LE(1, 36);
  assert.deepStrictEqual({ ...decodeRequest(withEmpty, withEmpty.length, 45).ext }, {});
  // Unknown extension types are skipped.
  const unknown = Buffer.concat([base, Buffer.from([16, 0, 0, 0, 99, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8])]);
  unknown.writeUInt32LE(unknown.length, 0);
  unknown.writeUInt16LE(2, 36);
  assert.deepStrictEqual({ ...decodeRequest(unknown, unknown.length, 45).ext }, {});
});

test('names and payloads are views into the read buffer, NUL after names', () => {
  const big = Buffer.alloc(4096, 0xaa);
  for (const c of CASES) {
    const enc = encodeRequest({ ...H, opcode: requestOpcode(c) }, c, 45);
    enc.copy(big);
    const d = decodeRequest(big, enc.length, 45);
    assert.deepStrictEqual(d.req, c);
    for (const [k, v] of Object.entries(d.req)) {
      if (!Buffer.isBuffer(v)) continue;
      assert.equal(v.buffer, big.buffer, `${c.op}.${k} is a view`);
      assert.ok(v.byteOffset + v.length <= big.byteOffset + enc.length);
      if (k === 'name' || k === 'newName' || k === 'target') {
        assert.equal(big[v.byteOffset - big.byteOffset + v.length], 0, `${c.op}.${k} NUL`);
      }
    }
  }
});

function expectErr(fn: () => unknown, errno: number, what: string) {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof ProtocolError, `${what}: ${String(e)}`);
    assert.equal(e.errno, errno, `${what}: ${e.message}`);
    return true;
  });
}

test('malformed requests', () => {
  const enc = (req: Request, minor = 45) => encodeRequest({ ...H, opcode: requestOpcode(req) }, req, minor);
  const dec = (b: Buffer, minor = 45) => () => decodeRequest(b, b.length, minor);
  const fix = (b: Buffer) => { b.writeUInt32LE(b.length, 0); return b; };

  expectErr(() => decodeRequest(Buffer.alloc(39), 39, 45), EINVAL, 'short header');
  expectErr(() => decodeRequest(Buffer.alloc(100), 0, 45), EINVAL, 'zero length');
  expectErr(() => decodeRequest(Buffer.alloc(40), 41, 45), EINVAL, 'len beyond buffer');
  expectErr(() => decodeHeader(Buffer.alloc(20), 20), EINVAL, 'decodeHeader short');

  const lookup = enc({ op: 'lookup', name: B('abc') });
  const mism = Buffer.from(lookup);
  mism.writeUInt32LE(lookup.length + 1, 0);
  expectErr(dec(mism), EINVAL, 'header.len mismatch');
  // The session can still answer it.
  assert.equal(decodeHeader(mism, mism.length).unique, H.unique);

  const noNul = fix(Buffer.from(lookup.subarray(0, lookup.length - 1)));
  expectErr(dec(noNul), EINVAL, 'name without NUL');

  const w = enc({ op: 'write', fh: 1n, offset: 0, size: 4, writeFlags: 0, lockOwner: 0n, flags: 0, data: B('abcd') });
  w.writeUInt32LE(5, 40 + 16);
  expectErr(dec(w), EINVAL, 'write size beyond payload');
  const wOld = enc({ op: 'write', fh: 1n, offset: 0, size: 4, writeFlags: 0, lockOwner: 0n, flags: 0, data: B('abcd') }, 8);
  wOld.writeUInt32LE(5, 40 + 16);
  expectErr(dec(wOld, 8), EINVAL, 'compat write size beyond payload');

  const bf = enc({ op: 'batchForget', items: [{ node: 2n, nlookup: 1n }] });
  bf.writeUInt32LE(2, 40);
  expectErr(dec(bf), EINVAL, 'batch_forget count too big');
  bf.writeUInt32LE(0xffffffff, 40);
  expectErr(dec(bf), EINVAL, 'batch_forget count huge');

  const sx = enc({ op: 'setxattr', size: 3, flags: 0, setxattrFlags: 0, name: B('user.a'), value: B('abc') });
  sx.writeUInt32LE(4, 40);
  expectErr(dec(sx), EINVAL, 'setxattr size mismatch');

  const sym = fix(enc({ op: 'lookup', name: B('only') }));
  sym.writeUInt32LE(Opcode.SYMLINK, 4);
  expectErr(dec(sym), EINVAL, 'symlink with one name');
  const ren = fix(enc({ op: 'link', oldNode: 1n, newName: B('one') }));
  ren.writeUInt32LE(Opcode.RENAME, 4);
  expectErr(dec(ren), EINVAL, 'rename with one name');

  const io = enc({ op: 'ioctl', fh: 1n, flags: 0, cmd: 1, arg: 0n, inSize: 2, outSize: 0, data: B('ab') });
  io.writeUInt32LE(3, 40 + 24);
  expectErr(dec(io), EINVAL, 'ioctl in_size');

  const rm = enc({ op: 'removemapping', count: 1, entries: [{ moffset: 0n, len: 1n }] });
  rm.writeUInt32LE(2, 40);
  expectErr(dec(rm), EINVAL, 'removemapping count');

  const nr = enc({ op: 'notifyReply', offset: 0n, size: 3, data: B('abc') });
  nr.writeUInt32LE(4, 40 + 16);
  expectErr(dec(nr), EINVAL, 'notify_reply size');

  // Fixed structs cut short.
  for (const c of CASES) {
    const b = enc(c);
    const fixed: Record<string, number> = { forget: 8, getattr: 16, setattr: 88, read: 40, write: 40, release: 24, fsync: 16, flush: 24, getlk: 48, setlk: 48, access: 8, interrupt: 8, bmap: 16, ioctl: 32, poll: 24, fallocate: 32, lseek: 24, copyFileRange: 56, setupmapping: 40, syncfs: 8, tmpfile: 16, statx: 24, open: 8, opendir: 8, listxattr: 8 };
    const n = fixed[c.op];
    if (n === undefined) continue;
    const cut = fix(Buffer.from(b.subarray(0, 40 + n - 1)));
    expectErr(dec(cut), EINVAL, `short ${c.op}`);
  }

  // Extension area.
  const big = Buffer.from(lookup);
  big.writeUInt16LE(10, 36);
  expectErr(dec(big), EINVAL, 'ext larger than request');
  const mk = enc(CASES.find((c) => c.op === 'mkdir')!);
  const withExt = (ext: number[]) => {
    const b = Buffer.concat([mk, Buffer.from(ext)]);
    b.writeUInt32LE(b.length, 0);
    b.writeUInt16LE(ext.length / 8, 36);
    return b;
  };
  expectErr(dec(withExt([0, 0, 0, 0, 32, 0, 0, 0])), EINVAL, 'ext size 0');
  expectErr(dec(withExt([24, 0, 0, 0, 32, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])), EINVAL, 'ext size beyond area');
  expectErr(dec(withExt([12, 0, 0, 0, 32, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])), EINVAL, 'ext size unaligned');
  expectErr(dec(withExt([16, 0, 0, 0, 32, 0, 0, 0, 2, 0, 0, 0, 5, 0, 0, 0])), EINVAL, 'groups count');
  expectErr(dec(withExt([16, 0, 0, 0, 1, 0, 0, 0, 200, 0, 0, 0, 0, 0, 0, 0])), EINVAL, 'secctx truncated');

  for (const op of [0, 7, 19, 54, 55, 4095, Opcode.CUSE_INIT, 0xffffffff]) {
    const b = Buffer.from(lookup);
    b.writeUInt32LE(op, 4);
    expectErr(dec(b), ENOSYS, `opcode ${op}`);
  }
});

// ---------------------------------------------------------------------------
// Replies

function attr(seed: number): Attr {
  return {
    ino: 0x100000000n + BigInt(seed), size: 2 ** 50 + seed, blocks: 8 * seed, atime: 1700000000 + seed, atimeNsec: 1,
    mtime: -1 - seed, mtimeNsec: 999999999, ctime: 0, ctimeNsec: 123, mode: 0o100644, nlink: 2, uid: 1000,
    gid: 100, rdev: makeDev(8, 17), blksize: 4096, flags: 1,
  };
}
function entry(seed: number): Entry {
  return { nodeid: 10n + BigInt(seed), generation: 5n, attr: attr(seed), entryTimeout: 1.5, attrTimeout: 3600.25 };
}

/** Encode into a zeroed and a 0xff-filled buffer: the results must match (padding is written). */
function encodeBoth(fn: (buf: Buffer) => number, size = 1024): Buffer {
  const a = Buffer.alloc(size, 0);
  const b = Buffer.alloc(size, 0xff);
  const na = fn(a);
  const nb = fn(b);
  assert.equal(na, nb);
  assert.deepStrictEqual(a.subarray(0, na), b.subarray(0, nb), 'encoder leaves stale bytes');
  return a.subarray(0, na);
}

test('out header, attr, entry, attr_out round trip with compat sizes', () => {
  const h = encodeBoth((b) => writeOutHeader(b, 1234, -2, 77n));
  assert.equal(h.length, 16);
  assert.deepStrictEqual(decodeOutHeader(h), { len: 1234, error: -2, unique: 77n });

  const a = encodeBoth((b) => writeAttr(b, 0, attr(1)));
  assert.equal(a.length, SIZE.ATTR);
  assert.deepStrictEqual(decodeAttr(a, 0), attr(1));

  const e = encodeBoth((b) => writeEntryOut(b, 0, entry(2), 45));
  assert.equal(e.length, 128);
  assert.deepStrictEqual(decodeEntryOut(e, 0, 45), entry(2));
  const eOld = encodeBoth((b) => writeEntryOut(b, 0, entry(2), 8));
  assert.equal(eOld.length, COMPAT.ENTRY_OUT_SIZE);
  assert.deepStrictEqual(decodeEntryOut(eOld, 0, 8), { ...entry(2), attr: { ...attr(2), blksize: 0, flags: 0 } });

  const ao = encodeBoth((b) => writeAttrOut(b, 0, 0.5, attr(3), 45));
  assert.equal(ao.length, 104);
  assert.deepStrictEqual(decodeAttrOut(ao, 0, 45), { timeout: 0.5, attr: attr(3) });
  const aoOld = encodeBoth((b) => writeAttrOut(b, 0, 0.5, attr(3), 8));
  assert.equal(aoOld.length, COMPAT.ATTR_OUT_SIZE);
});

test('timeouts: float seconds split, clamped', () => {
  const t = (v: number) => {
    const b = encodeBoth((buf) => writeAttrOut(buf, 0, v, attr(0), 45));
    return [b.readBigUInt64LE(0), b.readUInt32LE(8)];
  };
  assert.deepStrictEqual(t(1.25), [1n, 250000000]);
  assert.deepStrictEqual(t(0.1), [0n, 100000000]);
  assert.deepStrictEqual(t(-3), [0n, 0]);
  assert.deepStrictEqual(t(NaN), [0n, 0]);
  assert.deepStrictEqual(t(Infinity), [0xffffffffffffffffn, 0]);
  assert.deepStrictEqual(t(0.9999999999), [0n, 999999999]);
  assert.deepStrictEqual(t(2 ** 40), [1n << 40n, 0]);
});

test('open, create, statfs, small replies', () => {
  const o = encodeBoth((b) => writeOpenOut(b, 0, { fh: 5n, openFlags: FOPEN.KEEP_CACHE }));
  assert.equal(o.length, 16);
  assert.deepStrictEqual(decodeOpenOut(o, 0), { fh: 5n, openFlags: FOPEN.KEEP_CACHE });
  const pt = { fh: 6n, openFlags: FOPEN.PASSTHROUGH | FOPEN.DIRECT_IO, backingId: 3 };
  assert.deepStrictEqual(decodeOpenOut(encodeBoth((b) => writeOpenOut(b, 0, pt)), 0), pt);

  const c = encodeBoth((b) => writeCreateOut(b, 0, entry(4), pt, 45));
  assert.equal(c.length, 144);
  assert.deepStrictEqual(decodeCreateOut(c, 0, 45), { entry: entry(4), open: pt });
  assert.equal(encodeBoth((b) => writeCreateOut(b, 0, entry(4), pt, 8)).length, 136);

  const st = { blocks: 2 ** 40, bfree: 2 ** 39, bavail: 2 ** 38, files: 1e6, ffree: 5e5, bsize: 4096, namelen: 255, frsize: 4096 };
  const s = encodeBoth((b) => writeStatfsOut(b, 0, st, 45));
  assert.equal(s.length, 80);
  assert.deepStrictEqual(decodeStatfsOut(s, 0), st);
  const sOld = encodeBoth((b) => writeStatfsOut(b, 0, st, 3));
  assert.equal(sOld.length, COMPAT.STATFS_SIZE);
  assert.deepStrictEqual(decodeStatfsOut(sOld, 0, 3), { ...st, frsize: 0 });

  const u32out = (fn: (b: Buffer) => number, v: number) => {
    const b = encodeBoth(fn);
    assert.equal(b.length, 8);
    assert.equal(b.readUInt32LE(0), v);
    assert.equal(b.readUInt32LE(4), 0);
  };
  u32out((b) => writeWriteOut(b, 0, 131072), 131072);
  u32out((b) => writeGetxattrOut(b, 0, 77), 77);
  u32out((b) => writePollOut(b, 0, 0x41), 0x41);

  const lock = { start: 5n, end: 0x7fffffffffffffffn, type: 1, pid: 999 };
  const lk = encodeBoth((b) => writeLkOut(b, 0, lock));
  assert.equal(lk.length, 24);
  assert.deepStrictEqual(decodeLkOut(lk, 0), lock);

  assert.equal(encodeBoth((b) => writeBmapOut(b, 0, 99n)).readBigUInt64LE(0), 99n);
  assert.equal(encodeBoth((b) => writeLseekOut(b, 0, 2 ** 41)).readBigUInt64LE(0), 1n << 41n);
  const cfr = encodeBoth((b) => writeCopyFileRangeOut64(b, 0, 2 ** 33 + 1));
  assert.equal(cfr.length, 8);
  assert.equal(cfr.readBigUInt64LE(0), (1n << 33n) + 1n);

  const io = encodeBoth((b) => writeIoctlOut(b, 0, -22, IOCTL.RETRY, 1, 2));
  assert.equal(io.length, 16);
  assert.deepStrictEqual(decodeIoctlOut(io, 0), { result: -22, flags: IOCTL.RETRY, inIovs: 1, outIovs: 2 });
  const iov = encodeBoth((b) => writeIoctlIovec(b, 0, 0x7ffe0000n, 64));
  assert.equal(iov.length, 16);
  assert.equal(iov.readBigUInt64LE(8), 64n);
});

test('statx_out round trip', () => {
  const sx: StatxAttr = {
    ...attr(7), flags: 0, mode: 0o20620, mask: 0x17ff, btime: 1600000000, btimeNsec: 42,
    attributes: 0x20n, attributesMask: 0x3074n, devMajor: 259, devMinor: 3, rdev: makeDev(136, 4),
  };
  const b = encodeBoth((buf) => writeStatxOut(buf, 0, 2.5, 1, sx));
  assert.equal(b.length, SIZE.STATX_OUT);
  assert.equal(b.readUInt32LE(32 + 128), 136);
  assert.equal(b.readUInt32LE(32 + 132), 4);
  assert.deepStrictEqual(decodeStatxOut(b, 0), { timeout: 2.5, flags: 1, attr: sx });
});

test('init_out: compat sizes and flags2 split', () => {
  const o: InitOut = {
    major: 7, minor: 45, maxReadahead: 131072,
    flags: InitFlag.INIT_EXT | InitFlag.ASYNC_READ | InitFlag.PASSTHROUGH | InitFlag.REQUEST_TIMEOUT,
    maxBackground: 64, congestionThreshold: 48, maxWrite: 1 << 20, timeGran: 1, maxPages: 256,
    mapAlignment: 0, maxStackDepth: 1, requestTimeout: 30,
  };
  const full = encodeBoth((b) => writeInitOut(b, 0, o, 45));
  assert.equal(full.length, 64);
  assert.equal(full.readUInt32LE(12), Number(o.flags & 0xffffffffn));
  assert.equal(full.readUInt32LE(32), Number(o.flags >> 32n));
  assert.deepStrictEqual(decodeInitOut(full, 0, 64), o);
  const mid = encodeBoth((b) => writeInitOut(b, 0, o, 22));
  assert.equal(mid.length, 24);
  assert.deepStrictEqual(decodeInitOut(mid, 0, 24), {
    ...o, flags: o.flags & 0xffffffffn, timeGran: 0, maxPages: 0, maxStackDepth: 0, requestTimeout: 0,
  });
  assert.equal(encodeBoth((b) => writeInitOut(b, 0, o, 4)).length, 8);
});

test('dirents: aligned, zero padded, round trip', () => {
  const names = ['.', '..', 'a', 'abcdefg', 'abcdefgh', 'abcdefghi', 'x'.repeat(255)];
  const buf = encodeBoth((b) => {
    let off = 0;
    names.forEach((n, i) => {
      const next = writeDirent(b, off, BigInt(i + 100), BigInt(i + 1), i % 15, B(n));
      assert.equal(next - off, direntSize(n.length));
      assert.equal((next - off) % 8, 0);
      off = next;
    });
    return off;
  }, 8192);
  assert.equal(direntSize(1), 32);
  assert.equal(direntSize(8), 32);
  assert.equal(direntSize(9), 40);
  const d = decodeDirents(buf);
  assert.deepStrictEqual(d.map((x) => x.name.toString()), names);
  d.forEach((x, i) => {
    assert.equal(x.ino, BigInt(i + 100));
    assert.equal(x.off, BigInt(i + 1));
    assert.equal(x.type, i % 15);
  });

  const plus = encodeBoth((b) => {
    let off = 0;
    names.forEach((n, i) => {
      const next = writeDirentPlus(b, off, entry(i), BigInt(i + 1), 8, B(n));
      assert.equal(next - off, direntPlusSize(n.length));
      off = next;
    });
    return off;
  }, 8192);
  assert.equal(direntPlusSize(1), 160);
  const dp = decodeDirentPlus(plus);
  assert.equal(dp.length, names.length);
  dp.forEach((x, i) => {
    assert.deepStrictEqual(x.entry, entry(i));
    assert.equal(x.ino, entry(i).attr.ino);
    assert.equal(x.name.toString(), names[i]);
    assert.equal(x.off, BigInt(i + 1));
  });
});

test('notifications: layouts and round trip', () => {
  const chk = (fn: (b: Buffer) => number, len: number, code: number) => {
    const b = encodeBoth(fn);
    assert.equal(b.length, len);
    assert.deepStrictEqual(decodeOutHeader(b), { len, error: code, unique: 0n });
    return decodeNotify(b);
  };
  assert.deepStrictEqual(chk((b) => encodeNotifyPoll(b, 9n), 24, NotifyCode.POLL), { kind: 'poll', kh: 9n });
  assert.deepStrictEqual(chk((b) => encodeNotifyInvalInode(b, 5n, -1n, 0n), 40, NotifyCode.INVAL_INODE), { kind: 'invalInode', ino: 5n, off: -1n, len: 0n });
  assert.deepStrictEqual(chk((b) => encodeNotifyInvalEntry(b, 1n, B('name'), EXPIRE_ONLY), 16 + 16 + 5, NotifyCode.INVAL_ENTRY), { kind: 'invalEntry', parent: 1n, name: B('name'), flags: EXPIRE_ONLY });
  assert.deepStrictEqual(chk((b) => encodeNotifyDelete(b, 1n, 7n, B('gone')), 16 + 24 + 5, NotifyCode.DELETE), { kind: 'delete', parent: 1n, child: 7n, name: B('gone') });
  assert.deepStrictEqual(chk((b) => encodeNotifyStore(b, 3n, 4096n, B('data!')), 16 + 24 + 5, NotifyCode.STORE), { kind: 'store', node: 3n, offset: 4096n, data: B('data!') });
  assert.deepStrictEqual(chk((b) => encodeNotifyRetrieve(b, 77n, 3n, 0n, 8192), 48, NotifyCode.RETRIEVE), { kind: 'retrieve', notifyUnique: 77n, node: 3n, offset: 0n, size: 8192 });
  assert.deepStrictEqual(chk((b) => encodeNotifyResend(b), 16, NotifyCode.RESEND), { kind: 'resend' });
  assert.deepStrictEqual(chk((b) => encodeNotifyIncEpoch(b), 16, NotifyCode.INC_EPOCH), { kind: 'incEpoch' });
  assert.deepStrictEqual(chk((b) => encodeNotifyPrune(b, [2n, 3n, 1n << 60n]), 16 + 16 + 24, NotifyCode.PRUNE), { kind: 'prune', nodes: [2n, 3n, 1n << 60n] });
  assert.deepStrictEqual(chk((b) => encodeNotifyPrune(b, []), 32, NotifyCode.PRUNE), { kind: 'prune', nodes: [] });
});

// ---------------------------------------------------------------------------
// Fuzz

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

test('decoder fuzz: only ProtocolError escapes, every >= 40-byte message is answerable', () => {
  const seed = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : (Date.now() ^ (process.pid << 16)) >>> 0;
  const rnd = mulberry32(seed);
  const int = (n: number) => Math.floor(rnd() * n);
  const minors = [7, 8, 9, 11, 12, 23, 36, 45];
  const secctx = { name: 'security.selinux', value: B('label\0') };
  const valid: { buf: Buffer; minor: number; xext: boolean }[] = [];
  for (const minor of minors) {
    for (const c of CASES) {
      const r = compat(c, minor);
      const ext = int(4) === 0 ? { secctx, suppGroup: 5 } : undefined;
      const xext = int(2) === 0;
      valid.push({ buf: encodeRequest({ ...H, opcode: requestOpcode(r) }, r, minor, ext, { setxattrExt: xext }), minor, xext });
    }
  }
  const opcodes = [...Object.values(Opcode), 0, 7, 19, 54, 99];
  const scratch = Buffer.alloc(70000);
  const N = 100_000;
  let ok = 0;
  let rejected = 0;
  let i = 0;
  try {
    for (; i < N; i++) {
      let msg: Buffer;
      let minor = minors[int(minors.length)]!;
      let xext = int(2) === 0;
      switch (i % 4) {
        case 0: { // random bytes, sometimes with a self-consistent len
          msg = Buffer.alloc(int(300));
          for (let j = 0; j < msg.length; j++) msg[j] = int(256);
          if (msg.length >= 40 && int(2) === 0) {
            msg.writeUInt32LE(msg.length, 0);
            msg.writeUInt16LE(int(4) === 0 ? int(40) : 0, 36);
          }
          break;
        }
        case 1: { // valid request truncated
          const v = valid[int(valid.length)]!;
          minor = v.minor;
          xext = v.xext;
          msg = Buffer.from(v.buf.subarray(0, int(v.buf.length + 1)));
          if (msg.length >= 40 && int(4) !== 0) msg.writeUInt32LE(msg.length, 0);
          if (msg.length >= 40 && int(3) === 0) msg.writeUInt16LE(0, 36);
          break;
        }
        case 2: { // valid request with byte flips
          const v = valid[int(valid.length)]!;
          minor = v.minor;
          xext = v.xext;
          msg = Buffer.from(v.buf);
          const flips = 1 + int(4);
          for (let f = 0; f < flips; f++) {
            const at = int(4) === 0 ? int(msg.length) : 40 + int(Math.max(1, msg.length - 40));
            if (at < msg.length) msg[at] = int(256);
          }
          if (int(2) === 0) msg.writeUInt32LE(msg.length, 0);
          break;
        }
        default: { // plausible header, random opcode and body
          msg = Buffer.alloc(40 + int(200));
          for (let j = 40; j < msg.length; j++) msg[j] = int(4) === 0 ? 0 : int(256);
          msg.writeUInt32LE(msg.length, 0);
          msg.writeUInt32LE(opcodes[int(opcodes.length)]!, 4);
          msg.writeBigUInt64LE(BigInt(i + 1), 8);
          msg.writeUInt16LE(int(3) === 0 ? int(1 + (msg.length - 40) / 8) : 0, 36);
          break;
        }
      }
      // Half the time decode from a reused, larger buffer with garbage after the message.
      let buf = msg;
      if (int(2) === 0) {
        buf = scratch.subarray(0, msg.length + int(64));
        buf.fill(0xa5, msg.length);
        msg.copy(buf);
      }
      try {
        const d = decodeRequest(buf, msg.length, minor, { setxattrExt: xext });
        ok++;
        for (const v of Object.values(d.req)) {
          if (Buffer.isBuffer(v)) {
            assert.ok(v.byteOffset >= buf.byteOffset + 40 && v.byteOffset + v.length <= buf.byteOffset + msg.length, 'view out of bounds');
          }
        }
      } catch (e) {
        if (!(e instanceof ProtocolError)) throw e;
        assert.ok(Number.isInteger(e.errno) && e.errno > 0, `errno ${e.errno}`);
        rejected++;
      }
      if (msg.length >= 40) {
        const h = decodeHeader(buf, msg.length);
        assert.equal(typeof h.unique, 'bigint');
      }
    }
  } catch (e) {
    console.error(`codec fuzz failed at message ${i}; reproduce with FUZZ_SEED=${seed}`);
    throw e;
  }
  assert.ok(ok > 1000 && rejected > 1000, `ok ${ok} rejected ${rejected} (seed ${seed})`);
});
