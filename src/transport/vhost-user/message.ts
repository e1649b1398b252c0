/**
 * The vhost-user socket protocol: message header, request numbers, feature
 * bits and the payload layouts a virtio-fs back-end meets (QEMU's
 * docs/interop/vhost-user.rst). This module only encodes and decodes; what a
 * message does lives in backend.ts, how it travels in connection.ts.
 *
 * Every number is in the host's byte order, which the protocol defines as the
 * machine's native order: little-endian on every platform Node runs this on.
 *
 * Addresses and sizes are u64 on the wire. They are decoded to JS numbers,
 * exact up to 2^53; a larger value decodes to a number ≥ 2^53 (possibly
 * rounded), which the memory layer refuses, so no value that cannot be
 * represented exactly is ever used as an address.
 */
import { dataView as view } from '../../sys/structs.js';

/** Header: request u32, flags u32, size u32. */
export const HEADER_SIZE = 12;

/**
 * The largest payload accepted. The largest one the protocol defines is a
 * SET_MEM_TABLE with 8 regions (264 bytes) or a config space access (12 +
 * 256); rust-vmm allows 4 KiB, and so do we. A header announcing more ends
 * the connection: the stream cannot be trusted to be framed any more.
 */
export const MAX_PAYLOAD = 4096;

/** At most this many fds travel with one message (VHOST_MEMORY_BASELINE_NREGIONS). */
export const MAX_FDS = 8;

export const Flag = {
  /** The protocol version, in the low two bits. */
  VERSION: 0x1,
  VERSION_MASK: 0x3,
  /** Set on every message the back-end sends in answer. */
  REPLY: 0x4,
  /** The front-end wants an ack (REPLY_ACK negotiated). */
  NEED_REPLY: 0x8,
} as const;

/** Front-end → back-end request numbers. */
export const Req = {
  GET_FEATURES: 1,
  SET_FEATURES: 2,
  SET_OWNER: 3,
  RESET_OWNER: 4,
  SET_MEM_TABLE: 5,
  SET_LOG_BASE: 6,
  SET_LOG_FD: 7,
  SET_VRING_NUM: 8,
  SET_VRING_ADDR: 9,
  SET_VRING_BASE: 10,
  GET_VRING_BASE: 11,
  SET_VRING_KICK: 12,
  SET_VRING_CALL: 13,
  SET_VRING_ERR: 14,
  GET_PROTOCOL_FEATURES: 15,
  SET_PROTOCOL_FEATURES: 16,
  GET_QUEUE_NUM: 17,
  SET_VRING_ENABLE: 18,
  SEND_RARP: 19,
  NET_SET_MTU: 20,
  SET_BACKEND_REQ_FD: 21,
  IOTLB_MSG: 22,
  SET_VRING_ENDIAN: 23,
  GET_CONFIG: 24,
  SET_CONFIG: 25,
  CREATE_CRYPTO_SESSION: 26,
  CLOSE_CRYPTO_SESSION: 27,
  POSTCOPY_ADVISE: 28,
  POSTCOPY_LISTEN: 29,
  POSTCOPY_END: 30,
  GET_INFLIGHT_FD: 31,
  SET_INFLIGHT_FD: 32,
  GPU_SET_SOCKET: 33,
  RESET_DEVICE: 34,
  VRING_KICK: 35,
  GET_MAX_MEM_SLOTS: 36,
  ADD_MEM_REG: 37,
  REM_MEM_REG: 38,
  SET_STATUS: 39,
  GET_STATUS: 40,
  GET_SHARED_OBJECT: 41,
  SET_DEVICE_STATE_FD: 42,
  CHECK_DEVICE_STATE: 43,
} as const;

export type RequestName = keyof typeof Req;

const REQUEST_NAMES: string[] = [];
for (const [name, num] of Object.entries(Req)) REQUEST_NAMES[num] = name;

/** The request's name, or undefined for a number the protocol does not define. */
export function requestName(request: number): RequestName | undefined {
  return REQUEST_NAMES[request] as RequestName | undefined;
}

/**
 * Requests the front-end waits for an answer to whatever the flags say. A
 * back-end that cannot answer one of them (malformed, unsupported) has no way
 * to say so and must end the connection; the front-end would wait forever.
 */
export const REPLY_REQUIRED: ReadonlySet<number> = new Set([
  Req.GET_FEATURES, Req.GET_PROTOCOL_FEATURES, Req.GET_VRING_BASE, Req.GET_QUEUE_NUM, Req.GET_CONFIG,
  Req.GET_MAX_MEM_SLOTS, Req.SET_LOG_BASE, Req.IOTLB_MSG, Req.CREATE_CRYPTO_SESSION, Req.POSTCOPY_ADVISE,
  Req.POSTCOPY_END, Req.GET_INFLIGHT_FD, Req.GET_STATUS, Req.GET_SHARED_OBJECT, Req.SET_DEVICE_STATE_FD,
  Req.CHECK_DEVICE_STATE,
]);

/** Virtio feature bits (as bit numbers) the transport deals in. */
export const VirtioFeature = {
  RING_INDIRECT_DESC: 28,
  RING_EVENT_IDX: 29,
  /** Reused by vhost-user to announce GET/SET_PROTOCOL_FEATURES. */
  PROTOCOL_FEATURES: 30,
  VERSION_1: 32,
} as const;

/** Protocol feature bits (GET_PROTOCOL_FEATURES), as bit numbers. */
export const ProtocolFeature = {
  MQ: 0,
  LOG_SHMFD: 1,
  RARP: 2,
  REPLY_ACK: 3,
  NET_MTU: 4,
  BACKEND_REQ: 5,
  CROSS_ENDIAN: 6,
  CRYPTO_SESSION: 7,
  PAGEFAULT: 8,
  CONFIG: 9,
  BACKEND_SEND_FD: 10,
  HOST_NOTIFIER: 11,
  INFLIGHT_SHMFD: 12,
  RESET_DEVICE: 13,
  INBAND_NOTIFICATIONS: 14,
  CONFIGURE_MEM_SLOTS: 15,
  STATUS: 16,
  XEN_MMAP: 17,
  SHARED_OBJECT: 18,
  DEVICE_STATE: 19,
} as const;

/** 1 << bit as a bigint feature mask. */
export function bit(n: number): bigint {
  return 1n << BigInt(n);
}

/** In SET_VRING_KICK/CALL/ERR: bits 0-7 are the ring index… */
export const VRING_INDEX_MASK = 0xff;
/** …and this bit says no fd came with the message (polling). */
export const VRING_NOFD = 0x100;

/** SET_VRING_ADDR flags: the front-end logs writes to the used ring (migration). */
export const VRING_ADDR_F_LOG = 0x1;

/** The largest config space a GET_CONFIG/SET_CONFIG may address (QEMU's VHOST_USER_MAX_CONFIG_SIZE). */
export const MAX_CONFIG_SIZE = 256;

// ---- header ----------------------------------------------------------------------------------

export interface Header {
  request: number;
  flags: number;
  size: number;
}

export function decodeHeader(b: Uint8Array): Header {
  const v = new DataView(b.buffer, b.byteOffset, HEADER_SIZE);
  return { request: v.getUint32(0, true), flags: v.getUint32(4, true), size: v.getUint32(8, true) };
}

/** A reply to `request` carrying `payload`: header and payload in one buffer. */
export function encodeReply(request: number, payload: Uint8Array): Buffer {
  const b = Buffer.alloc(HEADER_SIZE + payload.length);
  b.writeUInt32LE(request, 0);
  b.writeUInt32LE(Flag.VERSION | Flag.REPLY, 4);
  b.writeUInt32LE(payload.length, 8);
  b.set(payload, HEADER_SIZE);
  return b;
}

/** A request as a front-end sends it (tests, and tools that play the front-end). */
export function encodeRequest(request: number, payload: Uint8Array = new Uint8Array(0), flags: number = Flag.VERSION): Buffer {
  const b = Buffer.alloc(HEADER_SIZE + payload.length);
  b.writeUInt32LE(request, 0);
  b.writeUInt32LE(flags, 4);
  b.writeUInt32LE(payload.length, 8);
  b.set(payload, HEADER_SIZE);
  return b;
}

// ---- payloads --------------------------------------------------------------------------------

const TWO32 = 2 ** 32;

function u64(v: DataView, off: number): number {
  return v.getUint32(off + 4, true) * TWO32 + v.getUint32(off, true);
}

function putU64(v: DataView, off: number, n: number | bigint): void {
  const big = BigInt.asUintN(64, BigInt(n));
  v.setBigUint64(off, big, true);
}


/** A single u64 (features, a count, an ack). 8 bytes. */
export const U64_SIZE = 8;
export function decodeU64(b: Uint8Array): bigint {
  return view(b).getBigUint64(0, true);
}
export function encodeU64(n: bigint | number): Buffer {
  const b = Buffer.alloc(U64_SIZE);
  putU64(view(b), 0, n);
  return b;
}

/** struct vhost_vring_state: index u32, num u32. */
export const VRING_STATE_SIZE = 8;
export interface VringState {
  index: number;
  num: number;
}
export function decodeVringState(b: Uint8Array): VringState {
  const v = view(b);
  return { index: v.getUint32(0, true), num: v.getUint32(4, true) };
}
export function encodeVringState(s: VringState): Buffer {
  const b = Buffer.alloc(VRING_STATE_SIZE);
  b.writeUInt32LE(s.index >>> 0, 0);
  b.writeUInt32LE(s.num >>> 0, 4);
  return b;
}

/**
 * struct vhost_vring_addr: index u32, flags u32, then the front-end's
 * virtual addresses of the descriptor table, used ring and available ring,
 * and the guest address for logging. 40 bytes.
 */
export const VRING_ADDR_SIZE = 40;
export interface VringAddr {
  index: number;
  flags: number;
  desc: number;
  used: number;
  avail: number;
  log: number;
}
export function decodeVringAddr(b: Uint8Array): VringAddr {
  const v = view(b);
  return {
    index: v.getUint32(0, true), flags: v.getUint32(4, true),
    desc: u64(v, 8), used: u64(v, 16), avail: u64(v, 24), log: u64(v, 32),
  };
}
export function encodeVringAddr(a: VringAddr): Buffer {
  const b = Buffer.alloc(VRING_ADDR_SIZE);
  const v = view(b);
  v.setUint32(0, a.index >>> 0, true);
  v.setUint32(4, a.flags >>> 0, true);
  putU64(v, 8, a.desc);
  putU64(v, 16, a.used);
  putU64(v, 24, a.avail);
  putU64(v, 32, a.log);
  return b;
}

/**
 * One guest memory region: guest-physical address, size, the front-end's
 * virtual address of it, and where it starts in the fd sent along. 32 bytes.
 */
export const MEM_REGION_SIZE = 32;
export interface MemRegion {
  guestAddr: number;
  size: number;
  userAddr: number;
  mmapOffset: number;
}
function decodeRegionAt(v: DataView, off: number): MemRegion {
  return { guestAddr: u64(v, off), size: u64(v, off + 8), userAddr: u64(v, off + 16), mmapOffset: u64(v, off + 24) };
}
function encodeRegionAt(v: DataView, off: number, r: MemRegion): void {
  putU64(v, off, r.guestAddr);
  putU64(v, off + 8, r.size);
  putU64(v, off + 16, r.userAddr);
  putU64(v, off + 24, r.mmapOffset);
}

/** SET_MEM_TABLE: num_regions u32, padding u32, then num_regions regions (at most 8). */
export const MEM_TABLE_HEADER_SIZE = 8;
export const MAX_MEM_TABLE_REGIONS = 8;
/** The regions, or a reason the payload is malformed. */
export function decodeMemTable(b: Uint8Array): MemRegion[] | string {
  if (b.length < MEM_TABLE_HEADER_SIZE) return `payload of ${b.length} bytes is shorter than the table header`;
  const v = view(b);
  const n = v.getUint32(0, true);
  if (n > MAX_MEM_TABLE_REGIONS) return `${n} regions (at most ${MAX_MEM_TABLE_REGIONS})`;
  // QEMU sends exactly the regions it fills in; rust-vmm insists on the exact size too.
  if (b.length !== MEM_TABLE_HEADER_SIZE + n * MEM_REGION_SIZE) return `payload of ${b.length} bytes for ${n} regions`;
  const out: MemRegion[] = [];
  for (let i = 0; i < n; i++) out.push(decodeRegionAt(v, MEM_TABLE_HEADER_SIZE + i * MEM_REGION_SIZE));
  return out;
}
export function encodeMemTable(regions: readonly MemRegion[]): Buffer {
  const b = Buffer.alloc(MEM_TABLE_HEADER_SIZE + regions.length * MEM_REGION_SIZE);
  const v = view(b);
  v.setUint32(0, regions.length, true);
  regions.forEach((r, i) => encodeRegionAt(v, MEM_TABLE_HEADER_SIZE + i * MEM_REGION_SIZE, r));
  return b;
}

/** ADD_MEM_REG / REM_MEM_REG: 8 bytes of padding, then one region. 40 bytes. */
export const SINGLE_MEM_REGION_SIZE = 40;
export function decodeSingleMemRegion(b: Uint8Array): MemRegion {
  return decodeRegionAt(view(b), 8);
}
export function encodeSingleMemRegion(r: MemRegion): Buffer {
  const b = Buffer.alloc(SINGLE_MEM_REGION_SIZE);
  encodeRegionAt(view(b), 8, r);
  return b;
}

/** GET_CONFIG / SET_CONFIG: offset u32, size u32, flags u32, then `size` bytes of config space. */
export const CONFIG_HEADER_SIZE = 12;
export interface ConfigAccess {
  offset: number;
  size: number;
  flags: number;
  /** The config bytes (SET_CONFIG; what GET_CONFIG sends is ignored). A view into the message. */
  data: Uint8Array;
}
/** The access, or a reason the payload is malformed. */
export function decodeConfig(b: Uint8Array): ConfigAccess | string {
  if (b.length < CONFIG_HEADER_SIZE) return `payload of ${b.length} bytes is shorter than the config header`;
  const v = view(b);
  const access = { offset: v.getUint32(0, true), size: v.getUint32(4, true), flags: v.getUint32(8, true) };
  if (b.length !== CONFIG_HEADER_SIZE + access.size) return `payload of ${b.length} bytes for ${access.size} config bytes`;
  return { ...access, data: b.subarray(CONFIG_HEADER_SIZE) };
}
export function encodeConfig(offset: number, flags: number, data: Uint8Array): Buffer {
  const b = Buffer.alloc(CONFIG_HEADER_SIZE + data.length);
  b.writeUInt32LE(offset >>> 0, 0);
  b.writeUInt32LE(data.length, 4);
  b.writeUInt32LE(flags >>> 0, 8);
  b.set(data, CONFIG_HEADER_SIZE);
  return b;
}
