/**
 * The opcode table: for every FUSE opcode, the request kind it decodes to
 * (Request['op'], request.ts) and whether it is answered. Names come from
 * abi.ts's Opcode (fuse.h's FUSE_* without the prefix). Encoders, the
 * protocol core and tests take these facts from here, not from lists of
 * their own. Decoding and dispatch are per opcode by nature (decode.ts,
 * server.ts), keyed by the same `op`.
 */
import { Opcode } from './abi.js';
import type { Request } from './request.js';

export interface OpcodeInfo {
  readonly code: number;
  /** fuse.h name without FUSE_ (LOOKUP, BATCH_FORGET…). */
  readonly name: string;
  /** The request kind it decodes to; several opcodes may share one (RENAME and RENAME2: rename). */
  readonly op: Request['op'];
  /** The kernel expects no reply: FORGET, BATCH_FORGET, INTERRUPT, and NOTIFY_REPLY (sent with noreply set). */
  readonly noReply: boolean;
}

const O = Opcode;
const ops: [number, Request['op'], boolean?][] = [
  [O.LOOKUP, 'lookup'], [O.FORGET, 'forget', true], [O.GETATTR, 'getattr'], [O.SETATTR, 'setattr'],
  [O.READLINK, 'readlink'], [O.SYMLINK, 'symlink'], [O.MKNOD, 'mknod'], [O.MKDIR, 'mkdir'],
  [O.UNLINK, 'unlink'], [O.RMDIR, 'rmdir'], [O.RENAME, 'rename'], [O.LINK, 'link'],
  [O.OPEN, 'open'], [O.READ, 'read'], [O.WRITE, 'write'], [O.STATFS, 'statfs'],
  [O.RELEASE, 'release'], [O.FSYNC, 'fsync'], [O.SETXATTR, 'setxattr'], [O.GETXATTR, 'getxattr'],
  [O.LISTXATTR, 'listxattr'], [O.REMOVEXATTR, 'removexattr'], [O.FLUSH, 'flush'], [O.INIT, 'init'],
  [O.OPENDIR, 'opendir'], [O.READDIR, 'readdir'], [O.RELEASEDIR, 'releasedir'], [O.FSYNCDIR, 'fsyncdir'],
  [O.GETLK, 'getlk'], [O.SETLK, 'setlk'], [O.SETLKW, 'setlk'], [O.ACCESS, 'access'], [O.CREATE, 'create'],
  [O.INTERRUPT, 'interrupt', true], [O.BMAP, 'bmap'], [O.DESTROY, 'destroy'], [O.IOCTL, 'ioctl'], [O.POLL, 'poll'],
  [O.NOTIFY_REPLY, 'notifyReply', true], [O.BATCH_FORGET, 'batchForget', true], [O.FALLOCATE, 'fallocate'],
  [O.READDIRPLUS, 'readdirplus'], [O.RENAME2, 'rename'], [O.LSEEK, 'lseek'], [O.COPY_FILE_RANGE, 'copyFileRange'],
  [O.SETUPMAPPING, 'setupmapping'], [O.REMOVEMAPPING, 'removemapping'], [O.SYNCFS, 'syncfs'],
  [O.TMPFILE, 'tmpfile'], [O.STATX, 'statx'], [O.COPY_FILE_RANGE_64, 'copyFileRange'],
];

const names: Record<number, string> = {};
for (const [name, code] of Object.entries(Opcode)) names[code] = name;

/** Every opcode the protocol serves (CUSE_INIT is not one: CUSE is another device). */
export const OPCODES: readonly OpcodeInfo[] = ops.map(([code, op, noReply]) => ({ code, name: names[code]!, op, noReply: noReply === true }));

const byCode = new Map<number, OpcodeInfo>(OPCODES.map((o) => [o.code, o]));

export function opcodeInfo(code: number): OpcodeInfo | undefined {
  return byCode.get(code);
}

/** Opcodes whose requests never get a reply, however malformed. */
export const NO_REPLY_OPCODES: ReadonlySet<number> = new Set(OPCODES.filter((o) => o.noReply).map((o) => o.code));

/** The first opcode of each request kind: what a plain request of that kind is sent as. */
export const OPCODE_OF_OP: ReadonlyMap<Request['op'], number> = (() => {
  const m = new Map<Request['op'], number>();
  for (const o of OPCODES) if (!m.has(o.op)) m.set(o.op, o.code);
  return m;
})();
