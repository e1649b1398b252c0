/**
 * Decoding: requests the kernel sends (hot path), and, for tests and clients,
 * the replies and notifications a server sends.
 */
import { constants } from 'node:os';
import { ViewCache } from '../sys/util.js';
import type {
  Attr, AttrReply, Entry, FileLock, OpenReply, SetAttrIn, StatFs, StatxAttr,
} from '../fs/types.js';
import {
  COMPAT, ExtType, FATTR, FOPEN, IN_HEADER_SIZE, InitFlag, NotifyCode, Opcode, OUT_HEADER_SIZE, SIZE,
} from './abi.js';
import { ProtocolError } from './request.js';
import type { DecodedRequest, InHeader, Request, RequestExt } from './request.js';
import type { InitOut } from './encode.js';

const EINVAL = constants.errno.EINVAL;
const ENOSYS = constants.errno.ENOSYS;
const TWO32 = 4294967296;
const INIT_EXT = Number(InitFlag.INIT_EXT);

export interface DecodeOptions {
  /** The session negotiated FUSE_SETXATTR_EXT: fuse_setxattr_in is 16 bytes. */
  setxattrExt?: boolean;
}

/** Shared by every request without extensions; frozen so no one writes into it. */
const NO_EXT: RequestExt = Object.freeze({});

function fail(errno: number, message: string): never {
  // Malformed input is answered, not debugged: skip the stack capture.
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  const e = new ProtocolError(errno, message);
  Error.stackTraceLimit = limit;
  throw e;
}

const views = new ViewCache();
const view = (buf: Buffer): DataView => views.of(buf);

function u16(v: DataView, off: number): number {
  return v.getUint16(off, true);
}
function u32(v: DataView, off: number): number {
  return v.getUint32(off, true);
}
function i32(v: DataView, off: number): number {
  return v.getInt32(off, true);
}
function big(v: DataView, off: number): bigint {
  return v.getBigUint64(off, true);
}
/** Unsigned 64-bit field as a number (exact below 2^53). */
function u64(v: DataView, off: number): number {
  return v.getUint32(off, true) + v.getUint32(off + 4, true) * TWO32;
}
/** Signed 64-bit field (timestamps) as a number. */
function s64(v: DataView, off: number): number {
  return v.getUint32(off, true) + v.getInt32(off + 4, true) * TWO32;
}

/** Index of the NUL ending the string at `start`, which must lie before `end`. */
function nul(buf: Buffer, start: number, end: number, op: string): number {
  for (let i = start; i < end; i++) if (buf[i] === 0) return i;
  fail(EINVAL, `${op}: name not NUL-terminated`);
}

/**
 * Parse struct fuse_in_header. Needs only 40 bytes, validates nothing else:
 * the session uses it to answer requests decodeRequest rejects.
 */
export function decodeHeader(buf: Buffer, len: number): InHeader {
  const v = view(buf);
  if (!(len >= IN_HEADER_SIZE) || buf.length < IN_HEADER_SIZE) fail(EINVAL, `request of ${len} bytes is shorter than its header`);
  return {
    len: u32(v, 0),
    opcode: u32(v, 4),
    unique: big(v, 8),
    nodeid: big(v, 16),
    uid: u32(v, 24),
    gid: u32(v, 28),
    pid: u32(v, 32),
    extLen: u16(v, 36) * 8,
  };
}

/**
 * Decode one request from the first `len` bytes of `buf` (a reused read
 * buffer). `minor` is the negotiated protocol minor (use
 * FUSE_KERNEL_MINOR_VERSION before INIT; INIT itself is decoded from its own
 * contents). Names, payloads and xattr values are views into `buf`; each name
 * is followed in `buf` by its NUL. Throws only ProtocolError: EINVAL for
 * malformed input, ENOSYS for unknown opcodes.
 */
export function decodeRequest(buf: Buffer, len: number, minor: number, opts?: DecodeOptions): DecodedRequest {
  const v = view(buf);
  if (!(len >= IN_HEADER_SIZE)) fail(EINVAL, `request of ${len} bytes is shorter than its header`);
  if (!(len <= buf.length)) fail(EINVAL, `request length ${len} exceeds buffer of ${buf.length}`);
  const header = decodeHeader(buf, len);
  if (header.len !== len) fail(EINVAL, `header says ${header.len} bytes, read returned ${len}`);
  const end = len - header.extLen;
  if (end < IN_HEADER_SIZE) fail(EINVAL, `extension area of ${header.extLen} bytes exceeds request`);
  const p = IN_HEADER_SIZE;
  const body = end - p;
  let req: Request;

  switch (header.opcode) {
    case Opcode.LOOKUP: {
      const z = nul(buf, p, end, 'LOOKUP');
      req = { op: 'lookup', name: buf.subarray(p, z) };
      break;
    }
    case Opcode.FORGET:
      if (body < 8) short('FORGET');
      req = { op: 'forget', nlookup: big(v, p) };
      break;
    case Opcode.GETATTR:
      // Before 7.9 GETATTR had no body.
      if (minor < 9) {
        req = { op: 'getattr', getattrFlags: 0, fh: 0n };
      } else {
        if (body < 16) short('GETATTR');
        req = { op: 'getattr', getattrFlags: u32(v, p), fh: big(v, p + 8) };
      }
      break;
    case Opcode.SETATTR:
      if (body < SIZE.SETATTR_IN) short('SETATTR');
      req = decodeSetattr(buf, p);
      break;
    case Opcode.READLINK:
      req = { op: 'readlink' };
      break;
    case Opcode.SYMLINK: {
      const z1 = nul(buf, p, end, 'SYMLINK');
      const z2 = nul(buf, z1 + 1, end, 'SYMLINK');
      req = { op: 'symlink', name: buf.subarray(p, z1), target: buf.subarray(z1 + 1, z2) };
      break;
    }
    case Opcode.MKNOD: {
      const hs = minor < 12 ? COMPAT.MKNOD_IN_SIZE : 16;
      if (body < hs) short('MKNOD');
      const z = nul(buf, p + hs, end, 'MKNOD');
      req = {
        op: 'mknod', mode: u32(v, p), rdev: u32(v, p + 4),
        umask: minor < 12 ? 0 : u32(v, p + 8), name: buf.subarray(p + hs, z),
      };
      break;
    }
    case Opcode.MKDIR: {
      if (body < 8) short('MKDIR');
      const z = nul(buf, p + 8, end, 'MKDIR');
      req = {
        op: 'mkdir', mode: u32(v, p), umask: minor < 12 ? 0 : u32(v, p + 4),
        name: buf.subarray(p + 8, z),
      };
      break;
    }
    case Opcode.UNLINK: {
      const z = nul(buf, p, end, 'UNLINK');
      req = { op: 'unlink', name: buf.subarray(p, z) };
      break;
    }
    case Opcode.RMDIR: {
      const z = nul(buf, p, end, 'RMDIR');
      req = { op: 'rmdir', name: buf.subarray(p, z) };
      break;
    }
    case Opcode.RENAME:
    case Opcode.RENAME2: {
      const v2 = header.opcode === Opcode.RENAME2;
      const hs = v2 ? 16 : 8;
      if (body < hs) short('RENAME');
      const z1 = nul(buf, p + hs, end, 'RENAME');
      const z2 = nul(buf, z1 + 1, end, 'RENAME');
      req = {
        op: 'rename', newDir: big(v, p), flags: v2 ? u32(v, p + 8) : 0,
        name: buf.subarray(p + hs, z1), newName: buf.subarray(z1 + 1, z2),
      };
      break;
    }
    case Opcode.LINK: {
      if (body < 8) short('LINK');
      const z = nul(buf, p + 8, end, 'LINK');
      req = { op: 'link', oldNode: big(v, p), newName: buf.subarray(p + 8, z) };
      break;
    }
    case Opcode.OPEN:
    case Opcode.OPENDIR:
      if (body < 8) short('OPEN');
      req = {
        op: header.opcode === Opcode.OPEN ? 'open' : 'opendir',
        flags: u32(v, p), openFlags: u32(v, p + 4),
      };
      break;
    case Opcode.READ: {
      const old = minor < 9;
      if (body < (old ? COMPAT.READ_IN_SIZE : SIZE.READ_IN)) short('READ');
      req = {
        op: 'read', fh: big(v, p), offset: u64(v, p + 8), size: u32(v, p + 16),
        readFlags: u32(v, p + 20), lockOwner: old ? 0n : big(v, p + 24),
        flags: old ? 0 : u32(v, p + 32),
      };
      break;
    }
    case Opcode.READDIR:
    case Opcode.READDIRPLUS:
      if (body < (minor < 9 ? COMPAT.READ_IN_SIZE : SIZE.READ_IN)) short('READDIR');
      req = {
        op: header.opcode === Opcode.READDIR ? 'readdir' : 'readdirplus',
        fh: big(v, p), offset: big(v, p + 8), size: u32(v, p + 16),
      };
      break;
    case Opcode.WRITE: {
      const old = minor < 9;
      const hs = old ? COMPAT.WRITE_IN_SIZE : SIZE.WRITE_IN;
      if (body < hs) short('WRITE');
      const size = u32(v, p + 16);
      if (size > body - hs) fail(EINVAL, `WRITE of ${size} bytes carries only ${body - hs}`);
      req = {
        op: 'write', fh: big(v, p), offset: u64(v, p + 8), size,
        writeFlags: u32(v, p + 20), lockOwner: old ? 0n : big(v, p + 24),
        flags: old ? 0 : u32(v, p + 32), data: buf.subarray(p + hs, p + hs + size),
      };
      break;
    }
    case Opcode.STATFS:
      req = { op: 'statfs' };
      break;
    case Opcode.RELEASE:
    case Opcode.RELEASEDIR: {
      const old = minor < 8;
      if (body < (old ? COMPAT.RELEASE_IN_SIZE : 24)) short('RELEASE');
      req = {
        op: header.opcode === Opcode.RELEASE ? 'release' : 'releasedir',
        fh: big(v, p), flags: u32(v, p + 8),
        releaseFlags: old ? 0 : u32(v, p + 12), lockOwner: old ? 0n : big(v, p + 16),
      };
      break;
    }
    case Opcode.FSYNC:
    case Opcode.FSYNCDIR:
      if (body < 16) short('FSYNC');
      req = {
        op: header.opcode === Opcode.FSYNC ? 'fsync' : 'fsyncdir',
        fh: big(v, p), fsyncFlags: u32(v, p + 8),
      };
      break;
    case Opcode.SETXATTR: {
      const ext = opts?.setxattrExt === true;
      const hs = ext ? 16 : COMPAT.SETXATTR_IN_SIZE;
      if (body < hs) short('SETXATTR');
      const size = u32(v, p);
      const z = nul(buf, p + hs, end, 'SETXATTR');
      if (size > end - (z + 1)) fail(EINVAL, `SETXATTR value of ${size} bytes carries only ${end - (z + 1)}`);
      req = {
        op: 'setxattr', size, flags: u32(v, p + 4), setxattrFlags: ext ? u32(v, p + 8) : 0,
        name: buf.subarray(p + hs, z), value: buf.subarray(z + 1, z + 1 + size),
      };
      break;
    }
    case Opcode.GETXATTR: {
      if (body < 8) short('GETXATTR');
      const z = nul(buf, p + 8, end, 'GETXATTR');
      req = { op: 'getxattr', size: u32(v, p), name: buf.subarray(p + 8, z) };
      break;
    }
    case Opcode.LISTXATTR:
      if (body < 8) short('LISTXATTR');
      req = { op: 'listxattr', size: u32(v, p) };
      break;
    case Opcode.REMOVEXATTR: {
      const z = nul(buf, p, end, 'REMOVEXATTR');
      req = { op: 'removexattr', name: buf.subarray(p, z) };
      break;
    }
    case Opcode.FLUSH:
      if (body < 24) short('FLUSH');
      req = { op: 'flush', fh: big(v, p), lockOwner: big(v, p + 16) };
      break;
    case Opcode.INIT: {
      // Layout depends on the kernel's version, not the (not yet) negotiated one.
      if (body < 8) short('INIT');
      let maxReadahead = 0;
      let flags = 0n;
      if (body >= COMPAT.INIT_IN_SIZE) {
        maxReadahead = u32(v, p + 8);
        const lo = u32(v, p + 12);
        flags = BigInt(lo);
        if ((lo & INIT_EXT) !== 0 && body >= 20) flags |= BigInt(u32(v, p + 16)) << 32n;
      }
      req = { op: 'init', major: u32(v, p), minor: u32(v, p + 4), maxReadahead, flags };
      break;
    }
    case Opcode.GETLK:
    case Opcode.SETLK:
    case Opcode.SETLKW: {
      const old = minor < 9;
      if (body < (old ? COMPAT.LK_IN_SIZE : 48)) short('LK');
      const fh = big(v, p);
      const owner = big(v, p + 8);
      const lock: FileLock = {
        start: big(v, p + 16), end: big(v, p + 24),
        type: u32(v, p + 32), pid: u32(v, p + 36),
      };
      const lkFlags = old ? 0 : u32(v, p + 40);
      req = header.opcode === Opcode.GETLK
        ? { op: 'getlk', fh, owner, lock, lkFlags }
        : { op: 'setlk', fh, owner, lock, lkFlags, sleep: header.opcode === Opcode.SETLKW };
      break;
    }
    case Opcode.ACCESS:
      if (body < 8) short('ACCESS');
      req = { op: 'access', mask: u32(v, p) };
      break;
    case Opcode.CREATE: {
      const old = minor < 12;
      const hs = old ? COMPAT.CREATE_IN_SIZE : 16;
      if (body < hs) short('CREATE');
      const z = nul(buf, p + hs, end, 'CREATE');
      req = {
        op: 'create', flags: u32(v, p), mode: u32(v, p + 4),
        umask: old ? 0 : u32(v, p + 8), openFlags: old ? 0 : u32(v, p + 12),
        name: buf.subarray(p + hs, z),
      };
      break;
    }
    case Opcode.INTERRUPT:
      if (body < 8) short('INTERRUPT');
      req = { op: 'interrupt', target: big(v, p) };
      break;
    case Opcode.BMAP:
      if (body < 16) short('BMAP');
      req = { op: 'bmap', block: big(v, p), blocksize: u32(v, p + 8) };
      break;
    case Opcode.DESTROY:
      req = { op: 'destroy' };
      break;
    case Opcode.IOCTL: {
      if (body < 32) short('IOCTL');
      const inSize = u32(v, p + 24);
      if (inSize > body - 32) fail(EINVAL, `IOCTL in_size ${inSize} exceeds payload of ${body - 32}`);
      req = {
        op: 'ioctl', fh: big(v, p), flags: u32(v, p + 8), cmd: u32(v, p + 12),
        arg: big(v, p + 16), inSize, outSize: u32(v, p + 28),
        data: buf.subarray(p + 32, p + 32 + inSize),
      };
      break;
    }
    case Opcode.POLL:
      if (body < 24) short('POLL');
      req = {
        op: 'poll', fh: big(v, p), kh: big(v, p + 8),
        flags: u32(v, p + 16), events: u32(v, p + 20),
      };
      break;
    case Opcode.NOTIFY_REPLY: {
      // fuse_notify_retrieve_in: laid out like fuse_write_in.
      if (body < 40) short('NOTIFY_REPLY');
      const size = u32(v, p + 16);
      if (size > body - 40) fail(EINVAL, `NOTIFY_REPLY of ${size} bytes carries only ${body - 40}`);
      req = { op: 'notifyReply', offset: big(v, p + 8), size, data: buf.subarray(p + 40, p + 40 + size) };
      break;
    }
    case Opcode.BATCH_FORGET: {
      if (body < 8) short('BATCH_FORGET');
      const count = u32(v, p);
      if (count * SIZE.FORGET_ONE > body - 8) fail(EINVAL, `BATCH_FORGET count ${count} exceeds body`);
      const items = new Array<{ node: bigint; nlookup: bigint }>(count);
      for (let i = 0, q = p + 8; i < count; i++, q += 16) {
        items[i] = { node: big(v, q), nlookup: big(v, q + 8) };
      }
      req = { op: 'batchForget', items };
      break;
    }
    case Opcode.FALLOCATE:
      if (body < 32) short('FALLOCATE');
      req = {
        op: 'fallocate', fh: big(v, p), offset: u64(v, p + 8), length: u64(v, p + 16),
        mode: u32(v, p + 24),
      };
      break;
    case Opcode.LSEEK:
      if (body < 24) short('LSEEK');
      req = { op: 'lseek', fh: big(v, p), offset: u64(v, p + 8), whence: u32(v, p + 16) };
      break;
    case Opcode.COPY_FILE_RANGE:
    case Opcode.COPY_FILE_RANGE_64:
      if (body < 56) short('COPY_FILE_RANGE');
      req = {
        op: 'copyFileRange', fhIn: big(v, p), offIn: u64(v, p + 8),
        nodeOut: big(v, p + 16), fhOut: big(v, p + 24), offOut: u64(v, p + 32),
        len: u64(v, p + 40), flags: u64(v, p + 48), wide: header.opcode === Opcode.COPY_FILE_RANGE_64,
      };
      break;
    case Opcode.SETUPMAPPING:
      if (body < 40) short('SETUPMAPPING');
      req = {
        op: 'setupmapping', fh: big(v, p), foffset: big(v, p + 8),
        len: big(v, p + 16), flags: big(v, p + 24), moffset: big(v, p + 32),
      };
      break;
    case Opcode.REMOVEMAPPING: {
      // A 4-byte count, then the entries: they are not 8-byte aligned.
      if (body < 4) short('REMOVEMAPPING');
      const count = u32(v, p);
      if (count * 16 > body - 4) fail(EINVAL, `REMOVEMAPPING count ${count} exceeds body`);
      const entries = new Array<{ moffset: bigint; len: bigint }>(count);
      for (let i = 0, q = p + 4; i < count; i++, q += 16) {
        entries[i] = { moffset: big(v, q), len: big(v, q + 8) };
      }
      req = { op: 'removemapping', count, entries };
      break;
    }
    case Opcode.SYNCFS:
      if (body < 8) short('SYNCFS');
      req = { op: 'syncfs' };
      break;
    case Opcode.TMPFILE:
      // fuse_create_in, then a name ("/" from the VFS) that carries nothing.
      if (body < 16) short('TMPFILE');
      req = {
        op: 'tmpfile', flags: u32(v, p), mode: u32(v, p + 4),
        umask: u32(v, p + 8), openFlags: u32(v, p + 12),
      };
      break;
    case Opcode.STATX:
      if (body < 24) short('STATX');
      req = {
        op: 'statx', getattrFlags: u32(v, p), fh: big(v, p + 8),
        sxFlags: u32(v, p + 16), sxMask: u32(v, p + 20),
      };
      break;
    default:
      fail(ENOSYS, `unknown opcode ${header.opcode}`);
  }

  const ext = header.extLen === 0 ? NO_EXT : decodeExt(buf, end, len);
  return { header, ext, req };
}

function short(op: string): never {
  fail(EINVAL, `${op}: body shorter than its struct`);
}

function decodeSetattr(buf: Buffer, p: number): Request {
  const v = view(buf);
  const valid = u32(v, p);
  const set: SetAttrIn = { killSuidgid: (valid & FATTR.KILL_SUIDGID) !== 0 };
  if (valid & FATTR.MODE) set.mode = u32(v, p + 68);
  if (valid & FATTR.UID) set.uid = u32(v, p + 76);
  if (valid & FATTR.GID) set.gid = u32(v, p + 80);
  if (valid & FATTR.SIZE) set.size = u64(v, p + 16);
  if (valid & FATTR.ATIME_NOW) set.atime = 'now';
  else if (valid & FATTR.ATIME) set.atime = { sec: s64(v, p + 32), nsec: u32(v, p + 56) };
  if (valid & FATTR.MTIME_NOW) set.mtime = 'now';
  else if (valid & FATTR.MTIME) set.mtime = { sec: s64(v, p + 40), nsec: u32(v, p + 60) };
  if (valid & FATTR.CTIME) set.ctime = { sec: s64(v, p + 48), nsec: u32(v, p + 64) };
  if (valid & FATTR.FH) set.fh = big(v, p + 8);
  if (valid & FATTR.LOCKOWNER) set.lockOwner = big(v, p + 24);
  return { op: 'setattr', set, valid };
}

/**
 * The extension area: a sequence of 8-byte aligned records, each starting
 * with {u32 size, u32 type}. Types 0..31 are a fuse_secctx_header whose
 * "type" is nr_secctx. Unknown types are skipped.
 */
function decodeExt(buf: Buffer, p: number, end: number): RequestExt {
  const v = view(buf);
  const ext: RequestExt = {};
  while (p < end) {
    if (end - p < 8) fail(EINVAL, 'truncated extension header');
    const size = u32(v, p);
    const type = u32(v, p + 4);
    if (size < 8 || size % 8 !== 0 || size > end - p) fail(EINVAL, `bad extension size ${size}`);
    const recEnd = p + size;
    if (type <= ExtType.MAX_NR_SECCTX) {
      if (type > 0 && ext.secctx === undefined) {
        // First fuse_secctx {u32 size, u32 padding}, then name\0, then the value.
        const q = p + 8;
        if (recEnd - q < 8) fail(EINVAL, 'truncated security context');
        const vsize = u32(v, q);
        const z = nul(buf, q + 8, recEnd, 'security context');
        if (vsize > recEnd - (z + 1)) fail(EINVAL, 'security context value exceeds extension');
        ext.secctx = { name: buf.toString('utf8', q + 8, z), value: buf.subarray(z + 1, z + 1 + vsize) };
      }
    } else if (type === ExtType.GROUPS) {
      if (size < 12) fail(EINVAL, 'truncated supplementary groups');
      const nr = u32(v, p + 8);
      if (nr * 4 > size - 12) fail(EINVAL, `supplementary group count ${nr} exceeds extension`);
      if (nr > 0) ext.suppGroup = u32(v, p + 12);
    }
    p = recEnd;
  }
  return ext;
}

// ---------------------------------------------------------------------------
// Replies and notifications (what a server writes), for tests and clients.

export interface OutHeader {
  len: number;
  /** 0 or a negative errno; for notifications (unique 0) the notify code. */
  error: number;
  unique: bigint;
}

export function decodeOutHeader(buf: Buffer, off = 0): OutHeader {
  const v = view(buf);
  return { len: u32(v, off), error: i32(v, off + 4), unique: big(v, off + 8) };
}

/** struct fuse_attr; `compat` (minor < 9) stops before blksize. */
export function decodeAttr(buf: Buffer, off: number, compat = false): Attr {
  const v = view(buf);
  return {
    ino: big(v, off),
    size: u64(v, off + 8),
    blocks: u64(v, off + 16),
    atime: s64(v, off + 24),
    mtime: s64(v, off + 32),
    ctime: s64(v, off + 40),
    atimeNsec: u32(v, off + 48),
    mtimeNsec: u32(v, off + 52),
    ctimeNsec: u32(v, off + 56),
    mode: u32(v, off + 60),
    nlink: u32(v, off + 64),
    uid: u32(v, off + 68),
    gid: u32(v, off + 72),
    rdev: u32(v, off + 76),
    blksize: compat ? 0 : u32(v, off + 80),
    flags: compat ? 0 : u32(v, off + 84),
  };
}

function timeout(buf: Buffer, secOff: number, nsecOff: number): number {
  const v = view(buf);
  return u64(v, secOff) + u32(v, nsecOff) / 1e9;
}

export function decodeEntryOut(buf: Buffer, off: number, minor: number): Entry {
  const v = view(buf);
  return {
    nodeid: big(v, off),
    generation: big(v, off + 8),
    entryTimeout: timeout(buf, off + 16, off + 32),
    attrTimeout: timeout(buf, off + 24, off + 36),
    attr: decodeAttr(buf, off + 40, minor < 9),
  };
}

export function decodeAttrOut(buf: Buffer, off: number, minor: number): AttrReply {
  return { timeout: timeout(buf, off, off + 8), attr: decodeAttr(buf, off + 16, minor < 9) };
}

export function decodeOpenOut(buf: Buffer, off: number): OpenReply {
  const v = view(buf);
  const r: OpenReply = { fh: big(v, off), openFlags: u32(v, off + 8) };
  if (r.openFlags & FOPEN.PASSTHROUGH) r.backingId = i32(v, off + 12);
  return r;
}

export function decodeCreateOut(buf: Buffer, off: number, minor: number): { entry: Entry; open: OpenReply } {
  const entry = decodeEntryOut(buf, off, minor);
  return { entry, open: decodeOpenOut(buf, off + (minor < 9 ? COMPAT.ENTRY_OUT_SIZE : SIZE.ENTRY_OUT)) };
}

/** struct fuse_init_out; `size` is the reply body length (8, 24 or 64). */
export function decodeInitOut(buf: Buffer, off: number, size: number): InitOut {
  const v = view(buf);
  const o: InitOut = {
    major: u32(v, off), minor: u32(v, off + 4), maxReadahead: 0, flags: 0n,
    maxBackground: 0, congestionThreshold: 0, maxWrite: 0, timeGran: 0, maxPages: 0, mapAlignment: 0,
    maxStackDepth: 0, requestTimeout: 0,
  };
  if (size >= 24) {
    o.maxReadahead = u32(v, off + 8);
    o.flags = BigInt(u32(v, off + 12));
    o.maxBackground = u16(v, off + 16);
    o.congestionThreshold = u16(v, off + 18);
    o.maxWrite = u32(v, off + 20);
  }
  if (size >= SIZE.INIT_OUT) {
    o.timeGran = u32(v, off + 24);
    o.maxPages = u16(v, off + 28);
    o.mapAlignment = u16(v, off + 30);
    o.flags |= BigInt(u32(v, off + 32)) << 32n;
    o.maxStackDepth = u32(v, off + 36);
    o.requestTimeout = u16(v, off + 40);
  }
  return o;
}

/** struct fuse_kstatfs; `minor` < 4 is the 48-byte layout without frsize. */
export function decodeStatfsOut(buf: Buffer, off: number, minor = 45): StatFs {
  const v = view(buf);
  return {
    blocks: u64(v, off), bfree: u64(v, off + 8), bavail: u64(v, off + 16),
    files: u64(v, off + 24), ffree: u64(v, off + 32),
    bsize: u32(v, off + 40), namelen: u32(v, off + 44),
    frsize: minor < 4 ? 0 : u32(v, off + 48),
  };
}

export function decodeLkOut(buf: Buffer, off: number): FileLock {
  const v = view(buf);
  return {
    start: big(v, off), end: big(v, off + 8),
    type: u32(v, off + 16), pid: u32(v, off + 20),
  };
}

export function decodeIoctlOut(buf: Buffer, off: number): { result: number; flags: number; inIovs: number; outIovs: number } {
  const v = view(buf);
  return {
    result: i32(v, off), flags: u32(v, off + 4),
    inIovs: u32(v, off + 8), outIovs: u32(v, off + 12),
  };
}

/** fuse_attr.rdev uses the kernel's new_encode_dev() layout. */
export function devMajor(rdev: number): number {
  return (rdev >>> 8) & 0xfff;
}
export function devMinor(rdev: number): number {
  return (rdev & 0xff) | ((rdev >>> 12) & 0xfff00);
}
export function makeDev(major: number, minor: number): number {
  return ((minor & 0xff) | ((major & 0xfff) << 8) | ((minor & ~0xff) << 12)) >>> 0;
}

export function decodeStatxOut(buf: Buffer, off: number): { timeout: number; flags: number; attr: StatxAttr } {
  const v = view(buf);
  const s = off + 32;
  const attr: StatxAttr = {
    mask: u32(v, s),
    blksize: u32(v, s + 4),
    attributes: big(v, s + 8),
    nlink: u32(v, s + 16),
    uid: u32(v, s + 20),
    gid: u32(v, s + 24),
    mode: u16(v, s + 28),
    ino: big(v, s + 32),
    size: u64(v, s + 40),
    blocks: u64(v, s + 48),
    attributesMask: big(v, s + 56),
    atime: s64(v, s + 64),
    atimeNsec: u32(v, s + 72),
    btime: s64(v, s + 80),
    btimeNsec: u32(v, s + 88),
    ctime: s64(v, s + 96),
    ctimeNsec: u32(v, s + 104),
    mtime: s64(v, s + 112),
    mtimeNsec: u32(v, s + 120),
    rdev: makeDev(u32(v, s + 128), u32(v, s + 132)),
    devMajor: u32(v, s + 136),
    devMinor: u32(v, s + 140),
    flags: 0,
  };
  return { timeout: timeout(buf, off, off + 8), flags: u32(v, off + 12), attr };
}

export interface Dirent {
  ino: bigint;
  /** Offset of the next entry (what readdir resumes from). */
  off: bigint;
  type: number;
  name: Buffer;
}

/** Walk a READDIR reply body. Names are views into `buf`. */
export function decodeDirents(buf: Buffer): Dirent[] {
  const v = view(buf);
  const out: Dirent[] = [];
  let p = 0;
  while (p + SIZE.DIRENT <= buf.length) {
    const namelen = u32(v, p + 16);
    if (p + SIZE.DIRENT + namelen > buf.length) fail(EINVAL, 'dirent name exceeds buffer');
    out.push({
      ino: big(v, p), off: big(v, p + 8), type: u32(v, p + 20),
      name: buf.subarray(p + SIZE.DIRENT, p + SIZE.DIRENT + namelen),
    });
    p += (SIZE.DIRENT + namelen + 7) & ~7;
  }
  return out;
}

export interface DirentPlus extends Dirent {
  entry: Entry;
}

/** Walk a READDIRPLUS reply body. */
export function decodeDirentPlus(buf: Buffer): DirentPlus[] {
  const v = view(buf);
  const out: DirentPlus[] = [];
  let p = 0;
  while (p + SIZE.DIRENTPLUS <= buf.length) {
    const d = p + SIZE.ENTRY_OUT;
    const namelen = u32(v, d + 16);
    if (p + SIZE.DIRENTPLUS + namelen > buf.length) fail(EINVAL, 'direntplus name exceeds buffer');
    out.push({
      entry: decodeEntryOut(buf, p, 45),
      ino: big(v, d), off: big(v, d + 8), type: u32(v, d + 20),
      name: buf.subarray(d + SIZE.DIRENT, d + SIZE.DIRENT + namelen),
    });
    p += (SIZE.DIRENTPLUS + namelen + 7) & ~7;
  }
  return out;
}

export type Notify =
  | { kind: 'poll'; kh: bigint }
  | { kind: 'invalInode'; ino: bigint; off: bigint; len: bigint }
  | { kind: 'invalEntry'; parent: bigint; name: Buffer; flags: number }
  | { kind: 'delete'; parent: bigint; child: bigint; name: Buffer }
  | { kind: 'store'; node: bigint; offset: bigint; data: Buffer }
  | { kind: 'retrieve'; notifyUnique: bigint; node: bigint; offset: bigint; size: number }
  | { kind: 'resend' }
  | { kind: 'incEpoch' }
  | { kind: 'prune'; nodes: bigint[] };

/** Decode a notification message (out header with unique 0) of `len` bytes, checked as the kernel does. */
export function decodeNotify(buf: Buffer, len = buf.length): Notify {
  const v = view(buf);
  if (len < OUT_HEADER_SIZE || len > buf.length) fail(EINVAL, 'short notification');
  const h = decodeOutHeader(buf);
  if (h.unique !== 0n || h.len !== len) fail(EINVAL, 'not a notification');
  const p = OUT_HEADER_SIZE;
  const body = len - p;
  const need = (n: number, exact: boolean) => {
    if (exact ? body !== n : body < n) fail(EINVAL, `notification ${h.error}: bad size ${body}`);
  };
  switch (h.error) {
    case NotifyCode.POLL:
      need(8, true);
      return { kind: 'poll', kh: big(v, p) };
    case NotifyCode.INVAL_INODE:
      need(24, true);
      return { kind: 'invalInode', ino: big(v, p), off: v.getBigInt64(p + 8, true), len: v.getBigInt64(p + 16, true) };
    case NotifyCode.INVAL_ENTRY: {
      need(16, false);
      const n = u32(v, p + 8);
      need(16 + n + 1, true);
      if (buf[p + 16 + n] !== 0) fail(EINVAL, 'inval_entry name not NUL-terminated');
      return { kind: 'invalEntry', parent: big(v, p), flags: u32(v, p + 12), name: buf.subarray(p + 16, p + 16 + n) };
    }
    case NotifyCode.DELETE: {
      need(24, false);
      const n = u32(v, p + 16);
      need(24 + n + 1, true);
      if (buf[p + 24 + n] !== 0) fail(EINVAL, 'delete name not NUL-terminated');
      return { kind: 'delete', parent: big(v, p), child: big(v, p + 8), name: buf.subarray(p + 24, p + 24 + n) };
    }
    case NotifyCode.STORE: {
      need(24, false);
      const n = u32(v, p + 16);
      need(24 + n, true);
      return { kind: 'store', node: big(v, p), offset: big(v, p + 8), data: buf.subarray(p + 24, p + 24 + n) };
    }
    case NotifyCode.RETRIEVE:
      need(32, true);
      return {
        kind: 'retrieve', notifyUnique: big(v, p), node: big(v, p + 8),
        offset: big(v, p + 16), size: u32(v, p + 24),
      };
    case NotifyCode.RESEND:
      return { kind: 'resend' };
    case NotifyCode.INC_EPOCH:
      return { kind: 'incEpoch' };
    case NotifyCode.PRUNE: {
      need(16, false);
      const count = u32(v, p);
      need(16 + count * 8, true);
      const nodes = new Array<bigint>(count);
      for (let i = 0; i < count; i++) nodes[i] = big(v, p + 16 + i * 8);
      return { kind: 'prune', nodes };
    }
    default:
      fail(EINVAL, `unknown notify code ${h.error}`);
  }
}
