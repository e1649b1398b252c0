/**
 * Golden-byte tests of the FUSE codec against <linux/fuse.h>.
 *
 * test/codec.test.ts round-trips through the project's own encoder and
 * decoder, which share their offsets: a wrong offset in both goes unnoticed.
 * Here the layout comes from the C compiler instead. test/abi/layout.c is
 * compiled against the installed header and prints sizeof/offsetof of every
 * struct the codec touches; replies are encoded with the codec and every field
 * is looked for at the C offset with the C width, and requests are built byte
 * by byte from the C offsets (not with encodeRequest) and decoded.
 *
 * The installed header can be older than the protocol the codec speaks
 * (Debian 12's linux-libc-dev is 7.38; the codec speaks 7.45). What it lacks
 * is in HAND_STRUCTS / HAND_CONSTS below, written from the kernel's
 * include/uapi/linux/fuse.h at 7.45; where the installed header has the same
 * struct or constant the two are checked against each other. To run against
 * another copy of the header, point ABI_TEST_INCLUDE at a directory holding
 * linux/fuse.h.
 */
import { test } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { constants, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Attr, Entry, StatxAttr } from '../src/fs/types.js';
import * as abi from '../src/fuse/abi.js';
import {
  COMPAT, DevIoctl, FATTR, InitFlag, IN_HEADER_SIZE, NotifyCode, Opcode, OUT_HEADER_SIZE, SIZE,
} from '../src/fuse/abi.js';
import {
  decodeHeader, decodeRequest, direntPlusSize, direntSize, encodeNotifyDelete, encodeNotifyIncEpoch,
  encodeNotifyInvalEntry, encodeNotifyInvalInode, encodeNotifyPoll, encodeNotifyPrune, encodeNotifyResend,
  encodeNotifyRetrieve, encodeNotifyStore, initOutSize, makeDev, ProtocolError, writeAttr, writeAttrOut,
  writeBmapOut, writeCopyFileRangeOut64, writeCreateOut, writeDirent, writeDirentPlus, writeEntryOut,
  writeGetxattrOut, writeInitOut, writeIoctlIovec, writeIoctlOut, writeLkOut, writeLseekOut, writeOpenOut,
  writeOutHeader, writePollOut, writeStatfsOut, writeStatxOut, writeWriteOut,
} from '../src/fuse/codec.js';
import type { DecodeOptions, InitOut, Request, RequestExt } from '../src/fuse/codec.js';

const { EINVAL } = constants.errno;

// ---------------------------------------------------------------------------
// The layout, from the C compiler

interface Field {
  off: number;
  /** Bytes; 0 for a flexible array member. */
  width: number;
  /** For a member that is itself a struct: its name. */
  type?: string;
}
interface Struct {
  size: number;
  /** In offset order. */
  fields: Map<string, Field>;
}
interface Layout {
  /** FUSE_KERNEL_MINOR_VERSION of the installed header. */
  minor: number;
  structs: Map<string, Struct>;
  consts: Map<string, bigint>;
}

const LAYOUT_C = fileURLToPath(new URL('../../test/abi/layout.c', import.meta.url));

/** Why the whole file is skipped, or undefined. Only a missing compiler skips; a failing build fails. */
const SKIP: string | undefined = spawnSync('cc', ['--version']).error
  ? 'no C compiler (cc): these tests compile test/abi/layout.c against <linux/fuse.h>; '
    + 'install gcc, libc6-dev and linux-libc-dev (.ci/run does)'
  : undefined;

function compileLayout(): Layout {
  const dir = mkdtempSync(join(tmpdir(), 'fuse-abi-'));
  try {
    const exe = join(dir, 'layout');
    const inc = process.env.ABI_TEST_INCLUDE ? ['-I', process.env.ABI_TEST_INCLUDE] : [];
    const cc = spawnSync('cc', ['-std=c11', '-Wall', '-Werror', ...inc, '-o', exe, LAYOUT_C], { encoding: 'utf8' });
    if (cc.status !== 0) {
      throw new Error(`cc ${LAYOUT_C} failed (is linux-libc-dev installed?):\n${cc.stderr}${cc.error ?? ''}`);
    }
    const run = spawnSync(exe, [], { encoding: 'utf8' });
    if (run.status !== 0) throw new Error(`${exe} failed: ${run.stderr}`);
    const raw = JSON.parse(run.stdout) as {
      minor: number;
      structs: Record<string, { size: number; fields: Record<string, [number, number, string?]> }>;
      consts: Record<string, string>;
    };
    const structs = new Map<string, Struct>();
    for (const [name, s] of Object.entries(raw.structs)) {
      const fields = new Map<string, Field>();
      for (const [f, [off, width, type]] of Object.entries(s.fields)) {
        fields.set(f, type === undefined ? { off, width } : { off, width, type });
      }
      structs.set(name, { size: s.size, fields });
    }
    const consts = new Map(Object.entries(raw.consts).map(([k, v]) => [k, BigInt(v)]));
    return { minor: raw.minor, structs, consts };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------
// What the installed header may lack, by hand from include/uapi/linux/fuse.h
// at 7.45. Each entry names its struct and the minor that added it.

interface HandStruct {
  size: number;
  /** true: every field is listed; false: only fields carved out of the padding of an older layout. */
  full: boolean;
  fields: [name: string, off: number, width: number, type?: string][];
}

const HAND_STRUCTS: Record<string, HandStruct> = {
  // struct fuse_open_out: 7.40 turned `uint32_t padding` into `int32_t backing_id`.
  fuse_open_out: { size: 16, full: false, fields: [['backing_id', 12, 4]] },
  // struct fuse_init_out: 7.40 added `uint32_t max_stack_depth`, 7.43 `uint16_t request_timeout`,
  // both out of `unused[]` (uint32_t unused[7] became uint16_t unused[11]).
  fuse_init_out: { size: 64, full: false, fields: [['max_stack_depth', 36, 4], ['request_timeout', 40, 2]] },
  // struct fuse_statx_in (7.39)
  fuse_statx_in: {
    size: 24, full: true,
    fields: [['getattr_flags', 0, 4], ['reserved', 4, 4], ['fh', 8, 8], ['sx_flags', 16, 4], ['sx_mask', 20, 4]],
  },
  // struct fuse_sx_time (7.39): int64_t tv_sec; uint32_t tv_nsec; int32_t __reserved
  fuse_sx_time: { size: 16, full: true, fields: [['tv_sec', 0, 8], ['tv_nsec', 8, 4], ['__reserved', 12, 4]] },
  // struct fuse_statx (7.39), "bit-for-bit compatible with the statx(2) ABI"
  fuse_statx: {
    size: 256, full: true,
    fields: [
      ['mask', 0, 4], ['blksize', 4, 4], ['attributes', 8, 8], ['nlink', 16, 4], ['uid', 20, 4], ['gid', 24, 4],
      ['mode', 28, 2], ['__spare0', 30, 2], ['ino', 32, 8], ['size', 40, 8], ['blocks', 48, 8],
      ['attributes_mask', 56, 8], ['atime', 64, 16, 'fuse_sx_time'], ['btime', 80, 16, 'fuse_sx_time'],
      ['ctime', 96, 16, 'fuse_sx_time'], ['mtime', 112, 16, 'fuse_sx_time'], ['rdev_major', 128, 4],
      ['rdev_minor', 132, 4], ['dev_major', 136, 4], ['dev_minor', 140, 4], ['__spare2', 144, 112],
    ],
  },
  // struct fuse_statx_out (7.39)
  fuse_statx_out: {
    size: 288, full: true,
    fields: [['attr_valid', 0, 8], ['attr_valid_nsec', 8, 4], ['flags', 12, 4], ['spare', 16, 16], ['stat', 32, 256, 'fuse_statx']],
  },
  // struct fuse_supp_groups (FUSE_EXT_GROUPS, listed under 7.38; in the header since Linux 6.7)
  fuse_supp_groups: { size: 4, full: true, fields: [['nr_groups', 0, 4], ['groups', 4, 0]] },
  // struct fuse_backing_map (7.40): int32_t fd; uint32_t flags; uint64_t padding
  fuse_backing_map: { size: 16, full: true, fields: [['fd', 0, 4], ['flags', 4, 4], ['padding', 8, 8]] },
  // struct fuse_notify_prune_out (7.45)
  fuse_notify_prune_out: { size: 16, full: true, fields: [['count', 0, 4], ['padding', 4, 4], ['spare', 8, 8]] },
  // struct fuse_copy_file_range_out (7.45)
  fuse_copy_file_range_out: { size: 8, full: true, fields: [['bytes_copied', 0, 8]] },
};

/**
 * Constants by hand from the 7.45 header. A string value names a constant that
 * layout.c computes: the ioctl numbers are built with this machine's _IOW/_IO
 * rather than re-implemented here.
 */
const HAND_CONSTS: Record<string, bigint | string> = {
  FUSE_KERNEL_MINOR_VERSION: 45n,
  FUSE_STATX: 52n, // enum fuse_opcode (7.39)
  FUSE_COPY_FILE_RANGE_64: 53n, // enum fuse_opcode (7.45)
  FUSE_NOTIFY_RESEND: 7n, // enum fuse_notify_code (7.40)
  FUSE_NOTIFY_INC_EPOCH: 8n, // (7.44)
  FUSE_NOTIFY_PRUNE: 9n, // (7.45)
  FUSE_CREATE_SUPP_GROUP: 1n << 34n,
  FUSE_DIRECT_IO_ALLOW_MMAP: 1n << 36n,
  FUSE_PASSTHROUGH: 1n << 37n,
  FUSE_NO_EXPORT_SUPPORT: 1n << 38n,
  FUSE_HAS_RESEND: 1n << 39n,
  FUSE_ALLOW_IDMAP: 1n << 40n,
  FUSE_OVER_IO_URING: 1n << 41n,
  FUSE_REQUEST_TIMEOUT: 1n << 42n,
  FOPEN_PASSTHROUGH: 1n << 7n,
  FUSE_EXT_GROUPS: 32n, // enum fuse_ext_type
  FUSE_UNIQUE_RESEND: 1n << 63n,
  FUSE_INVALID_UIDGID: 0xffffffffn, // ((uint32_t)(-1))
  FUSE_DEV_IOC_BACKING_OPEN: 'IOW_229_1_16', // _IOW(229, 1, struct fuse_backing_map)
  FUSE_DEV_IOC_BACKING_CLOSE: 'IOW_229_2_4', // _IOW(229, 2, uint32_t)
  FUSE_DEV_IOC_SYNC_INIT: 'IO_229_3', // _IO(229, 3)
};

/**
 * FUSE_KERNEL_MINOR_VERSION is the protocol the codec speaks, not a layout
 * fact: it is checked against HAND_CONSTS only, never against an installed
 * header, which is usually older (and may one day be newer).
 */
const NOT_FROM_HEADER = new Set(['FUSE_KERNEL_MINOR_VERSION']);

const RESERVED = /^_*(padding|unused|spare|dummy|reserved)\d*(@\d+)?$/;
const isReserved = (name: string) => RESERVED.test(name);

/** The natural alignment a field of `width` bytes needs (capped at 8: no FUSE field needs more). */
const alignOf = (width: number) => (width === 0 ? 1 : Math.min(width & -width, 8));

interface Merged {
  layout: Layout;
  /** Disagreements between HAND_* and the installed header, or defects in HAND_STRUCTS. */
  problems: string[];
  /** Struct and field names that came from HAND_STRUCTS, for the log. */
  fromHand: string[];
}

function merge(c: Layout): Merged {
  const problems: string[] = [];
  const fromHand: string[] = [];
  const structs = new Map(c.structs);
  for (const [name, h] of Object.entries(HAND_STRUCTS)) {
    const have = c.structs.get(name);
    const handFields = new Map<string, Field>(
      h.fields.map(([f, off, width, type]) => [f, type === undefined ? { off, width } : { off, width, type }]),
    );
    if (h.full) {
      // A complete layout: fields tile the struct in order, each naturally aligned.
      let at = 0;
      for (const [f, fd] of handFields) {
        if (fd.off !== at) problems.push(`${name}.${f} at ${fd.off}, expected ${at} (gap or overlap)`);
        if (fd.off % alignOf(fd.type ? 8 : fd.width) !== 0) problems.push(`${name}.${f} at ${fd.off} is misaligned`);
        if (fd.type && structs.get(fd.type)?.size !== undefined && structs.get(fd.type)!.size !== fd.width) {
          problems.push(`${name}.${f}: ${fd.width} bytes, but struct ${fd.type} has ${structs.get(fd.type)!.size}`);
        }
        at = fd.off + fd.width;
      }
      if (at !== h.size) problems.push(`${name}: fields end at ${at}, struct is ${h.size}`);
    }
    if (!have) {
      if (!h.full) problems.push(`${name}: the installed header lacks it and the hand entry is partial`);
      structs.set(name, { size: h.size, fields: handFields });
      fromHand.push(name);
      continue;
    }
    if (have.size !== h.size) problems.push(`${name}: sizeof ${have.size} in the header, ${h.size} by hand`);
    const fields = new Map(have.fields);
    for (const [f, fd] of handFields) {
      const cf = have.fields.get(f);
      if (cf) {
        if (cf.off !== fd.off || cf.width !== fd.width || cf.type !== fd.type) {
          problems.push(`${name}.${f}: header [${cf.off}, ${cf.width}], by hand [${fd.off}, ${fd.width}]`);
        }
        continue;
      }
      if (h.full) {
        problems.push(`${name}.${f}: by hand, but the installed header's struct has no such field`);
        continue;
      }
      // A field the header still calls padding: it must lie wholly inside reserved bytes,
      // which keep their name for what is left of them.
      const end = fd.off + fd.width;
      let covered = 0;
      for (const [rn, rf] of [...fields]) {
        const rEnd = rf.off + rf.width;
        if (rEnd <= fd.off || rf.off >= end) continue;
        if (!isReserved(rn)) {
          problems.push(`${name}.${f} [${fd.off}, ${fd.width}] overlaps ${rn}, which is not padding`);
          continue;
        }
        covered += Math.min(end, rEnd) - Math.max(fd.off, rf.off);
        fields.delete(rn);
        const base = rn.replace(/@\d+$/, '');
        if (rf.off < fd.off) fields.set(`${base}@${rf.off}`, { off: rf.off, width: fd.off - rf.off });
        if (rEnd > end) fields.set(`${base}@${end}`, { off: end, width: rEnd - end });
      }
      if (covered !== fd.width) problems.push(`${name}.${f}: only ${covered} of its ${fd.width} bytes are padding in the header`);
      fields.set(f, fd);
      fromHand.push(`${name}.${f}`);
    }
    if (h.full) {
      for (const f of have.fields.keys()) {
        if (!handFields.has(f)) problems.push(`${name}.${f}: in the installed header, missing by hand`);
      }
    }
    structs.set(name, { size: have.size, fields: new Map([...fields].sort((a, b) => a[1].off - b[1].off)) });
  }

  const consts = new Map(c.consts);
  for (const [name, v] of Object.entries(HAND_CONSTS)) {
    const value = typeof v === 'string' ? c.consts.get(v) : v;
    if (value === undefined) {
      problems.push(`${name}: refers to ${String(v)}, which layout.c did not print`);
      continue;
    }
    const have = c.consts.get(name);
    if (NOT_FROM_HEADER.has(name)) {
      consts.set(name, value);
    } else if (have === undefined) {
      consts.set(name, value);
      fromHand.push(name);
    } else if (have !== value) {
      problems.push(`${name}: ${have} in the header, ${value} by hand`);
    }
  }
  return { layout: { minor: c.minor, structs, consts }, problems, fromHand };
}

let cached: Merged | Error | undefined;
function merged(): Merged {
  if (cached === undefined) {
    try {
      cached = merge(compileLayout());
    } catch (e) {
      cached = e instanceof Error ? e : new Error(String(e));
    }
  }
  if (cached instanceof Error) throw cached;
  return cached;
}
const L = (): Layout => merged().layout;

function struct(name: string): Struct {
  const s = L().structs.get(name);
  if (!s) throw new Error(`layout.c printed no struct ${name}`);
  return s;
}
const sizeOf = (name: string) => struct(name).size;
function field(name: string, f: string): Field {
  const fd = struct(name).fields.get(f);
  if (!fd) throw new Error(`struct ${name} has no field ${f}`);
  return fd;
}
const offsetOf = (name: string, f: string) => field(name, f).off;
function hconst(name: string): bigint {
  const v = L().consts.get(name);
  if (v === undefined) throw new Error(`no header constant ${name}`);
  return v;
}
const hnum = (name: string) => Number(hconst(name));

function t(name: string, fn: (ctx: TestContext) => void | Promise<void>): void {
  test(name, { skip: SKIP }, fn);
}

// ---------------------------------------------------------------------------
// Byte helpers, independent of the codec

function readLE(buf: Buffer, off: number, width: number): bigint {
  let v = 0n;
  for (let i = width - 1; i >= 0; i--) v = (v << 8n) | BigInt(buf[off + i]!);
  return v;
}
function writeLE(buf: Buffer, off: number, width: number, v: bigint): void {
  let x = BigInt.asUintN(width * 8, v);
  for (let i = 0; i < width; i++, x >>= 8n) buf[off + i] = Number(x & 0xffn);
}
const hex = (v: bigint) => `0x${v.toString(16)}`;
const cstr = (s: string) => Buffer.from(`${s}\0`);

/**
 * Field values whose bytes differ from field to field and within a field
 * (byte j of the n-th value is (n << 3 | j) + 1), so that a value written or
 * read at the wrong offset or width is caught. Only the low `bytes` bytes are
 * set: u64 fields carried as JS numbers stay below 2^48, where they are exact.
 */
class Patterns {
  private n = 0;
  next(bytes: number): bigint {
    this.n = (this.n % 30) + 1;
    let v = 0n;
    for (let j = 0; j < bytes; j++) v |= BigInt(((this.n << 3) | j) + 1) << BigInt(8 * j);
    return v;
  }
  big(): bigint { return this.next(8); }
  u32(): number { return Number(this.next(4)); }
  u16(): number { return Number(this.next(2)); }
  /** A u64 carried as a number. */
  num(): number { return Number(this.next(6)); }
}

/** Expected field values of a struct; a nested struct has an object. */
interface Vals { [field: string]: bigint | number | Vals }

/** Bytes the golden checks fill buffers with, to see what an encoder did not write. */
const SENTINEL = 0xa5;
/** What the request builder puts in padding: the decoder must not read it. */
const JUNK = 0xee;

/**
 * Check that `buf` holds struct `name` at `base` with the values in `exp`, by
 * the C layout: each field at its C offset with its C width, little-endian;
 * padding zero. Fields that start at or after `limit` (a compat size) are not
 * part of the reply: unless `more` says another struct follows there, they
 * must not have been written at all.
 */
function checkStruct(
  buf: Buffer, base: number, name: string, exp: Vals, limit = Infinity, more = false, path = name,
): void {
  const s = struct(name);
  for (const k of Object.keys(exp)) assert.ok(s.fields.has(k), `${path}: the test names ${k}, which the header lacks`);
  for (const [f, fd] of s.fields) {
    if (fd.width === 0) continue;
    const at = base + fd.off;
    const where = `${path}.${f} at +${fd.off}, ${fd.width} bytes`;
    if (fd.off >= limit) {
      if (more) continue;
      for (let i = 0; i < fd.width; i++) assert.equal(buf[at + i], SENTINEL, `${where}: written past the compat size`);
      continue;
    }
    // A nested struct may be cut by the compat size (fuse_attr in the 7.8 fuse_entry_out); a scalar may not.
    assert.ok(fd.type !== undefined || fd.off + fd.width <= limit, `${where}: straddles the compat size ${limit}`);
    const e = exp[f];
    if (fd.type !== undefined) {
      assert.ok(typeof e === 'object', `${where}: the test gives no values`);
      checkStruct(buf, at, fd.type, e, limit - fd.off, more, `${path}.${f}`);
    } else if (e === undefined) {
      assert.ok(isReserved(f), `${where}: the test gives no value for it`);
      for (let i = 0; i < fd.width; i++) assert.equal(buf[at + i], 0, `${where}: padding not zeroed`);
    } else {
      assert.ok(typeof e !== 'object', `${where}: not a struct`);
      const want = BigInt.asUintN(fd.width * 8, BigInt(e));
      const got = readLE(buf, at, fd.width);
      assert.equal(got, want, `${where}: ${hex(got)}, want ${hex(want)}`);
    }
  }
}

/**
 * Run a reply encoder at a non-zero offset into a sentinel-filled buffer; check
 * it returns the end of `size` bytes and touches nothing outside them.
 */
function encodeAt(size: number, enc: (buf: Buffer, off: number) => number): { buf: Buffer; off: number } {
  const off = 24;
  const buf = Buffer.alloc(off + size + 64, SENTINEL);
  assert.equal(enc(buf, off), off + size, 'returned offset');
  for (let i = 0; i < off; i++) assert.equal(buf[i], SENTINEL, `byte ${i} before the reply written`);
  for (let i = off + size; i < buf.length; i++) assert.equal(buf[i], SENTINEL, `byte ${i - off} after the reply written`);
  return { buf, off };
}

/** Write struct `name` with `vals` by the C layout; padding gets JUNK. Fields at or past `limit` are left out. */
function put(buf: Buffer, base: number, name: string, vals: Vals, limit = Infinity, path = name): void {
  const s = struct(name);
  for (const k of Object.keys(vals)) {
    if (!s.fields.has(k)) throw new Error(`${path}: the test names ${k}, which the header lacks`);
  }
  for (const [f, fd] of s.fields) {
    if (fd.width === 0 || fd.off >= limit) continue;
    if (fd.type === undefined && fd.off + fd.width > limit) throw new Error(`${path}.${f} straddles the compat size ${limit}`);
    const v = vals[f];
    if (fd.type !== undefined) {
      if (typeof v !== 'object') throw new Error(`${path}.${f}: no values given`);
      put(buf, base + fd.off, fd.type, v, limit - fd.off, `${path}.${f}`);
    } else if (v === undefined) {
      if (!isReserved(f)) throw new Error(`${path}.${f}: no value given`);
      buf.fill(JUNK, base + fd.off, base + fd.off + fd.width);
    } else {
      if (typeof v === 'object') throw new Error(`${path}.${f}: not a struct`);
      writeLE(buf, base + fd.off, fd.width, BigInt(v));
    }
  }
}

/** Struct `name` as bytes, `limit` bytes of it for an older minor's shorter layout. */
function body(name: string, vals: Vals, limit?: number): Buffer {
  const buf = Buffer.alloc(limit ?? sizeOf(name));
  put(buf, 0, name, vals, limit);
  return buf;
}

const HDR = { unique: 0x8123456789abcdefn, nodeid: 0x0102030405060708n, uid: 0xf1f2f3f4, gid: 0xe1e2e3e4, pid: 0xd1d2d3d4 };

/** A request as the kernel lays it out: fuse_in_header, the op's arguments, then the extension area. */
function request(opcode: number, parts: Buffer[], ext: Buffer = Buffer.alloc(0)): Buffer {
  const hs = sizeOf('fuse_in_header');
  const args = Buffer.concat(parts);
  const buf = Buffer.alloc(hs + args.length + ext.length);
  assert.equal(ext.length % 8, 0, 'extension area is in 8-byte units');
  put(buf, 0, 'fuse_in_header', { len: buf.length, opcode, ...HDR, total_extlen: ext.length / 8 });
  args.copy(buf, hs);
  ext.copy(buf, hs + args.length);
  return buf;
}

/** FUSE_REC_ALIGN: the header's rounding of variable-length records (dirents, extensions). */
const recAlign = (n: number) => hnum(`FUSE_REC_ALIGN(${n})`);

// ---------------------------------------------------------------------------

t('the hand-written 7.45 layouts agree with the installed header', (ctx) => {
  const m = merged();
  ctx.diagnostic(`installed <linux/fuse.h> is 7.${m.layout.minor}; supplied by hand: ${m.fromHand.join(', ') || 'nothing'}`);
  assert.deepStrictEqual(m.problems, []);
});

t('every size constant in abi.ts is the header\'s sizeof', () => {
  assert.equal(IN_HEADER_SIZE, sizeOf('fuse_in_header'));
  assert.equal(OUT_HEADER_SIZE, sizeOf('fuse_out_header'));
  assert.equal(abi.FUSE_MIN_READ_BUFFER, hnum('FUSE_MIN_READ_BUFFER'));

  const sizes: Record<keyof typeof SIZE, number> = {
    ATTR: sizeOf('fuse_attr'),
    ENTRY_OUT: sizeOf('fuse_entry_out'),
    ATTR_OUT: sizeOf('fuse_attr_out'),
    OPEN_OUT: sizeOf('fuse_open_out'),
    KSTATFS: sizeOf('fuse_kstatfs'),
    FILE_LOCK: sizeOf('fuse_file_lock'),
    INIT_IN: sizeOf('fuse_init_in'),
    INIT_OUT: sizeOf('fuse_init_out'),
    STATX: sizeOf('fuse_statx'),
    STATX_OUT: sizeOf('fuse_statx_out'),
    // The codec uses it as "where the name starts": both must hold.
    DIRENT: sizeOf('fuse_dirent'),
    DIRENTPLUS: sizeOf('fuse_direntplus'),
    IOCTL_OUT: sizeOf('fuse_ioctl_out'),
    IOCTL_IOVEC: sizeOf('fuse_ioctl_iovec'),
    SETATTR_IN: sizeOf('fuse_setattr_in'),
    READ_IN: sizeOf('fuse_read_in'),
    WRITE_IN: sizeOf('fuse_write_in'),
    FORGET_ONE: sizeOf('fuse_forget_one'),
  };
  for (const k of Object.keys(SIZE) as (keyof typeof SIZE)[]) {
    assert.ok(k in sizes, `SIZE.${k} has no header counterpart in this test`);
    assert.equal(SIZE[k], sizes[k], `SIZE.${k}`);
  }
  assert.equal(SIZE.DIRENT, hnum('FUSE_NAME_OFFSET'));
  assert.equal(SIZE.DIRENTPLUS, hnum('FUSE_NAME_OFFSET_DIRENTPLUS'));
  assert.equal(SIZE.DIRENTPLUS, sizeOf('fuse_entry_out') + sizeOf('fuse_dirent'));
});

t('compat sizes in abi.ts are the header\'s FUSE_COMPAT_* or the older layout\'s offsets', () => {
  const compat: Record<keyof typeof COMPAT, number> = {
    ENTRY_OUT_SIZE: hnum('FUSE_COMPAT_ENTRY_OUT_SIZE'),
    ATTR_OUT_SIZE: hnum('FUSE_COMPAT_ATTR_OUT_SIZE'),
    MKNOD_IN_SIZE: hnum('FUSE_COMPAT_MKNOD_IN_SIZE'),
    WRITE_IN_SIZE: hnum('FUSE_COMPAT_WRITE_IN_SIZE'),
    STATFS_SIZE: hnum('FUSE_COMPAT_STATFS_SIZE'),
    INIT_OUT_SIZE: hnum('FUSE_COMPAT_INIT_OUT_SIZE'),
    INIT_OUT_22_SIZE: hnum('FUSE_COMPAT_22_INIT_OUT_SIZE'),
    SETXATTR_IN_SIZE: hnum('FUSE_COMPAT_SETXATTR_IN_SIZE'),
    // The header has no constant for these: the older layout ends where the
    // fields the changelog says were added begin.
    CREATE_IN_SIZE: sizeOf('fuse_open_in'), // < 7.12 the kernel sends a fuse_open_in-sized fuse_create_in
    READ_IN_SIZE: offsetOf('fuse_read_in', 'lock_owner'), // 7.9 added lock_owner, flags
    LK_IN_SIZE: offsetOf('fuse_lk_in', 'lk_flags'), // 7.9 added lk_flags
    RELEASE_IN_SIZE: offsetOf('fuse_release_in', 'lock_owner'), // 7.8 added release_flags (in old padding), lock_owner
    INIT_IN_SIZE: offsetOf('fuse_init_in', 'flags2'), // 7.36 added flags2, unused[]
  };
  for (const k of Object.keys(COMPAT) as (keyof typeof COMPAT)[]) {
    assert.ok(k in compat, `COMPAT.${k} has no header counterpart in this test`);
    assert.equal(COMPAT[k], compat[k], `COMPAT.${k}`);
  }
  // The compat reply sizes are prefixes of today's structs that end on a field boundary.
  assert.equal(COMPAT.ENTRY_OUT_SIZE, offsetOf('fuse_entry_out', 'attr') + offsetOf('fuse_attr', 'blksize'));
  assert.equal(COMPAT.ATTR_OUT_SIZE, offsetOf('fuse_attr_out', 'attr') + offsetOf('fuse_attr', 'blksize'));
  assert.equal(COMPAT.STATFS_SIZE, offsetOf('fuse_kstatfs', 'frsize'));
  assert.equal(COMPAT.INIT_OUT_SIZE, offsetOf('fuse_init_out', 'max_readahead'));
  assert.equal(COMPAT.INIT_OUT_22_SIZE, offsetOf('fuse_init_out', 'time_gran'));
  assert.equal(COMPAT.MKNOD_IN_SIZE, offsetOf('fuse_mknod_in', 'umask'));
  assert.equal(COMPAT.SETXATTR_IN_SIZE, offsetOf('fuse_setxattr_in', 'setxattr_flags'));
  assert.equal(COMPAT.WRITE_IN_SIZE, offsetOf('fuse_write_in', 'lock_owner'));
});

t('every other constant in abi.ts is the header\'s', () => {
  const check = (what: string, got: number | bigint, header: string) =>
    assert.equal(BigInt(got), hconst(header), `${what} vs ${header}`);
  const group = (prefix: string, obj: Record<string, number | bigint>, name = (k: string) => `${prefix}${k}`) => {
    for (const [k, v] of Object.entries(obj)) check(k, v, name(k));
  };

  check('FUSE_KERNEL_VERSION', abi.FUSE_KERNEL_VERSION, 'FUSE_KERNEL_VERSION');
  check('FUSE_KERNEL_MINOR_VERSION', abi.FUSE_KERNEL_MINOR_VERSION, 'FUSE_KERNEL_MINOR_VERSION');
  check('ROOT_ID', abi.ROOT_ID, 'FUSE_ROOT_ID');
  group('FUSE_', Opcode, (k) => (k === 'CUSE_INIT' ? k : `FUSE_${k}`));
  group('FUSE_', InitFlag);
  check('CUSE_UNRESTRICTED_IOCTL', abi.CUSE_UNRESTRICTED_IOCTL, 'CUSE_UNRESTRICTED_IOCTL');
  group('FATTR_', FATTR);
  group('FOPEN_', abi.FOPEN);
  group('FUSE_RELEASE_', abi.RELEASE);
  check('GETATTR_FH', abi.GETATTR_FH, 'FUSE_GETATTR_FH');
  check('LK_FLOCK', abi.LK_FLOCK, 'FUSE_LK_FLOCK');
  group('FUSE_WRITE_', abi.WRITE);
  check('READ_LOCKOWNER', abi.READ_LOCKOWNER, 'FUSE_READ_LOCKOWNER');
  group('FUSE_IOCTL_', abi.IOCTL);
  check('POLL_SCHEDULE_NOTIFY', abi.POLL_SCHEDULE_NOTIFY, 'FUSE_POLL_SCHEDULE_NOTIFY');
  check('FSYNC_FDATASYNC', abi.FSYNC_FDATASYNC, 'FUSE_FSYNC_FDATASYNC');
  group('FUSE_ATTR_', abi.ATTR);
  check('OPEN_KILL_SUIDGID', abi.OPEN_KILL_SUIDGID, 'FUSE_OPEN_KILL_SUIDGID');
  check('SETXATTR_ACL_KILL_SGID', abi.SETXATTR_ACL_KILL_SGID, 'FUSE_SETXATTR_ACL_KILL_SGID');
  check('EXPIRE_ONLY', abi.EXPIRE_ONLY, 'FUSE_EXPIRE_ONLY');
  group('FUSE_SETUPMAPPING_FLAG_', abi.SETUPMAPPING_FLAG);
  check('ExtType.MAX_NR_SECCTX', abi.ExtType.MAX_NR_SECCTX, 'FUSE_MAX_NR_SECCTX');
  check('ExtType.GROUPS', abi.ExtType.GROUPS, 'FUSE_EXT_GROUPS');
  group('FUSE_NOTIFY_', NotifyCode);
  check('UNIQUE_RESEND', abi.UNIQUE_RESEND, 'FUSE_UNIQUE_RESEND');
  check('INVALID_UIDGID', abi.INVALID_UIDGID, 'FUSE_INVALID_UIDGID');
  group('FUSE_DEV_IOC_', DevIoctl);
  // The ioctl sizes are the argument structs'.
  assert.equal(sizeOf('fuse_backing_map'), 16, '_IOW(229, 1, struct fuse_backing_map) assumed 16 bytes');
});

t('dirent record sizes are FUSE_DIRENT_ALIGN of the header\'s name offsets', () => {
  for (let n = 0; n <= 24; n++) {
    assert.equal(direntSize(n), hnum(`FUSE_DIRENT_ALIGN(FUSE_NAME_OFFSET+${n})`), `direntSize(${n})`);
    assert.equal(direntPlusSize(n), hnum(`FUSE_DIRENT_ALIGN(FUSE_NAME_OFFSET_DIRENTPLUS+${n})`), `direntPlusSize(${n})`);
  }
});

// ---------------------------------------------------------------------------
// Replies: the codec encodes, the C layout reads

function attrValues(p: Patterns): { attr: Attr; exp: Vals } {
  const attr: Attr = {
    ino: p.big(), size: p.num(), blocks: p.num(),
    // Negative: timestamps are s64 on the wire.
    atime: -p.num(), mtime: p.num(), ctime: p.num(),
    atimeNsec: p.u32(), mtimeNsec: p.u32(), ctimeNsec: p.u32(),
    mode: p.u32(), nlink: p.u32(), uid: p.u32(), gid: p.u32(), rdev: p.u32(), blksize: p.u32(), flags: p.u32(),
  };
  const exp: Vals = {
    ino: attr.ino, size: attr.size, blocks: attr.blocks, atime: attr.atime, mtime: attr.mtime, ctime: attr.ctime,
    atimensec: attr.atimeNsec, mtimensec: attr.mtimeNsec, ctimensec: attr.ctimeNsec, mode: attr.mode,
    nlink: attr.nlink, uid: attr.uid, gid: attr.gid, rdev: attr.rdev, blksize: attr.blksize, flags: attr.flags,
  };
  return { attr, exp };
}

/**
 * A timeout in float seconds whose fraction is exact in binary, so the
 * expected nanoseconds are exact too.
 */
function timeoutValue(p: Patterns, frac: 0.25 | 0.5 | 0.75): { t: number; sec: number; nsec: number } {
  const sec = p.u32();
  return { t: sec + frac, sec, nsec: frac * 1e9 };
}

function entryValues(p: Patterns): { entry: Entry; exp: Vals } {
  const nodeid = p.big();
  const generation = p.big();
  const ev = timeoutValue(p, 0.25);
  const av = timeoutValue(p, 0.75);
  const { attr, exp: attrExp } = attrValues(p);
  return {
    entry: { nodeid, generation, entryTimeout: ev.t, attrTimeout: av.t, attr },
    exp: {
      nodeid, generation, entry_valid: ev.sec, attr_valid: av.sec, entry_valid_nsec: ev.nsec,
      attr_valid_nsec: av.nsec, attr: attrExp,
    },
  };
}

t('reply golden bytes: fuse_out_header', () => {
  const p = new Patterns();
  const len = p.u32();
  const unique = p.big();
  // The encoder writes the header at offset 0 of its buffer.
  const buf = Buffer.alloc(64, SENTINEL);
  assert.equal(writeOutHeader(buf, len, -61, unique), sizeOf('fuse_out_header'));
  checkStruct(buf, 0, 'fuse_out_header', { len, error: -61, unique });
  for (let i = sizeOf('fuse_out_header'); i < buf.length; i++) assert.equal(buf[i], SENTINEL);
});

t('reply golden bytes: fuse_attr, fuse_entry_out, fuse_attr_out', () => {
  const p = new Patterns();
  const { attr, exp } = attrValues(p);
  let r = encodeAt(sizeOf('fuse_attr'), (b, o) => writeAttr(b, o, attr));
  checkStruct(r.buf, r.off, 'fuse_attr', exp);

  const e = entryValues(p);
  r = encodeAt(sizeOf('fuse_entry_out'), (b, o) => writeEntryOut(b, o, e.entry, 45));
  checkStruct(r.buf, r.off, 'fuse_entry_out', e.exp);

  const av = timeoutValue(p, 0.5);
  r = encodeAt(sizeOf('fuse_attr_out'), (b, o) => writeAttrOut(b, o, av.t, attr, 45));
  checkStruct(r.buf, r.off, 'fuse_attr_out', { attr_valid: av.sec, attr_valid_nsec: av.nsec, attr: exp });
});

t('reply golden bytes: compat fuse_entry_out/fuse_attr_out stop at FUSE_COMPAT_*_SIZE before 7.9', () => {
  const p = new Patterns();
  const e = entryValues(p);
  const compat = hnum('FUSE_COMPAT_ENTRY_OUT_SIZE');
  let r = encodeAt(compat, (b, o) => writeEntryOut(b, o, e.entry, 8));
  checkStruct(r.buf, r.off, 'fuse_entry_out', e.exp, compat);

  const { attr, exp } = attrValues(p);
  const av = timeoutValue(p, 0.25);
  const compatAttr = hnum('FUSE_COMPAT_ATTR_OUT_SIZE');
  r = encodeAt(compatAttr, (b, o) => writeAttrOut(b, o, av.t, attr, 8));
  checkStruct(r.buf, r.off, 'fuse_attr_out', { attr_valid: av.sec, attr_valid_nsec: av.nsec, attr: exp }, compatAttr);

  // CREATE before 7.9: the open reply follows the short entry directly.
  const fh = p.big();
  const openFlags = p.u32();
  r = encodeAt(compat + sizeOf('fuse_open_out'), (b, o) => writeCreateOut(b, o, e.entry, { fh, openFlags }, 8));
  checkStruct(r.buf, r.off, 'fuse_entry_out', e.exp, compat, true);
  checkStruct(r.buf, r.off + compat, 'fuse_open_out', { fh, open_flags: openFlags, backing_id: 0 });
});

t('reply golden bytes: fuse_open_out and CREATE (fuse_entry_out + fuse_open_out)', () => {
  const p = new Patterns();
  const fh = p.big();
  const openFlags = p.u32();
  // backing_id is signed (int32_t).
  const backingId = -p.u16();
  let r = encodeAt(sizeOf('fuse_open_out'), (b, o) => writeOpenOut(b, o, { fh, openFlags, backingId }));
  checkStruct(r.buf, r.off, 'fuse_open_out', { fh, open_flags: openFlags, backing_id: backingId });
  // No backing file: backing_id is 0, not left as whatever was in the buffer.
  r = encodeAt(sizeOf('fuse_open_out'), (b, o) => writeOpenOut(b, o, { fh, openFlags }));
  checkStruct(r.buf, r.off, 'fuse_open_out', { fh, open_flags: openFlags, backing_id: 0 });

  const e = entryValues(p);
  const eo = sizeOf('fuse_entry_out');
  r = encodeAt(eo + sizeOf('fuse_open_out'), (b, o) => writeCreateOut(b, o, e.entry, { fh, openFlags, backingId }, 45));
  checkStruct(r.buf, r.off, 'fuse_entry_out', e.exp);
  checkStruct(r.buf, r.off + eo, 'fuse_open_out', { fh, open_flags: openFlags, backing_id: backingId });
});

t('reply golden bytes: fuse_statfs_out, and FUSE_COMPAT_STATFS_SIZE before 7.4', () => {
  const p = new Patterns();
  const s = {
    blocks: p.num(), bfree: p.num(), bavail: p.num(), files: p.num(), ffree: p.num(),
    bsize: p.u32(), namelen: p.u32(), frsize: p.u32(),
  };
  const st: Vals = { ...s };
  let r = encodeAt(sizeOf('fuse_statfs_out'), (b, o) => writeStatfsOut(b, o, s, 45));
  checkStruct(r.buf, r.off, 'fuse_statfs_out', { st });
  const compat = hnum('FUSE_COMPAT_STATFS_SIZE');
  r = encodeAt(compat, (b, o) => writeStatfsOut(b, o, s, 3));
  checkStruct(r.buf, r.off, 'fuse_statfs_out', { st }, compat);
});

t('reply golden bytes: the small replies', () => {
  const p = new Patterns();
  const one = (name: string, exp: Vals, enc: (b: Buffer, o: number) => number) => {
    const r = encodeAt(sizeOf(name), enc);
    checkStruct(r.buf, r.off, name, exp);
  };
  const n1 = p.u32();
  one('fuse_write_out', { size: n1 }, (b, o) => writeWriteOut(b, o, n1));
  const n2 = p.u32();
  one('fuse_getxattr_out', { size: n2 }, (b, o) => writeGetxattrOut(b, o, n2));
  const n3 = p.u32();
  one('fuse_poll_out', { revents: n3 }, (b, o) => writePollOut(b, o, n3));
  const lock = { start: p.big(), end: p.big(), type: p.u32(), pid: p.u32() };
  one('fuse_lk_out', { lk: { ...lock } }, (b, o) => writeLkOut(b, o, lock));
  const block = p.big();
  one('fuse_bmap_out', { block }, (b, o) => writeBmapOut(b, o, block));
  // result is int32_t: a negative errno.
  const io = { result: -p.u16(), flags: p.u32(), in_iovs: p.u32(), out_iovs: p.u32() };
  one('fuse_ioctl_out', io, (b, o) => writeIoctlOut(b, o, io.result, io.flags, io.in_iovs, io.out_iovs));
  const iov = { base: p.big(), len: p.num() };
  one('fuse_ioctl_iovec', iov, (b, o) => writeIoctlIovec(b, o, iov.base, iov.len));
  const lseek = p.num();
  one('fuse_lseek_out', { offset: lseek }, (b, o) => writeLseekOut(b, o, lseek));
  const copied = p.num();
  one('fuse_copy_file_range_out', { bytes_copied: copied }, (b, o) => writeCopyFileRangeOut64(b, o, copied));
});

t('reply golden bytes: fuse_statx_out', () => {
  const p = new Patterns();
  const tv = timeoutValue(p, 0.5);
  const flags = p.u32();
  const rdevMajor = 0xabc; // new_encode_dev: 12-bit major, 20-bit minor
  const rdevMinor = 0x12345;
  // Fields StatxAttr inherits but fuse_statx lacks (or has under another name): from a
  // pattern sequence of their own, so the 30 distinct values all go to the struct under test.
  const base = attrValues(new Patterns()).attr;
  const sx: StatxAttr = {
    ...base,
    mode: p.u16(), mask: p.u32(), blksize: p.u32(), attributes: p.big(), nlink: p.u32(), uid: p.u32(), gid: p.u32(),
    ino: p.big(), size: p.num(), blocks: p.num(), attributesMask: p.big(),
    atime: -p.num(), atimeNsec: p.u32(), btime: p.num(), btimeNsec: p.u32(), ctime: p.num(), ctimeNsec: p.u32(),
    mtime: p.num(), mtimeNsec: p.u32(), rdev: makeDev(rdevMajor, rdevMinor), devMajor: p.u32(), devMinor: p.u32(),
  };
  const r = encodeAt(sizeOf('fuse_statx_out'), (b, o) => writeStatxOut(b, o, tv.t, flags, sx));
  checkStruct(r.buf, r.off, 'fuse_statx_out', {
    attr_valid: tv.sec, attr_valid_nsec: tv.nsec, flags,
    stat: {
      mask: sx.mask, blksize: sx.blksize, attributes: sx.attributes, nlink: sx.nlink, uid: sx.uid, gid: sx.gid,
      mode: sx.mode, ino: sx.ino, size: sx.size, blocks: sx.blocks, attributes_mask: sx.attributesMask,
      atime: { tv_sec: sx.atime, tv_nsec: sx.atimeNsec },
      btime: { tv_sec: sx.btime, tv_nsec: sx.btimeNsec },
      ctime: { tv_sec: sx.ctime, tv_nsec: sx.ctimeNsec },
      mtime: { tv_sec: sx.mtime, tv_nsec: sx.mtimeNsec },
      rdev_major: rdevMajor, rdev_minor: rdevMinor, dev_major: sx.devMajor, dev_minor: sx.devMinor,
    },
  });
});

t('reply golden bytes: fuse_init_out at 7.45 and at the FUSE_COMPAT_*INIT_OUT_SIZE minors', () => {
  const p = new Patterns();
  const lo = p.u32();
  const hi = p.u32();
  const o: InitOut = {
    major: p.u32(), minor: p.u32(), maxReadahead: p.u32(), flags: BigInt(lo) | (BigInt(hi) << 32n),
    maxBackground: p.u16(), congestionThreshold: p.u16(), maxWrite: p.u32(), timeGran: p.u32(), maxPages: p.u16(),
    mapAlignment: p.u16(), maxStackDepth: p.u32(), requestTimeout: p.u16(),
  };
  const exp: Vals = {
    major: o.major, minor: o.minor, max_readahead: o.maxReadahead, flags: lo, max_background: o.maxBackground,
    congestion_threshold: o.congestionThreshold, max_write: o.maxWrite, time_gran: o.timeGran,
    max_pages: o.maxPages, map_alignment: o.mapAlignment, flags2: hi, max_stack_depth: o.maxStackDepth,
    request_timeout: o.requestTimeout,
  };
  // Sizes by the minor of the kernel's INIT: < 7.5 the 8-byte one, < 7.23 the 24-byte one.
  for (const [kernelMinor, size] of [
    [45, sizeOf('fuse_init_out')], [23, sizeOf('fuse_init_out')],
    [22, hnum('FUSE_COMPAT_22_INIT_OUT_SIZE')], [5, hnum('FUSE_COMPAT_22_INIT_OUT_SIZE')],
    [4, hnum('FUSE_COMPAT_INIT_OUT_SIZE')],
  ] as const) {
    assert.equal(initOutSize(kernelMinor), size, `initOutSize(${kernelMinor})`);
    const r = encodeAt(size, (b, off) => writeInitOut(b, off, o, kernelMinor));
    checkStruct(r.buf, r.off, 'fuse_init_out', exp, size);
  }
});

t('reply golden bytes: fuse_dirent and fuse_direntplus records', () => {
  const p = new Patterns();
  for (const name of ['x', 'hello', 'eightchr', 'a-longer-name.txt']) {
    const nb = Buffer.from(name);
    const ino = p.big();
    const off = p.big();
    const type = p.u32();
    const nameAt = hnum('FUSE_NAME_OFFSET');
    const size = hnum(`FUSE_DIRENT_ALIGN(FUSE_NAME_OFFSET+${nb.length})`);
    const r = encodeAt(size, (b, o) => writeDirent(b, o, ino, off, type, nb));
    checkStruct(r.buf, r.off, 'fuse_dirent', { ino, off, namelen: nb.length, type });
    assert.deepStrictEqual(r.buf.subarray(r.off + nameAt, r.off + nameAt + nb.length), nb, `${name}: name`);
    for (let i = nameAt + nb.length; i < size; i++) assert.equal(r.buf[r.off + i], 0, `${name}: padding byte ${i}`);

    const e = entryValues(p);
    const plusAt = hnum('FUSE_NAME_OFFSET_DIRENTPLUS');
    const plusSize = hnum(`FUSE_DIRENT_ALIGN(FUSE_NAME_OFFSET_DIRENTPLUS+${nb.length})`);
    const rp = encodeAt(plusSize, (b, o) => writeDirentPlus(b, o, e.entry, off, type, nb));
    // The dirent's ino is the attr's, as the kernel's readdirplus expects.
    checkStruct(rp.buf, rp.off, 'fuse_direntplus', {
      entry_out: e.exp, dirent: { ino: e.entry.attr.ino, off, namelen: nb.length, type },
    });
    assert.deepStrictEqual(rp.buf.subarray(rp.off + plusAt, rp.off + plusAt + nb.length), nb, `${name}: plus name`);
    for (let i = plusAt + nb.length; i < plusSize; i++) assert.equal(rp.buf[rp.off + i], 0, `${name}: plus padding ${i}`);
  }
});

t('notification golden bytes: fuse_out_header with unique 0, then fuse_notify_*_out', () => {
  const p = new Patterns();
  const oh = sizeOf('fuse_out_header');
  /** Encode into a sentinel buffer; check header, the total length, and that nothing past it was written. */
  const notify = (code: number, total: number, enc: (b: Buffer) => number): Buffer => {
    const buf = Buffer.alloc(total + 64, SENTINEL);
    assert.equal(enc(buf), total, `notify ${code}: length`);
    checkStruct(buf, 0, 'fuse_out_header', { len: total, error: code, unique: 0n });
    for (let i = total; i < buf.length; i++) assert.equal(buf[i], SENTINEL, `notify ${code}: byte ${i} past the end`);
    return buf;
  };

  const kh = p.big();
  let b = notify(hnum('FUSE_NOTIFY_POLL'), oh + sizeOf('fuse_notify_poll_wakeup_out'), (x) => encodeNotifyPoll(x, kh));
  checkStruct(b, oh, 'fuse_notify_poll_wakeup_out', { kh });

  // off and len are int64_t: negative means "attributes only" / "to the end".
  const ino = p.big();
  const ioff = -p.big() >> 8n;
  const ilen = -1n;
  b = notify(hnum('FUSE_NOTIFY_INVAL_INODE'), oh + sizeOf('fuse_notify_inval_inode_out'),
    (x) => encodeNotifyInvalInode(x, ino, ioff, ilen));
  checkStruct(b, oh, 'fuse_notify_inval_inode_out', { ino, off: ioff, len: ilen });

  const name = Buffer.from('entry-name');
  const parent = p.big();
  const flags = p.u32();
  const ie = sizeOf('fuse_notify_inval_entry_out');
  b = notify(hnum('FUSE_NOTIFY_INVAL_ENTRY'), oh + ie + name.length + 1, (x) => encodeNotifyInvalEntry(x, parent, name, flags));
  checkStruct(b, oh, 'fuse_notify_inval_entry_out', { parent, namelen: name.length, flags });
  assert.deepStrictEqual(b.subarray(oh + ie, oh + ie + name.length + 1), cstr('entry-name'));

  const child = p.big();
  const del = sizeOf('fuse_notify_delete_out');
  b = notify(hnum('FUSE_NOTIFY_DELETE'), oh + del + name.length + 1, (x) => encodeNotifyDelete(x, parent, child, name));
  checkStruct(b, oh, 'fuse_notify_delete_out', { parent, child, namelen: name.length });
  assert.deepStrictEqual(b.subarray(oh + del, oh + del + name.length + 1), cstr('entry-name'));

  const data = Buffer.from('stored bytes');
  const node = p.big();
  const offset = p.big();
  const so = sizeOf('fuse_notify_store_out');
  b = notify(hnum('FUSE_NOTIFY_STORE'), oh + so + data.length, (x) => encodeNotifyStore(x, node, offset, data));
  checkStruct(b, oh, 'fuse_notify_store_out', { nodeid: node, offset, size: data.length });
  assert.deepStrictEqual(b.subarray(oh + so, oh + so + data.length), data);

  const nu = p.big();
  const size = p.u32();
  b = notify(hnum('FUSE_NOTIFY_RETRIEVE'), oh + sizeOf('fuse_notify_retrieve_out'),
    (x) => encodeNotifyRetrieve(x, nu, node, offset, size));
  checkStruct(b, oh, 'fuse_notify_retrieve_out', { notify_unique: nu, nodeid: node, offset, size });

  // fuse_notify_prune_out, then count uint64_t node ids.
  const nodes = [p.big(), p.big(), p.big()];
  const po = sizeOf('fuse_notify_prune_out');
  b = notify(hnum('FUSE_NOTIFY_PRUNE'), oh + po + nodes.length * 8, (x) => encodeNotifyPrune(x, nodes));
  checkStruct(b, oh, 'fuse_notify_prune_out', { count: nodes.length });
  nodes.forEach((n, i) => assert.equal(readLE(b, oh + po + i * 8, 8), n, `prune node ${i}`));

  notify(hnum('FUSE_NOTIFY_RESEND'), oh, (x) => encodeNotifyResend(x));
  notify(hnum('FUSE_NOTIFY_INC_EPOCH'), oh, (x) => encodeNotifyIncEpoch(x));
});

// ---------------------------------------------------------------------------
// Requests: bytes by the C layout, decoded by the codec

interface ReqCase {
  name: string;
  opcode: number;
  minor: number;
  opts?: DecodeOptions;
  parts: Buffer[];
  ext?: Buffer;
  expect: Request;
  expectExt?: RequestExt;
}

function requestCases(): ReqCase[] {
  const p = new Patterns();
  const cases: ReqCase[] = [];
  const add = (c: ReqCase) => cases.push(c);
  const name = Buffer.from('a-name');
  const name2 = Buffer.from('other');

  for (const [op, opcode] of [['lookup', Opcode.LOOKUP], ['unlink', Opcode.UNLINK], ['rmdir', Opcode.RMDIR],
    ['removexattr', Opcode.REMOVEXATTR]] as const) {
    add({ name: op, opcode, minor: 45, parts: [cstr('a-name')], expect: { op, name } });
  }
  for (const [op, opcode] of [['readlink', Opcode.READLINK], ['statfs', Opcode.STATFS], ['destroy', Opcode.DESTROY]] as const) {
    add({ name: op, opcode, minor: 45, parts: [], expect: { op } });
  }
  add({ name: 'symlink', opcode: Opcode.SYMLINK, minor: 45, parts: [cstr('a-name'), cstr('other')], expect: { op: 'symlink', name, target: name2 } });

  {
    const v = { nlookup: p.big() };
    add({ name: 'forget', opcode: Opcode.FORGET, minor: 45, parts: [body('fuse_forget_in', v)], expect: { op: 'forget', nlookup: v.nlookup } });
  }
  {
    const v = { getattr_flags: p.u32(), fh: p.big() };
    add({
      name: 'getattr', opcode: Opcode.GETATTR, minor: 45, parts: [body('fuse_getattr_in', v)],
      expect: { op: 'getattr', getattrFlags: v.getattr_flags, fh: v.fh },
    });
  }
  {
    const valid = hnum('FATTR_MODE') | hnum('FATTR_UID') | hnum('FATTR_GID') | hnum('FATTR_SIZE') | hnum('FATTR_ATIME')
      | hnum('FATTR_MTIME') | hnum('FATTR_FH') | hnum('FATTR_LOCKOWNER') | hnum('FATTR_CTIME') | hnum('FATTR_KILL_SUIDGID');
    const v = {
      valid, fh: p.big(), size: p.num(), lock_owner: p.big(), atime: -p.num(), mtime: p.num(), ctime: p.num(),
      atimensec: p.u32(), mtimensec: p.u32(), ctimensec: p.u32(), mode: p.u32(), uid: p.u32(), gid: p.u32(),
    };
    add({
      name: 'setattr, every field', opcode: Opcode.SETATTR, minor: 45, parts: [body('fuse_setattr_in', v)],
      expect: {
        op: 'setattr', valid,
        set: {
          mode: v.mode, uid: v.uid, gid: v.gid, size: v.size, atime: { sec: v.atime, nsec: v.atimensec },
          mtime: { sec: v.mtime, nsec: v.mtimensec }, ctime: { sec: v.ctime, nsec: v.ctimensec }, fh: v.fh,
          lockOwner: v.lock_owner, killSuidgid: true,
        },
      },
    });
    const now = hnum('FATTR_ATIME') | hnum('FATTR_ATIME_NOW') | hnum('FATTR_MTIME') | hnum('FATTR_MTIME_NOW');
    add({
      name: 'setattr, times now', opcode: Opcode.SETATTR, minor: 45, parts: [body('fuse_setattr_in', { ...v, valid: now })],
      expect: { op: 'setattr', valid: now, set: { atime: 'now', mtime: 'now', killSuidgid: false } },
    });
  }
  {
    const v = { mode: p.u32(), rdev: p.u32(), umask: p.u32() };
    add({
      name: 'mknod', opcode: Opcode.MKNOD, minor: 45, parts: [body('fuse_mknod_in', v), cstr('a-name')],
      expect: { op: 'mknod', mode: v.mode, rdev: v.rdev, umask: v.umask, name },
    });
    add({
      name: 'mknod before 7.12 (FUSE_COMPAT_MKNOD_IN_SIZE)', opcode: Opcode.MKNOD, minor: 11,
      parts: [body('fuse_mknod_in', v, hnum('FUSE_COMPAT_MKNOD_IN_SIZE')), cstr('a-name')],
      expect: { op: 'mknod', mode: v.mode, rdev: v.rdev, umask: 0, name },
    });
  }
  {
    const v = { mode: p.u32(), umask: p.u32() };
    add({
      name: 'mkdir', opcode: Opcode.MKDIR, minor: 45, parts: [body('fuse_mkdir_in', v), cstr('a-name')],
      expect: { op: 'mkdir', mode: v.mode, umask: v.umask, name },
    });
    add({
      name: 'mkdir before 7.12 (umask not yet defined)', opcode: Opcode.MKDIR, minor: 11,
      parts: [body('fuse_mkdir_in', v), cstr('a-name')], expect: { op: 'mkdir', mode: v.mode, umask: 0, name },
    });
  }
  {
    const v = { newdir: p.big() };
    add({
      name: 'rename', opcode: Opcode.RENAME, minor: 45, parts: [body('fuse_rename_in', v), cstr('a-name'), cstr('other')],
      expect: { op: 'rename', newDir: v.newdir, flags: 0, name, newName: name2 },
    });
    const v2 = { newdir: p.big(), flags: p.u32() };
    add({
      name: 'rename2', opcode: Opcode.RENAME2, minor: 45, parts: [body('fuse_rename2_in', v2), cstr('a-name'), cstr('other')],
      expect: { op: 'rename', newDir: v2.newdir, flags: v2.flags, name, newName: name2 },
    });
  }
  {
    const v = { oldnodeid: p.big() };
    add({
      name: 'link', opcode: Opcode.LINK, minor: 45, parts: [body('fuse_link_in', v), cstr('a-name')],
      expect: { op: 'link', oldNode: v.oldnodeid, newName: name },
    });
  }
  for (const [op, opcode] of [['open', Opcode.OPEN], ['opendir', Opcode.OPENDIR]] as const) {
    const v = { flags: p.u32(), open_flags: p.u32() };
    add({ name: op, opcode, minor: 45, parts: [body('fuse_open_in', v)], expect: { op, flags: v.flags, openFlags: v.open_flags } });
  }
  {
    const v = { fh: p.big(), offset: p.num(), size: p.u32(), read_flags: p.u32(), lock_owner: p.big(), flags: p.u32() };
    add({
      name: 'read', opcode: Opcode.READ, minor: 45, parts: [body('fuse_read_in', v)],
      expect: { op: 'read', fh: v.fh, offset: v.offset, size: v.size, readFlags: v.read_flags, lockOwner: v.lock_owner, flags: v.flags },
    });
    add({
      name: 'read before 7.9 (no lock_owner, flags)', opcode: Opcode.READ, minor: 8,
      parts: [body('fuse_read_in', v, offsetOf('fuse_read_in', 'lock_owner'))],
      expect: { op: 'read', fh: v.fh, offset: v.offset, size: v.size, readFlags: v.read_flags, lockOwner: 0n, flags: 0 },
    });
    // READDIR(PLUS) reuses fuse_read_in; its offset is a full 64-bit cookie, and the
    // codec exposes fh, offset and size only.
    for (const [op, opcode] of [['readdir', Opcode.READDIR], ['readdirplus', Opcode.READDIRPLUS]] as const) {
      const d = { ...v, offset: p.big() };
      add({ name: op, opcode, minor: 45, parts: [body('fuse_read_in', d)], expect: { op, fh: d.fh, offset: d.offset, size: d.size } });
    }
  }
  {
    const data = Buffer.from('payload');
    const v = { fh: p.big(), offset: p.num(), size: data.length, write_flags: p.u32(), lock_owner: p.big(), flags: p.u32() };
    add({
      name: 'write', opcode: Opcode.WRITE, minor: 45, parts: [body('fuse_write_in', v), data],
      expect: { op: 'write', fh: v.fh, offset: v.offset, size: v.size, writeFlags: v.write_flags, lockOwner: v.lock_owner, flags: v.flags, data },
    });
    add({
      name: 'write before 7.9 (FUSE_COMPAT_WRITE_IN_SIZE)', opcode: Opcode.WRITE, minor: 8,
      parts: [body('fuse_write_in', v, hnum('FUSE_COMPAT_WRITE_IN_SIZE')), data],
      expect: { op: 'write', fh: v.fh, offset: v.offset, size: v.size, writeFlags: v.write_flags, lockOwner: 0n, flags: 0, data },
    });
  }
  for (const [op, opcode] of [['release', Opcode.RELEASE], ['releasedir', Opcode.RELEASEDIR]] as const) {
    const v = { fh: p.big(), flags: p.u32(), release_flags: p.u32(), lock_owner: p.big() };
    add({
      name: op, opcode, minor: 45, parts: [body('fuse_release_in', v)],
      expect: { op, fh: v.fh, flags: v.flags, releaseFlags: v.release_flags, lockOwner: v.lock_owner },
    });
    // 7.7's struct was {fh, flags, padding}: where release_flags is now was padding then.
    add({
      name: `${op} before 7.8`, opcode, minor: 7, parts: [body('fuse_release_in', v, offsetOf('fuse_release_in', 'lock_owner'))],
      expect: { op, fh: v.fh, flags: v.flags, releaseFlags: 0, lockOwner: 0n },
    });
  }
  for (const [op, opcode] of [['fsync', Opcode.FSYNC], ['fsyncdir', Opcode.FSYNCDIR]] as const) {
    const v = { fh: p.big(), fsync_flags: p.u32() };
    add({ name: op, opcode, minor: 45, parts: [body('fuse_fsync_in', v)], expect: { op, fh: v.fh, fsyncFlags: v.fsync_flags } });
  }
  {
    const value = Buffer.from('v\0lue');
    const v = { size: value.length, flags: p.u32(), setxattr_flags: p.u32() };
    add({
      name: 'setxattr with SETXATTR_EXT', opcode: Opcode.SETXATTR, minor: 45, opts: { setxattrExt: true },
      parts: [body('fuse_setxattr_in', v), cstr('a-name'), value],
      expect: { op: 'setxattr', size: v.size, flags: v.flags, setxattrFlags: v.setxattr_flags, name, value },
    });
    add({
      name: 'setxattr without SETXATTR_EXT (FUSE_COMPAT_SETXATTR_IN_SIZE)', opcode: Opcode.SETXATTR, minor: 45,
      parts: [body('fuse_setxattr_in', v, hnum('FUSE_COMPAT_SETXATTR_IN_SIZE')), cstr('a-name'), value],
      expect: { op: 'setxattr', size: v.size, flags: v.flags, setxattrFlags: 0, name, value },
    });
  }
  {
    const v = { size: p.u32() };
    add({
      name: 'getxattr', opcode: Opcode.GETXATTR, minor: 45, parts: [body('fuse_getxattr_in', v), cstr('a-name')],
      expect: { op: 'getxattr', size: v.size, name },
    });
    const w = { size: p.u32() };
    add({ name: 'listxattr', opcode: Opcode.LISTXATTR, minor: 45, parts: [body('fuse_getxattr_in', w)], expect: { op: 'listxattr', size: w.size } });
  }
  {
    const v = { fh: p.big(), lock_owner: p.big() };
    add({ name: 'flush', opcode: Opcode.FLUSH, minor: 45, parts: [body('fuse_flush_in', v)], expect: { op: 'flush', fh: v.fh, lockOwner: v.lock_owner } });
  }
  {
    const lo = p.u32() | hnum('FUSE_INIT_EXT');
    const v = { major: hnum('FUSE_KERNEL_VERSION'), minor: 45, max_readahead: p.u32(), flags: lo >>> 0, flags2: p.u32() };
    add({
      name: 'init with INIT_EXT (flags2)', opcode: Opcode.INIT, minor: 45, parts: [body('fuse_init_in', v)],
      expect: { op: 'init', major: v.major, minor: v.minor, maxReadahead: v.max_readahead, flags: BigInt(v.flags) | (BigInt(v.flags2) << 32n) },
    });
    // Without INIT_EXT the kernel does not define flags2.
    const plain = { ...v, flags: (lo & ~hnum('FUSE_INIT_EXT')) >>> 0 };
    add({
      name: 'init without INIT_EXT', opcode: Opcode.INIT, minor: 45, parts: [body('fuse_init_in', plain)],
      expect: { op: 'init', major: v.major, minor: v.minor, maxReadahead: v.max_readahead, flags: BigInt(plain.flags) },
    });
    const old = { ...v, minor: 35 };
    add({
      name: 'init before 7.36 (no flags2)', opcode: Opcode.INIT, minor: 45,
      parts: [body('fuse_init_in', old, offsetOf('fuse_init_in', 'flags2'))],
      expect: { op: 'init', major: v.major, minor: 35, maxReadahead: v.max_readahead, flags: BigInt(v.flags) },
    });
  }
  for (const [opname, opcode, sleep] of [['getlk', Opcode.GETLK, false], ['setlk', Opcode.SETLK, false], ['setlkw', Opcode.SETLKW, true]] as const) {
    const lk = { start: p.big(), end: p.big(), type: p.u32(), pid: p.u32() };
    const v = { fh: p.big(), owner: p.big(), lk, lk_flags: p.u32() };
    const common = { fh: v.fh, owner: v.owner, lock: { ...lk }, lkFlags: v.lk_flags };
    add({
      name: opname, opcode, minor: 45, parts: [body('fuse_lk_in', v)],
      expect: opname === 'getlk' ? { op: 'getlk', ...common } : { op: 'setlk', ...common, sleep },
    });
  }
  {
    const v = { mask: p.u32() };
    add({ name: 'access', opcode: Opcode.ACCESS, minor: 45, parts: [body('fuse_access_in', v)], expect: { op: 'access', mask: v.mask } });
  }
  {
    const v = { flags: p.u32(), mode: p.u32(), umask: p.u32(), open_flags: p.u32() };
    add({
      name: 'create', opcode: Opcode.CREATE, minor: 45, parts: [body('fuse_create_in', v), cstr('a-name')],
      expect: { op: 'create', flags: v.flags, mode: v.mode, umask: v.umask, openFlags: v.open_flags, name },
    });
    add({
      name: 'create before 7.12 (fuse_open_in-sized)', opcode: Opcode.CREATE, minor: 11,
      parts: [body('fuse_create_in', v, sizeOf('fuse_open_in')), cstr('a-name')],
      expect: { op: 'create', flags: v.flags, mode: v.mode, umask: 0, openFlags: 0, name },
    });
    add({
      name: 'tmpfile', opcode: Opcode.TMPFILE, minor: 45, parts: [body('fuse_create_in', v), cstr('/')],
      expect: { op: 'tmpfile', flags: v.flags, mode: v.mode, umask: v.umask, openFlags: v.open_flags },
    });
  }
  {
    const v = { unique: p.big() };
    add({ name: 'interrupt', opcode: Opcode.INTERRUPT, minor: 45, parts: [body('fuse_interrupt_in', v)], expect: { op: 'interrupt', target: v.unique } });
  }
  {
    const v = { block: p.big(), blocksize: p.u32() };
    add({ name: 'bmap', opcode: Opcode.BMAP, minor: 45, parts: [body('fuse_bmap_in', v)], expect: { op: 'bmap', block: v.block, blocksize: v.blocksize } });
  }
  {
    const data = Buffer.from('ioctl-in');
    const v = { fh: p.big(), flags: p.u32(), cmd: p.u32(), arg: p.big(), in_size: data.length, out_size: p.u32() };
    add({
      name: 'ioctl', opcode: Opcode.IOCTL, minor: 45, parts: [body('fuse_ioctl_in', v), data],
      expect: { op: 'ioctl', fh: v.fh, flags: v.flags, cmd: v.cmd, arg: v.arg, inSize: v.in_size, outSize: v.out_size, data },
    });
  }
  {
    const v = { fh: p.big(), kh: p.big(), flags: p.u32(), events: p.u32() };
    add({ name: 'poll', opcode: Opcode.POLL, minor: 45, parts: [body('fuse_poll_in', v)], expect: { op: 'poll', ...v } });
  }
  {
    const data = Buffer.from('retrieved');
    const v = { offset: p.big(), size: data.length };
    add({
      name: 'notify_reply (fuse_notify_retrieve_in)', opcode: Opcode.NOTIFY_REPLY, minor: 45,
      parts: [body('fuse_notify_retrieve_in', v), data], expect: { op: 'notifyReply', offset: v.offset, size: v.size, data },
    });
  }
  {
    const items = [{ node: p.big(), nlookup: p.big() }, { node: p.big(), nlookup: p.big() }, { node: p.big(), nlookup: p.big() }];
    add({
      name: 'batch_forget', opcode: Opcode.BATCH_FORGET, minor: 45,
      parts: [body('fuse_batch_forget_in', { count: items.length }), ...items.map((i) => body('fuse_forget_one', { nodeid: i.node, nlookup: i.nlookup }))],
      expect: { op: 'batchForget', items },
    });
  }
  {
    const v = { fh: p.big(), offset: p.num(), length: p.num(), mode: p.u32() };
    add({ name: 'fallocate', opcode: Opcode.FALLOCATE, minor: 45, parts: [body('fuse_fallocate_in', v)], expect: { op: 'fallocate', ...v } });
  }
  {
    const v = { fh: p.big(), offset: p.num(), whence: p.u32() };
    add({ name: 'lseek', opcode: Opcode.LSEEK, minor: 45, parts: [body('fuse_lseek_in', v)], expect: { op: 'lseek', ...v } });
  }
  for (const [label, opcode, wide] of [['copy_file_range', Opcode.COPY_FILE_RANGE, false], ['copy_file_range_64', Opcode.COPY_FILE_RANGE_64, true]] as const) {
    const v = { fh_in: p.big(), off_in: p.num(), nodeid_out: p.big(), fh_out: p.big(), off_out: p.num(), len: p.num(), flags: p.num() };
    add({
      name: label, opcode, minor: 45, parts: [body('fuse_copy_file_range_in', v)],
      expect: { op: 'copyFileRange', fhIn: v.fh_in, offIn: v.off_in, nodeOut: v.nodeid_out, fhOut: v.fh_out, offOut: v.off_out, len: v.len, flags: v.flags, wide },
    });
  }
  {
    const v = { fh: p.big(), foffset: p.big(), len: p.big(), flags: p.big(), moffset: p.big() };
    add({ name: 'setupmapping', opcode: Opcode.SETUPMAPPING, minor: 45, parts: [body('fuse_setupmapping_in', v)], expect: { op: 'setupmapping', ...v } });
  }
  {
    const entries = [{ moffset: p.big(), len: p.big() }, { moffset: p.big(), len: p.big() }];
    add({
      name: 'removemapping', opcode: Opcode.REMOVEMAPPING, minor: 45,
      // fuse_removemapping_in is 4 bytes: the entries that follow are not 8-byte aligned.
      parts: [body('fuse_removemapping_in', { count: entries.length }), ...entries.map((e) => body('fuse_removemapping_one', e))],
      expect: { op: 'removemapping', count: entries.length, entries },
    });
  }
  add({ name: 'syncfs', opcode: Opcode.SYNCFS, minor: 45, parts: [body('fuse_syncfs_in', {})], expect: { op: 'syncfs' } });
  {
    const v = { getattr_flags: p.u32(), fh: p.big(), sx_flags: p.u32(), sx_mask: p.u32() };
    add({
      name: 'statx', opcode: Opcode.STATX, minor: 45, parts: [body('fuse_statx_in', v)],
      expect: { op: 'statx', getattrFlags: v.getattr_flags, fh: v.fh, sxFlags: v.sx_flags, sxMask: v.sx_mask },
    });
  }
  {
    // The extension area (7.38): a security context record (fuse_secctx_header, fuse_secctx,
    // name, value), then a FUSE_EXT_GROUPS record (fuse_ext_header, fuse_supp_groups).
    const ctxName = 'security.selinux';
    const ctxValue = Buffer.from('system_u:object_r:tmp_t:s0\0');
    const sh = sizeOf('fuse_secctx_header');
    const sc = sizeOf('fuse_secctx');
    const secLen = recAlign(sh + sc + ctxName.length + 1 + ctxValue.length);
    const sec = Buffer.alloc(secLen);
    put(sec, 0, 'fuse_secctx_header', { size: secLen, nr_secctx: 1 });
    put(sec, sh, 'fuse_secctx', { size: ctxValue.length });
    cstr(ctxName).copy(sec, sh + sc);
    ctxValue.copy(sec, sh + sc + ctxName.length + 1);

    const groups = [p.u32(), p.u32()];
    const eh = sizeOf('fuse_ext_header');
    const gAt = eh + offsetOf('fuse_supp_groups', 'groups');
    const grpLen = recAlign(gAt + groups.length * 4);
    const grp = Buffer.alloc(grpLen);
    put(grp, 0, 'fuse_ext_header', { size: grpLen, type: hnum('FUSE_EXT_GROUPS') });
    put(grp, eh, 'fuse_supp_groups', { nr_groups: groups.length });
    groups.forEach((g, i) => writeLE(grp, gAt + i * 4, 4, BigInt(g)));

    const v = { mode: p.u32(), umask: p.u32() };
    add({
      name: 'mkdir with security context and supplementary groups', opcode: Opcode.MKDIR, minor: 45,
      parts: [body('fuse_mkdir_in', v), cstr('a-name')], ext: Buffer.concat([sec, grp]),
      expect: { op: 'mkdir', mode: v.mode, umask: v.umask, name },
      expectExt: { secctx: { name: ctxName, value: ctxValue }, suppGroup: groups[0]! },
    });
  }
  return cases;
}

t('request golden bytes: built from the C offsets, decoded by decode.ts', async (ctx) => {
  const cases = requestCases();
  // Every opcode the codec knows is exercised here, but CUSE_INIT (a CUSE device's, not a FUSE server's).
  const seen = new Set(cases.map((c) => c.opcode));
  for (const [k, n] of Object.entries(Opcode)) if (n !== Opcode.CUSE_INIT) assert.ok(seen.has(n), `no golden request for ${k}`);

  for (const c of cases) {
    await ctx.test(c.name, () => {
      const buf = request(c.opcode, c.parts, c.ext);
      const d = decodeRequest(buf, buf.length, c.minor, c.opts);
      const extLen = c.ext?.length ?? 0;
      assert.deepStrictEqual(d.header, { len: buf.length, opcode: c.opcode, ...HDR, extLen });
      assert.deepStrictEqual(decodeHeader(buf, buf.length), d.header);
      assert.deepStrictEqual(d.req, c.expect);
      assert.deepStrictEqual(d.ext, c.expectExt ?? {});
    });
  }
});

t('request golden bytes: fuse_in_header total_extlen is 16 bits at its C offset', () => {
  const ext = Buffer.alloc(8 * 3);
  for (let i = 0; i < 3; i++) put(ext, i * 8, 'fuse_ext_header', { size: 8, type: 1000 + i });
  const buf = request(Opcode.GETATTR, [body('fuse_getattr_in', { getattr_flags: 0, fh: 1n })], ext);
  // The padding after total_extlen is JUNK: reading 32 bits there would be caught.
  assert.equal(buf[offsetOf('fuse_in_header', 'padding')], JUNK);
  assert.equal(decodeHeader(buf, buf.length).extLen, 24);
  assert.deepStrictEqual(decodeRequest(buf, buf.length, 45).ext, {});
});

// ---------------------------------------------------------------------------
// Struct sizes the decoder requires, per protocol minor

interface MinSize {
  opcode: number;
  /** Bytes of fixed arguments the kernel sends at `minor`. */
  size: (minor: number) => number;
  /** NUL-terminated names that follow the fixed part. */
  names?: number;
  opts?: DecodeOptions;
}

function minSizes(): Record<string, MinSize> {
  const s = sizeOf;
  const before = (m: number, old: number, now: number) => (minor: number) => (minor < m ? old : now);
  const fixed = (n: number) => () => n;
  return {
    FORGET: { opcode: Opcode.FORGET, size: fixed(s('fuse_forget_in')) },
    // Before 7.9 GETATTR had no argument.
    GETATTR: { opcode: Opcode.GETATTR, size: before(9, 0, s('fuse_getattr_in')) },
    SETATTR: { opcode: Opcode.SETATTR, size: fixed(s('fuse_setattr_in')) },
    MKNOD: { opcode: Opcode.MKNOD, size: before(12, hnum('FUSE_COMPAT_MKNOD_IN_SIZE'), s('fuse_mknod_in')), names: 1 },
    MKDIR: { opcode: Opcode.MKDIR, size: fixed(s('fuse_mkdir_in')), names: 1 },
    RENAME: { opcode: Opcode.RENAME, size: fixed(s('fuse_rename_in')), names: 2 },
    RENAME2: { opcode: Opcode.RENAME2, size: fixed(s('fuse_rename2_in')), names: 2 },
    LINK: { opcode: Opcode.LINK, size: fixed(s('fuse_link_in')), names: 1 },
    OPEN: { opcode: Opcode.OPEN, size: fixed(s('fuse_open_in')) },
    OPENDIR: { opcode: Opcode.OPENDIR, size: fixed(s('fuse_open_in')) },
    READ: { opcode: Opcode.READ, size: before(9, offsetOf('fuse_read_in', 'lock_owner'), s('fuse_read_in')) },
    READDIR: { opcode: Opcode.READDIR, size: before(9, offsetOf('fuse_read_in', 'lock_owner'), s('fuse_read_in')) },
    READDIRPLUS: { opcode: Opcode.READDIRPLUS, size: before(9, offsetOf('fuse_read_in', 'lock_owner'), s('fuse_read_in')) },
    WRITE: { opcode: Opcode.WRITE, size: before(9, hnum('FUSE_COMPAT_WRITE_IN_SIZE'), s('fuse_write_in')) },
    RELEASE: { opcode: Opcode.RELEASE, size: before(8, offsetOf('fuse_release_in', 'lock_owner'), s('fuse_release_in')) },
    RELEASEDIR: { opcode: Opcode.RELEASEDIR, size: before(8, offsetOf('fuse_release_in', 'lock_owner'), s('fuse_release_in')) },
    FSYNC: { opcode: Opcode.FSYNC, size: fixed(s('fuse_fsync_in')) },
    FSYNCDIR: { opcode: Opcode.FSYNCDIR, size: fixed(s('fuse_fsync_in')) },
    SETXATTR: { opcode: Opcode.SETXATTR, size: fixed(hnum('FUSE_COMPAT_SETXATTR_IN_SIZE')), names: 1 },
    SETXATTR_EXT: { opcode: Opcode.SETXATTR, size: fixed(s('fuse_setxattr_in')), names: 1, opts: { setxattrExt: true } },
    GETXATTR: { opcode: Opcode.GETXATTR, size: fixed(s('fuse_getxattr_in')), names: 1 },
    LISTXATTR: { opcode: Opcode.LISTXATTR, size: fixed(s('fuse_getxattr_in')) },
    FLUSH: { opcode: Opcode.FLUSH, size: fixed(s('fuse_flush_in')) },
    // Before 7.6 fuse_init_in was {major, minor}: the decoder accepts that much.
    INIT: { opcode: Opcode.INIT, size: fixed(offsetOf('fuse_init_in', 'max_readahead')) },
    GETLK: { opcode: Opcode.GETLK, size: before(9, offsetOf('fuse_lk_in', 'lk_flags'), s('fuse_lk_in')) },
    SETLK: { opcode: Opcode.SETLK, size: before(9, offsetOf('fuse_lk_in', 'lk_flags'), s('fuse_lk_in')) },
    SETLKW: { opcode: Opcode.SETLKW, size: before(9, offsetOf('fuse_lk_in', 'lk_flags'), s('fuse_lk_in')) },
    ACCESS: { opcode: Opcode.ACCESS, size: fixed(s('fuse_access_in')) },
    CREATE: { opcode: Opcode.CREATE, size: before(12, s('fuse_open_in'), s('fuse_create_in')), names: 1 },
    INTERRUPT: { opcode: Opcode.INTERRUPT, size: fixed(s('fuse_interrupt_in')) },
    BMAP: { opcode: Opcode.BMAP, size: fixed(s('fuse_bmap_in')) },
    IOCTL: { opcode: Opcode.IOCTL, size: fixed(s('fuse_ioctl_in')) },
    POLL: { opcode: Opcode.POLL, size: fixed(s('fuse_poll_in')) },
    NOTIFY_REPLY: { opcode: Opcode.NOTIFY_REPLY, size: fixed(s('fuse_notify_retrieve_in')) },
    BATCH_FORGET: { opcode: Opcode.BATCH_FORGET, size: fixed(s('fuse_batch_forget_in')) },
    FALLOCATE: { opcode: Opcode.FALLOCATE, size: fixed(s('fuse_fallocate_in')) },
    LSEEK: { opcode: Opcode.LSEEK, size: fixed(s('fuse_lseek_in')) },
    COPY_FILE_RANGE: { opcode: Opcode.COPY_FILE_RANGE, size: fixed(s('fuse_copy_file_range_in')) },
    COPY_FILE_RANGE_64: { opcode: Opcode.COPY_FILE_RANGE_64, size: fixed(s('fuse_copy_file_range_in')) },
    SETUPMAPPING: { opcode: Opcode.SETUPMAPPING, size: fixed(s('fuse_setupmapping_in')) },
    REMOVEMAPPING: { opcode: Opcode.REMOVEMAPPING, size: fixed(s('fuse_removemapping_in')) },
    SYNCFS: { opcode: Opcode.SYNCFS, size: fixed(s('fuse_syncfs_in')) },
    TMPFILE: { opcode: Opcode.TMPFILE, size: fixed(s('fuse_create_in')) },
    STATX: { opcode: Opcode.STATX, size: fixed(s('fuse_statx_in')) },
  };
}

/** The minors at which some request layout changes, and their neighbours. */
const MINORS = [7, 8, 9, 11, 12, 22, 23, 33, 35, 36, 38, 39, 45];

t('request sizes: the decoder accepts exactly the header\'s struct size at each minor, and rejects one byte less', () => {
  for (const [label, m] of Object.entries(minSizes())) {
    for (const minor of MINORS) {
      const size = m.size(minor);
      const names = Array.from({ length: m.names ?? 0 }, () => cstr('n'));
      // Zero-filled: counts, sizes and lengths are 0, so nothing past the struct is needed.
      const ok = request(m.opcode, [Buffer.alloc(size), ...names]);
      assert.doesNotThrow(() => decodeRequest(ok, ok.length, minor, m.opts), `${label} at 7.${minor}: ${size} bytes`);
      if (size === 0) continue;
      // One byte short, and no names: a decoder expecting less would find a NUL inside the zeros and accept it.
      const short = request(m.opcode, [Buffer.alloc(size - 1)]);
      assert.throws(() => decodeRequest(short, short.length, minor, m.opts),
        (e: unknown) => e instanceof ProtocolError && e.errno === EINVAL,
        `${label} at 7.${minor}: ${size - 1} bytes must be refused`);
    }
  }
});

t('reply sizes: the encoders use the header\'s compat sizes at each minor', () => {
  const p = new Patterns();
  const { entry } = entryValues(p);
  const { attr } = attrValues(p);
  const s = { blocks: 1, bfree: 2, bavail: 3, files: 4, ffree: 5, bsize: 6, namelen: 7, frsize: 8 };
  const buf = Buffer.alloc(4096);
  for (let minor = 1; minor <= 45; minor++) {
    const entrySize = minor < 9 ? hnum('FUSE_COMPAT_ENTRY_OUT_SIZE') : sizeOf('fuse_entry_out');
    assert.equal(writeEntryOut(buf, 0, entry, minor), entrySize, `entry_out at 7.${minor}`);
    assert.equal(writeCreateOut(buf, 0, entry, { fh: 1n, openFlags: 0 }, minor), entrySize + sizeOf('fuse_open_out'), `create at 7.${minor}`);
    assert.equal(writeAttrOut(buf, 0, 1, attr, minor), minor < 9 ? hnum('FUSE_COMPAT_ATTR_OUT_SIZE') : sizeOf('fuse_attr_out'), `attr_out at 7.${minor}`);
    assert.equal(writeStatfsOut(buf, 0, s, minor), minor < 4 ? hnum('FUSE_COMPAT_STATFS_SIZE') : sizeOf('fuse_statfs_out'), `statfs_out at 7.${minor}`);
    const init = minor < 5 ? hnum('FUSE_COMPAT_INIT_OUT_SIZE') : minor < 23 ? hnum('FUSE_COMPAT_22_INIT_OUT_SIZE') : sizeOf('fuse_init_out');
    assert.equal(initOutSize(minor), init, `init_out for a 7.${minor} kernel`);
  }
});
