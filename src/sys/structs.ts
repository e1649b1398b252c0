/**
 * Codecs for the kernel/glibc structs the project passes around, over Buffers
 * (little-endian; x86_64 and arm64 LP64 layouts). Each has decode and encode;
 * encoders write into a caller-supplied buffer when given one.
 *
 * 64-bit fields that are sizes, counts or seconds decode to numbers (exact up to
 * 2^53); identifiers (inode numbers, mount ids, attribute masks, cookies) decode
 * to bigints.
 */
import { IS_ARM64 } from './constants.js';

import { addressOf, ViewCache } from './util.js';

const TWO32 = 4294967296;

/** Signed 64-bit little-endian integer as a number. */
export function readI64(b: Buffer, off: number): number {
  return b.readInt32LE(off + 4) * TWO32 + b.readUInt32LE(off);
}
/** Unsigned 64-bit little-endian integer as a number. */
export function readU64(b: Buffer, off: number): number {
  return b.readUInt32LE(off + 4) * TWO32 + b.readUInt32LE(off);
}
/** Writes a 64-bit integer (two's complement for negatives) from a number or bigint. */
export function writeI64(b: Buffer, off: number, v: number | bigint): void {
  if (typeof v === 'bigint') {
    b.writeBigUInt64LE(BigInt.asUintN(64, v), off);
    return;
  }
  const hi = Math.floor(v / TWO32);
  b.writeUInt32LE(v - hi * TWO32, off);
  b.writeUInt32LE(hi >>> 0, off + 4);
}

// loff_t in/out arguments (copy_file_range, splice): one scratch each, valid until the next call.
const offIn = Buffer.alloc(8);
const offOut = Buffer.alloc(8);

/** Pointer arguments for an optional pair of loff_t offsets (null: use the fd's position). */
export function offsetPointers(inOff: number | bigint | null, outOff: number | bigint | null): [Buffer | null, Buffer | null] {
  if (inOff !== null) writeI64(offIn, 0, inOff);
  if (outOff !== null) writeI64(offOut, 0, outOff);
  return [inOff === null ? null : offIn, outOff === null ? null : offOut];
}

// ---- dev_t -------------------------------------------------------------------

/** glibc's dev_t encoding (64-bit). */
export function makedev(major: number, minor: number): bigint {
  const ma = BigInt(major >>> 0);
  const mi = BigInt(minor >>> 0);
  return ((ma & 0xfffn) << 8n) | ((ma & 0xfffff000n) << 32n) | (mi & 0xffn) | ((mi & 0xffffff00n) << 12n);
}
export function major(dev: bigint | number): number {
  const d = BigInt(dev);
  return Number(((d >> 8n) & 0xfffn) | ((d >> 32n) & 0xfffff000n));
}
export function minor(dev: bigint | number): number {
  const d = BigInt(dev);
  return Number((d & 0xffn) | ((d >> 12n) & 0xffffff00n));
}
/** The kernel's 32-bit new_encode_dev (what FUSE's attr.rdev and mknod rdev carry). */
export function newEncodeDev(major: number, minor: number): number {
  return ((minor & 0xff) | ((major & 0xfff) << 8) | ((minor & ~0xff) << 12)) >>> 0;
}
export function newDecodeDev(dev: number): { major: number; minor: number } {
  return { major: (dev & 0xfff00) >>> 8, minor: ((dev & 0xff) | ((dev >>> 12) & 0xfff00)) >>> 0 };
}

// ---- struct statx (256 bytes) --------------------------------------------------

export const SIZEOF_STATX = 256;
/** Field offsets, for hot paths that read single fields straight from the buffer. */
export const StatxOff = {
  mask: 0,
  blksize: 4,
  attributes: 8,
  nlink: 16,
  uid: 20,
  gid: 24,
  mode: 28,
  ino: 32,
  size: 40,
  blocks: 48,
  attributesMask: 56,
  atime: 64,
  btime: 80,
  ctime: 96,
  mtime: 112,
  rdevMajor: 128,
  rdevMinor: 132,
  devMajor: 136,
  devMinor: 140,
  mntId: 144,
  dioMemAlign: 152,
  dioOffsetAlign: 156,
  subvol: 160,
  atomicWriteUnitMin: 168,
  atomicWriteUnitMax: 172,
  atomicWriteSegmentsMax: 176,
  dioReadOffsetAlign: 180,
  atomicWriteUnitMaxOpt: 184,
} as const;

export interface Statx {
  /** STATX_* bits the kernel actually filled in. */
  mask: number;
  blksize: number;
  attributes: bigint;
  nlink: number;
  uid: number;
  gid: number;
  /** Full st_mode, file type bits included. */
  mode: number;
  ino: bigint;
  size: number;
  blocks: number;
  attributesMask: bigint;
  atime: number;
  atimeNsec: number;
  btime: number;
  btimeNsec: number;
  ctime: number;
  ctimeNsec: number;
  mtime: number;
  mtimeNsec: number;
  rdevMajor: number;
  rdevMinor: number;
  devMajor: number;
  devMinor: number;
  mntId: bigint;
  dioMemAlign: number;
  dioOffsetAlign: number;
  subvol: bigint;
  atomicWriteUnitMin: number;
  atomicWriteUnitMax: number;
  atomicWriteSegmentsMax: number;
  dioReadOffsetAlign: number;
  atomicWriteUnitMaxOpt: number;
}

const views = new ViewCache();
/** A DataView over `b` (cached for the last buffer asked for). */
/** A DataView of `b`, cached for the struct decoders (see ViewCache). */
export function dataView(b: Uint8Array): DataView {
  return views.of(b);
}

/** Decodes a struct statx; fills `out` in place when given (saves the object allocation). */
export function decodeStatx(b: Buffer, out?: Statx): Statx {
  const v = dataView(b);
  const s = out ?? ({} as Statx);
  s.mask = v.getUint32(0, true);
  s.blksize = v.getUint32(4, true);
  s.attributes = v.getBigUint64(8, true);
  s.nlink = v.getUint32(16, true);
  s.uid = v.getUint32(20, true);
  s.gid = v.getUint32(24, true);
  s.mode = v.getUint16(28, true);
  s.ino = v.getBigUint64(32, true);
  s.size = v.getUint32(44, true) * TWO32 + v.getUint32(40, true);
  s.blocks = v.getUint32(52, true) * TWO32 + v.getUint32(48, true);
  s.attributesMask = v.getBigUint64(56, true);
  s.atime = v.getInt32(68, true) * TWO32 + v.getUint32(64, true);
  s.atimeNsec = v.getUint32(72, true);
  s.btime = v.getInt32(84, true) * TWO32 + v.getUint32(80, true);
  s.btimeNsec = v.getUint32(88, true);
  s.ctime = v.getInt32(100, true) * TWO32 + v.getUint32(96, true);
  s.ctimeNsec = v.getUint32(104, true);
  s.mtime = v.getInt32(116, true) * TWO32 + v.getUint32(112, true);
  s.mtimeNsec = v.getUint32(120, true);
  s.rdevMajor = v.getUint32(128, true);
  s.rdevMinor = v.getUint32(132, true);
  s.devMajor = v.getUint32(136, true);
  s.devMinor = v.getUint32(140, true);
  s.mntId = v.getBigUint64(144, true);
  s.dioMemAlign = v.getUint32(152, true);
  s.dioOffsetAlign = v.getUint32(156, true);
  s.subvol = v.getBigUint64(160, true);
  s.atomicWriteUnitMin = v.getUint32(168, true);
  s.atomicWriteUnitMax = v.getUint32(172, true);
  s.atomicWriteSegmentsMax = v.getUint32(176, true);
  s.dioReadOffsetAlign = v.getUint32(180, true);
  s.atomicWriteUnitMaxOpt = v.getUint32(184, true);
  return s;
}

export function encodeStatx(s: Statx, b: Buffer = Buffer.alloc(SIZEOF_STATX)): Buffer {
  b.fill(0, 0, SIZEOF_STATX);
  b.writeUInt32LE(s.mask, 0);
  b.writeUInt32LE(s.blksize, 4);
  b.writeBigUInt64LE(s.attributes, 8);
  b.writeUInt32LE(s.nlink, 16);
  b.writeUInt32LE(s.uid, 20);
  b.writeUInt32LE(s.gid, 24);
  b.writeUInt16LE(s.mode, 28);
  b.writeBigUInt64LE(s.ino, 32);
  writeI64(b, 40, s.size);
  writeI64(b, 48, s.blocks);
  b.writeBigUInt64LE(s.attributesMask, 56);
  writeI64(b, 64, s.atime);
  b.writeUInt32LE(s.atimeNsec, 72);
  writeI64(b, 80, s.btime);
  b.writeUInt32LE(s.btimeNsec, 88);
  writeI64(b, 96, s.ctime);
  b.writeUInt32LE(s.ctimeNsec, 104);
  writeI64(b, 112, s.mtime);
  b.writeUInt32LE(s.mtimeNsec, 120);
  b.writeUInt32LE(s.rdevMajor, 128);
  b.writeUInt32LE(s.rdevMinor, 132);
  b.writeUInt32LE(s.devMajor, 136);
  b.writeUInt32LE(s.devMinor, 140);
  b.writeBigUInt64LE(s.mntId, 144);
  b.writeUInt32LE(s.dioMemAlign, 152);
  b.writeUInt32LE(s.dioOffsetAlign, 156);
  b.writeBigUInt64LE(s.subvol, 160);
  b.writeUInt32LE(s.atomicWriteUnitMin, 168);
  b.writeUInt32LE(s.atomicWriteUnitMax, 172);
  b.writeUInt32LE(s.atomicWriteSegmentsMax, 176);
  b.writeUInt32LE(s.dioReadOffsetAlign, 180);
  b.writeUInt32LE(s.atomicWriteUnitMaxOpt, 184);
  return b;
}

// ---- struct stat (144 bytes on x86_64, 128 on arm64) ---------------------------

export interface Stat {
  dev: bigint;
  ino: bigint;
  nlink: number;
  mode: number;
  uid: number;
  gid: number;
  rdev: bigint;
  size: number;
  blksize: number;
  blocks: number;
  atime: number;
  atimeNsec: number;
  mtime: number;
  mtimeNsec: number;
  ctime: number;
  ctimeNsec: number;
}

interface StatLayout {
  size: number;
  nlink: number;
  nlink64: boolean;
  mode: number;
  uid: number;
  gid: number;
  rdev: number;
  stSize: number;
  blksize: number;
  blksize64: boolean;
  blocks: number;
}
const STAT_X64: StatLayout = {
  size: 144, nlink: 16, nlink64: true, mode: 24, uid: 28, gid: 32, rdev: 40,
  stSize: 48, blksize: 56, blksize64: true, blocks: 64,
};
// asm-generic layout
const STAT_ARM64: StatLayout = {
  size: 128, nlink: 20, nlink64: false, mode: 16, uid: 24, gid: 28, rdev: 32,
  stSize: 48, blksize: 56, blksize64: false, blocks: 64,
};

/** Decodes/encodes the layout of the given arch; defaults to this process's. */
export function statLayout(arch: 'x64' | 'arm64' = IS_ARM64 ? 'arm64' : 'x64'): StatLayout {
  return arch === 'arm64' ? STAT_ARM64 : STAT_X64;
}
export const SIZEOF_STAT = statLayout().size;

export function decodeStat(b: Buffer, L: StatLayout = statLayout()): Stat {
  return {
    dev: b.readBigUInt64LE(0),
    ino: b.readBigUInt64LE(8),
    nlink: L.nlink64 ? readU64(b, L.nlink) : b.readUInt32LE(L.nlink),
    mode: b.readUInt32LE(L.mode),
    uid: b.readUInt32LE(L.uid),
    gid: b.readUInt32LE(L.gid),
    rdev: b.readBigUInt64LE(L.rdev),
    size: readI64(b, L.stSize),
    blksize: L.blksize64 ? readI64(b, L.blksize) : b.readInt32LE(L.blksize),
    blocks: readI64(b, L.blocks),
    // timespecs sit at 72/88/104 in both layouts
    atime: readI64(b, 72),
    atimeNsec: readI64(b, 80),
    mtime: readI64(b, 88),
    mtimeNsec: readI64(b, 96),
    ctime: readI64(b, 104),
    ctimeNsec: readI64(b, 112),
  };
}

export function encodeStat(s: Stat, b?: Buffer, L: StatLayout = statLayout()): Buffer {
  const buf = b ?? Buffer.alloc(L.size);
  buf.fill(0, 0, L.size);
  buf.writeBigUInt64LE(s.dev, 0);
  buf.writeBigUInt64LE(s.ino, 8);
  if (L.nlink64) writeI64(buf, L.nlink, s.nlink);
  else buf.writeUInt32LE(s.nlink, L.nlink);
  buf.writeUInt32LE(s.mode, L.mode);
  buf.writeUInt32LE(s.uid, L.uid);
  buf.writeUInt32LE(s.gid, L.gid);
  buf.writeBigUInt64LE(s.rdev, L.rdev);
  writeI64(buf, L.stSize, s.size);
  if (L.blksize64) writeI64(buf, L.blksize, s.blksize);
  else buf.writeInt32LE(s.blksize, L.blksize);
  writeI64(buf, L.blocks, s.blocks);
  writeI64(buf, 72, s.atime);
  writeI64(buf, 80, s.atimeNsec);
  writeI64(buf, 88, s.mtime);
  writeI64(buf, 96, s.mtimeNsec);
  writeI64(buf, 104, s.ctime);
  writeI64(buf, 112, s.ctimeNsec);
  return buf;
}

// ---- struct statfs (120 bytes) / struct statvfs (112 bytes) ------------------

export const SIZEOF_STATFS = 120;
export interface Statfs {
  type: number;
  bsize: number;
  blocks: number;
  bfree: number;
  bavail: number;
  files: number;
  ffree: number;
  fsid: [number, number];
  namelen: number;
  frsize: number;
  flags: number;
}

export function decodeStatfs(b: Buffer): Statfs {
  return {
    type: readI64(b, 0),
    bsize: readI64(b, 8),
    blocks: readU64(b, 16),
    bfree: readU64(b, 24),
    bavail: readU64(b, 32),
    files: readU64(b, 40),
    ffree: readU64(b, 48),
    fsid: [b.readInt32LE(56), b.readInt32LE(60)],
    namelen: readI64(b, 64),
    frsize: readI64(b, 72),
    flags: readI64(b, 80),
  };
}

export function encodeStatfs(s: Statfs, b: Buffer = Buffer.alloc(SIZEOF_STATFS)): Buffer {
  b.fill(0, 0, SIZEOF_STATFS);
  writeI64(b, 0, s.type);
  writeI64(b, 8, s.bsize);
  writeI64(b, 16, s.blocks);
  writeI64(b, 24, s.bfree);
  writeI64(b, 32, s.bavail);
  writeI64(b, 40, s.files);
  writeI64(b, 48, s.ffree);
  b.writeInt32LE(s.fsid[0], 56);
  b.writeInt32LE(s.fsid[1], 60);
  writeI64(b, 64, s.namelen);
  writeI64(b, 72, s.frsize);
  writeI64(b, 80, s.flags);
  return b;
}

export const SIZEOF_STATVFS = 112;
export interface Statvfs {
  bsize: number;
  frsize: number;
  blocks: number;
  bfree: number;
  bavail: number;
  files: number;
  ffree: number;
  favail: number;
  fsid: bigint;
  /** ST_* flags (ST_RDONLY = 1, ST_NOSUID = 2, …). */
  flag: number;
  namemax: number;
}

export function decodeStatvfs(b: Buffer): Statvfs {
  return {
    bsize: readU64(b, 0),
    frsize: readU64(b, 8),
    blocks: readU64(b, 16),
    bfree: readU64(b, 24),
    bavail: readU64(b, 32),
    files: readU64(b, 40),
    ffree: readU64(b, 48),
    favail: readU64(b, 56),
    fsid: b.readBigUInt64LE(64),
    flag: readU64(b, 72),
    namemax: readU64(b, 80),
  };
}

export function encodeStatvfs(s: Statvfs, b: Buffer = Buffer.alloc(SIZEOF_STATVFS)): Buffer {
  b.fill(0, 0, SIZEOF_STATVFS);
  writeI64(b, 0, s.bsize);
  writeI64(b, 8, s.frsize);
  writeI64(b, 16, s.blocks);
  writeI64(b, 24, s.bfree);
  writeI64(b, 32, s.bavail);
  writeI64(b, 40, s.files);
  writeI64(b, 48, s.ffree);
  writeI64(b, 56, s.favail);
  b.writeBigUInt64LE(s.fsid, 64);
  writeI64(b, 72, s.flag);
  writeI64(b, 80, s.namemax);
  return b;
}

// ---- struct timespec[2] for utimensat (32 bytes) -------------------------------

export const SIZEOF_TIMESPEC2 = 32;
/** Seconds and nanoseconds for atime and mtime; nsec may be UTIME_NOW / UTIME_OMIT. */
export interface Timespecs {
  atime: number;
  atimeNsec: number;
  mtime: number;
  mtimeNsec: number;
}

export function encodeTimespecs(t: Timespecs, b: Buffer = Buffer.alloc(SIZEOF_TIMESPEC2)): Buffer {
  writeI64(b, 0, t.atime);
  writeI64(b, 8, t.atimeNsec);
  writeI64(b, 16, t.mtime);
  writeI64(b, 24, t.mtimeNsec);
  return b;
}

export function decodeTimespecs(b: Buffer): Timespecs {
  return { atime: readI64(b, 0), atimeNsec: readI64(b, 8), mtime: readI64(b, 16), mtimeNsec: readI64(b, 24) };
}

// ---- struct flock (32 bytes) -----------------------------------------------------

export const SIZEOF_FLOCK = 32;
export interface Flock {
  /** F_RDLCK / F_WRLCK / F_UNLCK */
  type: number;
  /** SEEK_SET / SEEK_CUR / SEEK_END */
  whence: number;
  start: number;
  /** 0 means "to end of file". */
  len: number;
  /** Must be 0 for OFD locks; F_GETLK reports the holder's pid (-1 for OFD holders). */
  pid: number;
}

export function encodeFlock(l: Flock, b: Buffer = Buffer.alloc(SIZEOF_FLOCK)): Buffer {
  b.fill(0, 0, SIZEOF_FLOCK);
  b.writeInt16LE(l.type, 0);
  b.writeInt16LE(l.whence, 2);
  writeI64(b, 8, l.start);
  writeI64(b, 16, l.len);
  b.writeInt32LE(l.pid, 24);
  return b;
}

export function decodeFlock(b: Buffer, out?: Flock): Flock {
  const l = out ?? ({} as Flock);
  l.type = b.readInt16LE(0);
  l.whence = b.readInt16LE(2);
  l.start = readI64(b, 8);
  l.len = readI64(b, 16);
  l.pid = b.readInt32LE(24);
  return l;
}

// ---- struct open_how (24 bytes) ------------------------------------------------

export const SIZEOF_OPEN_HOW = 24;
export interface OpenHow {
  flags: number;
  mode: number;
  resolve: number;
}

export function encodeOpenHow(h: OpenHow, b: Buffer = Buffer.alloc(SIZEOF_OPEN_HOW)): Buffer {
  // flags are an int in every other API; the kernel rejects bits set above 32.
  b.writeUInt32LE(h.flags >>> 0, 0);
  b.writeUInt32LE(0, 4);
  b.writeUInt32LE(h.mode >>> 0, 8);
  b.writeUInt32LE(0, 12);
  writeI64(b, 16, h.resolve);
  return b;
}

export function decodeOpenHow(b: Buffer): OpenHow {
  return { flags: readU64(b, 0), mode: readU64(b, 8), resolve: readU64(b, 16) };
}

// ---- struct file_handle (8 + handle_bytes) -------------------------------------

export const FILE_HANDLE_HEADER = 8;
export interface FileHandle {
  type: number;
  /** The opaque f_handle bytes. */
  bytes: Buffer;
}

/** The raw struct (header + bytes), as name_to_handle_at writes it and open_by_handle_at reads it. */
export function encodeFileHandle(h: FileHandle, b?: Buffer): Buffer {
  const buf = b ?? Buffer.alloc(FILE_HANDLE_HEADER + h.bytes.length);
  buf.writeUInt32LE(h.bytes.length, 0);
  buf.writeInt32LE(h.type, 4);
  h.bytes.copy(buf, FILE_HANDLE_HEADER);
  return buf;
}

/** `bytes` is a view into `b`. */
export function decodeFileHandle(b: Buffer): FileHandle {
  const n = b.readUInt32LE(0);
  return { type: b.readInt32LE(4), bytes: b.subarray(FILE_HANDLE_HEADER, FILE_HANDLE_HEADER + n) };
}

// ---- struct pollfd (8 bytes each) ------------------------------------------------

export const SIZEOF_POLLFD = 8;
export interface PollFd {
  fd: number;
  events: number;
  revents: number;
}

export function encodePollfds(fds: readonly PollFd[], b: Buffer = Buffer.alloc(fds.length * SIZEOF_POLLFD)): Buffer {
  for (let i = 0; i < fds.length; i++) {
    const p = fds[i]!;
    b.writeInt32LE(p.fd, i * 8);
    b.writeInt16LE(p.events << 16 >> 16, i * 8 + 4);
    b.writeInt16LE(p.revents << 16 >> 16, i * 8 + 6);
  }
  return b;
}

/** Updates fd/events/revents of `fds` from `b` (or creates the objects when `fds` is a count). */
export function decodePollfds(b: Buffer, fds: PollFd[] | number): PollFd[] {
  const out = typeof fds === 'number' ? new Array<PollFd>(fds) : fds;
  for (let i = 0; i < out.length; i++) {
    const p = out[i] ?? (out[i] = { fd: 0, events: 0, revents: 0 });
    p.fd = b.readInt32LE(i * 8);
    p.events = b.readUInt16LE(i * 8 + 4);
    p.revents = b.readUInt16LE(i * 8 + 6);
  }
  return out;
}

// ---- struct iovec (16 bytes each) ------------------------------------------------

export const SIZEOF_IOVEC = 16;

/** Writes iovecs pointing at `bufs` into `b` (the buffers must stay alive while the iovecs are used). */
export function encodeIovecs(bufs: readonly ArrayBufferView[], b: Buffer = Buffer.alloc(bufs.length * SIZEOF_IOVEC)): Buffer {
  for (let i = 0; i < bufs.length; i++) {
    const v = bufs[i]!;
    writeI64(b, i * 16, addressOf(v));
    writeI64(b, i * 16 + 8, v.byteLength);
  }
  return b;
}

export function decodeIovecs(b: Buffer, count: number): { base: bigint; len: number }[] {
  const out = [];
  for (let i = 0; i < count; i++) out.push({ base: b.readBigUInt64LE(i * 16), len: readU64(b, i * 16 + 8) });
  return out;
}

// ---- struct xattr_args (16 bytes) ------------------------------------------------

export const SIZEOF_XATTR_ARGS = 16;
export interface XattrArgs {
  /** Address of the value buffer (0 for a size probe). */
  value: bigint;
  size: number;
  flags: number;
}

export function encodeXattrArgs(a: XattrArgs, b: Buffer = Buffer.alloc(SIZEOF_XATTR_ARGS)): Buffer {
  b.writeBigUInt64LE(a.value, 0);
  b.writeUInt32LE(a.size, 8);
  b.writeUInt32LE(a.flags, 12);
  return b;
}

export function decodeXattrArgs(b: Buffer): XattrArgs {
  return { value: b.readBigUInt64LE(0), size: b.readUInt32LE(8), flags: b.readUInt32LE(12) };
}

// ---- struct msghdr (56 bytes) and cmsghdr ---------------------------------------

export const SIZEOF_MSGHDR = 56;
export interface MsgHdr {
  name: bigint;
  namelen: number;
  iov: bigint;
  iovlen: number;
  control: bigint;
  controllen: number;
  flags: number;
}

export function encodeMsghdr(m: MsgHdr, b: Buffer = Buffer.alloc(SIZEOF_MSGHDR)): Buffer {
  b.fill(0, 0, SIZEOF_MSGHDR);
  b.writeBigUInt64LE(m.name, 0);
  b.writeUInt32LE(m.namelen, 8);
  b.writeBigUInt64LE(m.iov, 16);
  writeI64(b, 24, m.iovlen);
  b.writeBigUInt64LE(m.control, 32);
  writeI64(b, 40, m.controllen);
  b.writeInt32LE(m.flags, 48);
  return b;
}

export function decodeMsghdr(b: Buffer): MsgHdr {
  return {
    name: b.readBigUInt64LE(0),
    namelen: b.readUInt32LE(8),
    iov: b.readBigUInt64LE(16),
    iovlen: readU64(b, 24),
    control: b.readBigUInt64LE(32),
    controllen: readU64(b, 40),
    flags: b.readInt32LE(48),
  };
}

export const SIZEOF_CMSGHDR = 16;
export function CMSG_ALIGN(n: number): number {
  return (n + 7) & ~7;
}
export function CMSG_LEN(n: number): number {
  return SIZEOF_CMSGHDR + n;
}
export function CMSG_SPACE(n: number): number {
  return SIZEOF_CMSGHDR + CMSG_ALIGN(n);
}

export interface Cmsg {
  level: number;
  type: number;
  /** View of the payload inside the control buffer. */
  data: Buffer;
}

/** Writes control messages into `b`; returns the control length to put in msg_controllen. */
export function encodeCmsgs(msgs: readonly { level: number; type: number; data: Buffer }[], b: Buffer): number {
  let off = 0;
  for (const m of msgs) {
    const space = CMSG_SPACE(m.data.length);
    b.fill(0, off, off + space);
    writeI64(b, off, CMSG_LEN(m.data.length));
    b.writeInt32LE(m.level, off + 8);
    b.writeInt32LE(m.type, off + 12);
    m.data.copy(b, off + SIZEOF_CMSGHDR);
    off += space;
  }
  return off;
}

export function decodeCmsgs(b: Buffer, controllen: number): Cmsg[] {
  const out: Cmsg[] = [];
  let off = 0;
  while (off + SIZEOF_CMSGHDR <= controllen) {
    const len = readU64(b, off);
    if (len < SIZEOF_CMSGHDR || off + len > controllen) break;
    out.push({ level: b.readInt32LE(off + 8), type: b.readInt32LE(off + 12), data: b.subarray(off + SIZEOF_CMSGHDR, off + len) });
    off += CMSG_ALIGN(len);
  }
  return out;
}
