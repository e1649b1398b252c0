/**
 * Encoding: replies and notifications written into a caller-owned buffer
 * (hot path, no allocation), and requests as the kernel would send them
 * (tests, fuzzing, clients).
 */
import { OPCODE_OF_OP, opcodeInfo } from './opcodes.js';
import type { Attr, Entry, FileLock, OpenReply, SetAttrIn, StatFs, StatxAttr } from '../fs/types.js';
import { ViewCache } from '../sys/util.js';
import {
  COMPAT, ExtType, FATTR, IN_HEADER_SIZE, InitFlag, NotifyCode, Opcode, OUT_HEADER_SIZE, SIZE,
} from './abi.js';
import { devMajor, devMinor } from './decode.js';
import type { DecodeOptions } from './decode.js';
import type { InHeader, Request, RequestExt } from './request.js';

const TWO32 = 4294967296;
const TWO64 = 18446744073709551616;

// DataView setters also wrap out-of-range values instead of throwing.
const views = new ViewCache();
const view = (buf: Buffer): DataView => views.of(buf);

function u32(v: DataView, off: number, x: number): void {
  v.setUint32(off, x, true);
}
function big(v: DataView, off: number, x: bigint): void {
  v.setBigUint64(off, x, true);
}
/** A number as u64; negatives come out as two's complement, so this doubles as s64. */
function u64(v: DataView, off: number, x: number): void {
  v.setUint32(off, x, true);
  v.setUint32(off + 4, Math.floor(x / TWO32), true);
}
function zero(v: DataView, off: number, end: number): void {
  for (; off < end; off += 4) v.setUint32(off, 0, true);
}

/** Float seconds → u64 sec + u32 nsec; negative or NaN → 0, beyond u64 → all ones. */
function timeout(v: DataView, secOff: number, nsecOff: number, t: number): void {
  if (!(t > 0)) {
    big(v, secOff, 0n);
    u32(v, nsecOff, 0);
  } else if (t >= TWO64) {
    big(v, secOff, 0xffffffffffffffffn);
    u32(v, nsecOff, 0);
  } else {
    const s = Math.floor(t);
    u64(v, secOff, s);
    u32(v, nsecOff, Math.min(Math.round((t - s) * 1e9), 999999999));
  }
}

/** struct fuse_out_header at offset 0. `error` is 0, a negative errno, or a notify code. */
export function writeOutHeader(buf: Buffer, totalLen: number, error: number, unique: bigint): number {
  const v = view(buf);
  u32(v, 0, totalLen);
  v.setInt32(4, error, true);
  big(v, 8, unique);
  return OUT_HEADER_SIZE;
}

function putAttr(v: DataView, off: number, a: Attr, compat: boolean): void {
  big(v, off, a.ino);
  u64(v, off + 8, a.size);
  u64(v, off + 16, a.blocks);
  u64(v, off + 24, a.atime);
  u64(v, off + 32, a.mtime);
  u64(v, off + 40, a.ctime);
  u32(v, off + 48, a.atimeNsec);
  u32(v, off + 52, a.mtimeNsec);
  u32(v, off + 56, a.ctimeNsec);
  u32(v, off + 60, a.mode);
  u32(v, off + 64, a.nlink);
  u32(v, off + 68, a.uid);
  u32(v, off + 72, a.gid);
  u32(v, off + 76, a.rdev);
  if (!compat) {
    u32(v, off + 80, a.blksize);
    u32(v, off + 84, a.flags);
  }
}

/** struct fuse_attr (88 bytes). */
export function writeAttr(buf: Buffer, off: number, attr: Attr): number {
  putAttr(view(buf), off, attr, false);
  return off + SIZE.ATTR;
}

function putEntry(v: DataView, off: number, e: Entry, compat: boolean): number {
  big(v, off, e.nodeid);
  big(v, off + 8, e.generation);
  timeout(v, off + 16, off + 32, e.entryTimeout);
  timeout(v, off + 24, off + 36, e.attrTimeout);
  putAttr(v, off + 40, e.attr, compat);
  return off + (compat ? COMPAT.ENTRY_OUT_SIZE : SIZE.ENTRY_OUT);
}

/** struct fuse_entry_out: 128 bytes, 120 before 7.9. */
export function writeEntryOut(buf: Buffer, off: number, e: Entry, minor: number): number {
  return putEntry(view(buf), off, e, minor < 9);
}

/** struct fuse_attr_out: 104 bytes, 96 before 7.9. */
export function writeAttrOut(buf: Buffer, off: number, t: number, attr: Attr, minor: number): number {
  const v = view(buf);
  timeout(v, off, off + 8, t);
  u32(v, off + 12, 0);
  const compat = minor < 9;
  putAttr(v, off + 16, attr, compat);
  return off + (compat ? COMPAT.ATTR_OUT_SIZE : SIZE.ATTR_OUT);
}

function putOpen(v: DataView, off: number, r: OpenReply): number {
  big(v, off, r.fh);
  u32(v, off + 8, r.openFlags);
  v.setInt32(off + 12, r.backingId ?? 0, true);
  return off + SIZE.OPEN_OUT;
}

/** struct fuse_open_out (16 bytes). */
export function writeOpenOut(buf: Buffer, off: number, r: OpenReply): number {
  return putOpen(view(buf), off, r);
}

/** CREATE/TMPFILE reply: fuse_entry_out then fuse_open_out. */
export function writeCreateOut(buf: Buffer, off: number, e: Entry, r: OpenReply, minor: number): number {
  const v = view(buf);
  return putOpen(v, putEntry(v, off, e, minor < 9), r);
}

/** struct fuse_statfs_out: 80 bytes, 48 before 7.4. */
export function writeStatfsOut(buf: Buffer, off: number, s: StatFs, minor: number): number {
  const v = view(buf);
  u64(v, off, s.blocks);
  u64(v, off + 8, s.bfree);
  u64(v, off + 16, s.bavail);
  u64(v, off + 24, s.files);
  u64(v, off + 32, s.ffree);
  u32(v, off + 40, s.bsize);
  u32(v, off + 44, s.namelen);
  if (minor < 4) return off + COMPAT.STATFS_SIZE;
  u32(v, off + 48, s.frsize);
  zero(v, off + 52, off + SIZE.KSTATFS);
  return off + SIZE.KSTATFS;
}

function u32pair(buf: Buffer, off: number, a: number): number {
  const v = view(buf);
  u32(v, off, a);
  u32(v, off + 4, 0);
  return off + 8;
}

/** struct fuse_write_out: bytes written. Also the COPY_FILE_RANGE (32-bit) reply. */
export function writeWriteOut(buf: Buffer, off: number, size: number): number {
  return u32pair(buf, off, size);
}

/** struct fuse_getxattr_out: value (or name list) size, for size-0 probes. */
export function writeGetxattrOut(buf: Buffer, off: number, size: number): number {
  return u32pair(buf, off, size);
}

/** struct fuse_poll_out */
export function writePollOut(buf: Buffer, off: number, revents: number): number {
  return u32pair(buf, off, revents);
}

/** struct fuse_lk_out (struct fuse_file_lock, 24 bytes). */
export function writeLkOut(buf: Buffer, off: number, lock: FileLock): number {
  const v = view(buf);
  big(v, off, lock.start);
  big(v, off + 8, lock.end);
  u32(v, off + 16, lock.type);
  u32(v, off + 20, lock.pid);
  return off + SIZE.FILE_LOCK;
}

/** struct fuse_bmap_out */
export function writeBmapOut(buf: Buffer, off: number, block: bigint): number {
  big(view(buf), off, block);
  return off + 8;
}

/** struct fuse_ioctl_out; with IOCTL.RETRY, inIovs + outIovs fuse_ioctl_iovec follow. */
export function writeIoctlOut(buf: Buffer, off: number, result: number, flags: number, inIovs: number, outIovs: number): number {
  const v = view(buf);
  v.setInt32(off, result, true);
  u32(v, off + 4, flags);
  u32(v, off + 8, inIovs);
  u32(v, off + 12, outIovs);
  return off + SIZE.IOCTL_OUT;
}

/** struct fuse_ioctl_iovec */
export function writeIoctlIovec(buf: Buffer, off: number, base: bigint, len: number): number {
  const v = view(buf);
  big(v, off, base);
  u64(v, off + 8, len);
  return off + SIZE.IOCTL_IOVEC;
}

/** struct fuse_lseek_out */
export function writeLseekOut(buf: Buffer, off: number, offset: number): number {
  u64(view(buf), off, offset);
  return off + 8;
}

/** struct fuse_copy_file_range_out (COPY_FILE_RANGE_64 reply). */
export function writeCopyFileRangeOut64(buf: Buffer, off: number, bytes: number): number {
  u64(view(buf), off, bytes);
  return off + 8;
}

function sxTime(v: DataView, off: number, sec: number, nsec: number): void {
  u64(v, off, sec);
  u32(v, off + 8, nsec);
  u32(v, off + 12, 0);
}

/** struct fuse_statx_out (288 bytes). `flags` is fuse_statx_out.flags. */
export function writeStatxOut(buf: Buffer, off: number, t: number, flags: number, sx: StatxAttr): number {
  const v = view(buf);
  timeout(v, off, off + 8, t);
  u32(v, off + 12, flags);
  zero(v, off + 16, off + 32);
  const s = off + 32;
  u32(v, s, sx.mask);
  u32(v, s + 4, sx.blksize);
  big(v, s + 8, sx.attributes);
  u32(v, s + 16, sx.nlink);
  u32(v, s + 20, sx.uid);
  u32(v, s + 24, sx.gid);
  v.setUint16(s + 28, sx.mode, true);
  v.setUint16(s + 30, 0, true);
  big(v, s + 32, sx.ino);
  u64(v, s + 40, sx.size);
  u64(v, s + 48, sx.blocks);
  big(v, s + 56, sx.attributesMask);
  sxTime(v, s + 64, sx.atime, sx.atimeNsec);
  sxTime(v, s + 80, sx.btime, sx.btimeNsec);
  sxTime(v, s + 96, sx.ctime, sx.ctimeNsec);
  sxTime(v, s + 112, sx.mtime, sx.mtimeNsec);
  u32(v, s + 128, devMajor(sx.rdev));
  u32(v, s + 132, devMinor(sx.rdev));
  u32(v, s + 136, sx.devMajor);
  u32(v, s + 140, sx.devMinor);
  zero(v, s + 144, s + SIZE.STATX);
  return off + SIZE.STATX_OUT;
}

/** The INIT reply. `flags` holds flags2 in bits 32..63 (read by the kernel only with INIT_EXT). */
export interface InitOut {
  major: number;
  minor: number;
  maxReadahead: number;
  flags: bigint;
  maxBackground: number;
  congestionThreshold: number;
  maxWrite: number;
  timeGran: number;
  maxPages: number;
  mapAlignment: number;
  maxStackDepth: number;
  /** Seconds; with REQUEST_TIMEOUT. */
  requestTimeout: number;
}

/** Size of the INIT reply body a kernel speaking `kernelMinor` accepts. */
export function initOutSize(kernelMinor: number): number {
  return kernelMinor < 5 ? COMPAT.INIT_OUT_SIZE : kernelMinor < 23 ? COMPAT.INIT_OUT_22_SIZE : SIZE.INIT_OUT;
}

/** struct fuse_init_out, sized for the kernel's minor: 8 (< 7.5), 24 (< 7.23) or 64 bytes. */
export function writeInitOut(buf: Buffer, off: number, o: InitOut, kernelMinor: number): number {
  const v = view(buf);
  const size = initOutSize(kernelMinor);
  u32(v, off, o.major);
  u32(v, off + 4, o.minor);
  if (size > COMPAT.INIT_OUT_SIZE) {
    u32(v, off + 8, o.maxReadahead);
    u32(v, off + 12, Number(o.flags & 0xffffffffn));
    v.setUint16(off + 16, o.maxBackground, true);
    v.setUint16(off + 18, o.congestionThreshold, true);
    u32(v, off + 20, o.maxWrite);
  }
  if (size === SIZE.INIT_OUT) {
    u32(v, off + 24, o.timeGran);
    v.setUint16(off + 28, o.maxPages, true);
    v.setUint16(off + 30, o.mapAlignment, true);
    u32(v, off + 32, Number((o.flags >> 32n) & 0xffffffffn));
    u32(v, off + 36, o.maxStackDepth);
    v.setUint16(off + 40, o.requestTimeout, true);
    v.setUint16(off + 42, 0, true);
    zero(v, off + 44, off + SIZE.INIT_OUT);
  }
  return off + size;
}

/** Bytes one READDIR entry with a `nameLen`-byte name takes (8-byte aligned). */
export function direntSize(nameLen: number): number {
  return (SIZE.DIRENT + nameLen + 7) & ~7;
}

function putDirent(buf: Buffer, v: DataView, off: number, ino: bigint, nextOff: bigint, type: number, name: Buffer): number {
  const end = off + direntSize(name.length);
  // Zero the last 8 bytes first: the name overwrites what is not padding.
  big(v, end - 8, 0n);
  big(v, off, ino);
  big(v, off + 8, nextOff);
  u32(v, off + 16, name.length);
  u32(v, off + 20, type);
  const n = name.length;
  const at = off + SIZE.DIRENT;
  if (n <= 32) for (let i = 0; i < n; i++) buf[at + i] = name[i]!;
  else name.copy(buf, at);
  return end;
}

/** struct fuse_dirent + name + zero padding. Returns the offset after it. */
export function writeDirent(buf: Buffer, off: number, ino: bigint, nextOff: bigint, type: number, name: Buffer): number {
  return putDirent(buf, view(buf), off, ino, nextOff, type, name);
}

/** Bytes one READDIRPLUS entry takes. */
export function direntPlusSize(nameLen: number): number {
  return (SIZE.DIRENTPLUS + nameLen + 7) & ~7;
}

/** struct fuse_direntplus: fuse_entry_out (never compat: READDIRPLUS is 7.21+), then fuse_dirent with ino = attr.ino. */
export function writeDirentPlus(buf: Buffer, off: number, e: Entry, nextOff: bigint, type: number, name: Buffer): number {
  const v = view(buf);
  return putDirent(buf, v, putEntry(v, off, e, false), e.attr.ino, nextOff, type, name);
}

// ---------------------------------------------------------------------------
// Notifications: unique 0, error = notify code. Each returns the total length.

function notifyHeader(buf: Buffer, total: number, code: number): DataView {
  writeOutHeader(buf, total, code, 0n);
  return view(buf);
}

export function encodeNotifyPoll(buf: Buffer, kh: bigint): number {
  big(notifyHeader(buf, 24, NotifyCode.POLL), 16, kh);
  return 24;
}

/** off < 0: attributes only; len <= 0: to the end of the file. */
export function encodeNotifyInvalInode(buf: Buffer, ino: bigint, off: bigint, len: bigint): number {
  const v = notifyHeader(buf, 40, NotifyCode.INVAL_INODE);
  big(v, 16, ino);
  v.setBigInt64(24, off, true);
  v.setBigInt64(32, len, true);
  return 40;
}

/** flags: EXPIRE_ONLY. */
export function encodeNotifyInvalEntry(buf: Buffer, parent: bigint, name: Buffer, flags: number): number {
  const total = 32 + name.length + 1;
  const v = notifyHeader(buf, total, NotifyCode.INVAL_ENTRY);
  big(v, 16, parent);
  u32(v, 24, name.length);
  u32(v, 28, flags);
  name.copy(buf, 32);
  buf[32 + name.length] = 0;
  return total;
}

export function encodeNotifyDelete(buf: Buffer, parent: bigint, child: bigint, name: Buffer): number {
  const total = 40 + name.length + 1;
  const v = notifyHeader(buf, total, NotifyCode.DELETE);
  big(v, 16, parent);
  big(v, 24, child);
  u32(v, 32, name.length);
  u32(v, 36, 0);
  name.copy(buf, 40);
  buf[40 + name.length] = 0;
  return total;
}

export function encodeNotifyStore(buf: Buffer, node: bigint, offset: bigint, data: Buffer): number {
  const total = 40 + data.length;
  const v = notifyHeader(buf, total, NotifyCode.STORE);
  big(v, 16, node);
  big(v, 24, offset);
  u32(v, 32, data.length);
  u32(v, 36, 0);
  data.copy(buf, 40);
  return total;
}

/** The kernel answers with a NOTIFY_REPLY request whose unique is `notifyUnique`. */
export function encodeNotifyRetrieve(buf: Buffer, notifyUnique: bigint, node: bigint, offset: bigint, size: number): number {
  const v = notifyHeader(buf, 48, NotifyCode.RETRIEVE);
  big(v, 16, notifyUnique);
  big(v, 24, node);
  big(v, 32, offset);
  u32(v, 40, size);
  u32(v, 44, 0);
  return 48;
}

/** Ask the kernel to resend all pending requests (HAS_RESEND). */
export function encodeNotifyResend(buf: Buffer): number {
  notifyHeader(buf, OUT_HEADER_SIZE, NotifyCode.RESEND);
  return OUT_HEADER_SIZE;
}

/** Bump the connection epoch: dentries from older epochs get revalidated. */
export function encodeNotifyIncEpoch(buf: Buffer): number {
  notifyHeader(buf, OUT_HEADER_SIZE, NotifyCode.INC_EPOCH);
  return OUT_HEADER_SIZE;
}

/** Drop unused cached inodes: fuse_notify_prune_out {count, padding, spare} + node ids. */
export function encodeNotifyPrune(buf: Buffer, nodes: readonly bigint[]): number {
  const total = 32 + nodes.length * 8;
  const v = notifyHeader(buf, total, NotifyCode.PRUNE);
  u32(v, 16, nodes.length);
  zero(v, 20, 32);
  for (let i = 0; i < nodes.length; i++) big(v, 32 + i * 8, nodes[i]!);
  return total;
}

// ---------------------------------------------------------------------------
// Requests, as the kernel sends them.

/** Growable little-endian writer; cold path only. */
class Writer {
  buf = Buffer.alloc(256);
  pos = 0;
  private room(n: number): number {
    if (this.pos + n > this.buf.length) {
      const next = Buffer.alloc(Math.max(this.buf.length * 2, this.pos + n));
      this.buf.copy(next, 0, 0, this.pos);
      this.buf = next;
    }
    const at = this.pos;
    this.pos += n;
    return at;
  }
  // room() may replace this.buf: reserve first, then write.
  u32(v: number): this { const at = this.room(4); this.buf.writeUInt32LE(v >>> 0, at); return this; }
  u64(v: number): this { const at = this.room(8); u64(view(this.buf), at, v); return this; }
  big(v: bigint): this { const at = this.room(8); this.buf.writeBigUInt64LE(BigInt.asUintN(64, v), at); return this; }
  bytes(b: Buffer): this { const at = this.room(b.length); b.copy(this.buf, at); return this; }
  cstr(b: Buffer): this { return this.bytes(b).zero(1); }
  zero(n: number): this { this.room(n); return this; }
}

/** The opcode the kernel uses for `req` (RENAME2 when rename has flags, SETLKW when sleeping...). */
export function requestOpcode(req: Request): number {
  switch (req.op) {
    case 'rename': return req.flags !== 0 ? Opcode.RENAME2 : Opcode.RENAME;
    case 'setlk': return req.sleep ? Opcode.SETLKW : Opcode.SETLK;
    case 'copyFileRange': return req.wide ? Opcode.COPY_FILE_RANGE_64 : Opcode.COPY_FILE_RANGE;
    default: {
      const code = OPCODE_OF_OP.get(req.op);
      if (code === undefined) throw new TypeError(`unknown request op ${(req as { op: string }).op}`);
      return code;
    }
  }
}

function setattrBody(w: Writer, req: Extract<Request, { op: 'setattr' }>): void {
  const s = req.set;
  const t = (v: typeof s.atime) => (v === undefined || v === 'now' ? { sec: 0, nsec: 0 } : v);
  const at = t(s.atime);
  const mt = t(s.mtime);
  const ct = s.ctime ?? { sec: 0, nsec: 0 };
  w.u32(req.valid).u32(0).big(s.fh ?? 0n).u64(s.size ?? 0).big(s.lockOwner ?? 0n)
    .u64(at.sec).u64(mt.sec).u64(ct.sec).u32(at.nsec).u32(mt.nsec).u32(ct.nsec)
    .u32(s.mode ?? 0).u32(0).u32(s.uid ?? 0).u32(s.gid ?? 0).u32(0);
}

function extArea(w: Writer, ext: RequestExt): void {
  if (ext.secctx) {
    const name = Buffer.from(ext.secctx.name, 'utf8');
    const start = w.pos;
    w.u32(0).u32(1).u32(ext.secctx.value.length).u32(0).cstr(name).bytes(ext.secctx.value);
    w.zero((8 - ((w.pos - start) % 8)) % 8);
    w.buf.writeUInt32LE(w.pos - start, start);
  }
  if (ext.suppGroup !== undefined) {
    w.u32(16).u32(ExtType.GROUPS).u32(1).u32(ext.suppGroup);
  }
}

/**
 * Build the bytes the kernel would send for `req` with opcode `h.opcode`,
 * speaking protocol `minor`: the exact inverse of decodeRequest.
 */
export function encodeRequest(
  h: Omit<InHeader, 'len' | 'extLen'>, req: Request, minor: number, ext?: RequestExt, opts?: DecodeOptions,
): Buffer {
  if (opcodeInfo(h.opcode)?.op !== req.op) throw new TypeError(`opcode ${h.opcode} does not carry a '${req.op}' request`);
  const w = new Writer();
  w.zero(IN_HEADER_SIZE);
  switch (req.op) {
    case 'lookup': case 'unlink': case 'rmdir': case 'removexattr':
      w.cstr(req.name);
      break;
    case 'forget':
      w.big(req.nlookup);
      break;
    case 'getattr':
      if (minor >= 9) w.u32(req.getattrFlags).u32(0).big(req.fh);
      break;
    case 'setattr':
      setattrBody(w, req);
      break;
    case 'readlink': case 'statfs': case 'destroy':
      break;
    case 'symlink':
      w.cstr(req.name).cstr(req.target);
      break;
    case 'mknod':
      w.u32(req.mode).u32(req.rdev);
      if (minor >= 12) w.u32(req.umask).u32(0);
      w.cstr(req.name);
      break;
    case 'mkdir':
      w.u32(req.mode).u32(minor >= 12 ? req.umask : 0).cstr(req.name);
      break;
    case 'rename':
      w.big(req.newDir);
      if (h.opcode === Opcode.RENAME2) w.u32(req.flags).u32(0);
      w.cstr(req.name).cstr(req.newName);
      break;
    case 'link':
      w.big(req.oldNode).cstr(req.newName);
      break;
    case 'open': case 'opendir':
      w.u32(req.flags).u32(req.openFlags);
      break;
    case 'read':
      w.big(req.fh).u64(req.offset).u32(req.size).u32(req.readFlags);
      if (minor >= 9) w.big(req.lockOwner).u32(req.flags).u32(0);
      break;
    case 'readdir': case 'readdirplus':
      w.big(req.fh).big(req.offset).u32(req.size).u32(0);
      if (minor >= 9) w.big(0n).u32(0).u32(0);
      break;
    case 'write':
      w.big(req.fh).u64(req.offset).u32(req.size).u32(req.writeFlags);
      if (minor >= 9) w.big(req.lockOwner).u32(req.flags).u32(0);
      w.bytes(req.data.subarray(0, req.size));
      break;
    case 'release': case 'releasedir':
      w.big(req.fh).u32(req.flags);
      if (minor >= 8) w.u32(req.releaseFlags).big(req.lockOwner);
      else w.u32(0);
      break;
    case 'fsync': case 'fsyncdir':
      w.big(req.fh).u32(req.fsyncFlags).u32(0);
      break;
    case 'setxattr':
      w.u32(req.size).u32(req.flags);
      if (opts?.setxattrExt) w.u32(req.setxattrFlags).u32(0);
      w.cstr(req.name).bytes(req.value.subarray(0, req.size));
      break;
    case 'getxattr':
      w.u32(req.size).u32(0).cstr(req.name);
      break;
    case 'listxattr':
      w.u32(req.size).u32(0);
      break;
    case 'flush':
      w.big(req.fh).u32(0).u32(0).big(req.lockOwner);
      break;
    case 'init': {
      w.u32(req.major).u32(req.minor).u32(req.maxReadahead).u32(Number(req.flags & 0xffffffffn));
      if (req.minor >= 36 || (req.flags & InitFlag.INIT_EXT) !== 0n) {
        w.u32(Number((req.flags >> 32n) & 0xffffffffn)).zero(SIZE.INIT_IN - 20);
      }
      break;
    }
    case 'getlk': case 'setlk':
      w.big(req.fh).big(req.owner).big(req.lock.start).big(req.lock.end).u32(req.lock.type).u32(req.lock.pid);
      if (minor >= 9) w.u32(req.lkFlags).u32(0);
      break;
    case 'access':
      w.u32(req.mask).u32(0);
      break;
    case 'create':
      w.u32(req.flags).u32(req.mode);
      if (minor >= 12) w.u32(req.umask).u32(req.openFlags);
      w.cstr(req.name);
      break;
    case 'interrupt':
      w.big(req.target);
      break;
    case 'bmap':
      w.big(req.block).u32(req.blocksize).u32(0);
      break;
    case 'ioctl':
      w.big(req.fh).u32(req.flags).u32(req.cmd).big(req.arg).u32(req.inSize).u32(req.outSize)
        .bytes(req.data.subarray(0, req.inSize));
      break;
    case 'poll':
      w.big(req.fh).big(req.kh).u32(req.flags).u32(req.events);
      break;
    case 'notifyReply':
      w.big(0n).big(req.offset).u32(req.size).u32(0).big(0n).big(0n).bytes(req.data.subarray(0, req.size));
      break;
    case 'batchForget':
      w.u32(req.items.length).u32(0);
      for (const it of req.items) w.big(it.node).big(it.nlookup);
      break;
    case 'fallocate':
      w.big(req.fh).u64(req.offset).u64(req.length).u32(req.mode).u32(0);
      break;
    case 'lseek':
      w.big(req.fh).u64(req.offset).u32(req.whence).u32(0);
      break;
    case 'copyFileRange':
      w.big(req.fhIn).u64(req.offIn).big(req.nodeOut).big(req.fhOut).u64(req.offOut).u64(req.len).u64(req.flags);
      break;
    case 'setupmapping':
      w.big(req.fh).big(req.foffset).big(req.len).big(req.flags).big(req.moffset);
      break;
    case 'removemapping':
      w.u32(req.entries.length);
      for (const e of req.entries) w.big(e.moffset).big(e.len);
      break;
    case 'syncfs':
      w.big(0n);
      break;
    case 'tmpfile':
      w.u32(req.flags).u32(req.mode).u32(req.umask).u32(req.openFlags).cstr(Buffer.from('/'));
      break;
    case 'statx':
      w.u32(req.getattrFlags).u32(0).big(req.fh).u32(req.sxFlags).u32(req.sxMask);
      break;
  }
  let extLen = 0;
  if (ext && (ext.secctx !== undefined || ext.suppGroup !== undefined)) {
    // The body before the extensions need not be aligned; the extension area is.
    const start = w.pos;
    extArea(w, ext);
    extLen = w.pos - start;
  }
  const out = w.buf.subarray(0, w.pos);
  out.writeUInt32LE(w.pos, 0);
  out.writeUInt32LE(h.opcode, 4);
  out.writeBigUInt64LE(h.unique, 8);
  out.writeBigUInt64LE(h.nodeid, 16);
  out.writeUInt32LE(h.uid >>> 0, 24);
  out.writeUInt32LE(h.gid >>> 0, 28);
  out.writeUInt32LE(h.pid >>> 0, 32);
  out.writeUInt16LE(extLen / 8, 36);
  return out;
}

/** fuse_setattr_in.valid bits that SetAttrIn fields map to, for building requests. */
export function setattrValid(set: SetAttrIn): number {
  let v = 0;
  if (set.mode !== undefined) v |= FATTR.MODE;
  if (set.uid !== undefined) v |= FATTR.UID;
  if (set.gid !== undefined) v |= FATTR.GID;
  if (set.size !== undefined) v |= FATTR.SIZE;
  if (set.atime !== undefined) v |= FATTR.ATIME | (set.atime === 'now' ? FATTR.ATIME_NOW : 0);
  if (set.mtime !== undefined) v |= FATTR.MTIME | (set.mtime === 'now' ? FATTR.MTIME_NOW : 0);
  if (set.ctime !== undefined) v |= FATTR.CTIME;
  if (set.fh !== undefined) v |= FATTR.FH;
  if (set.lockOwner !== undefined) v |= FATTR.LOCKOWNER;
  if (set.killSuidgid) v |= FATTR.KILL_SUIDGID;
  return v;
}
