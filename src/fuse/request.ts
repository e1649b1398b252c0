/**
 * Typed FUSE requests: what decodeRequest (codec.ts) produces from the bytes the
 * kernel sends, and what encodeRequest turns back into bytes (tests, fuzzing).
 * Names and payloads are views into the request buffer.
 */
import type { FileLock, SetAttrIn } from '../fs/types.js';

/** struct fuse_in_header plus the extension area (FUSE_SECURITY_CTX, CREATE_SUPP_GROUP). */
export interface InHeader {
  len: number;
  opcode: number;
  unique: bigint;
  nodeid: bigint;
  uid: number;
  gid: number;
  pid: number;
  /** total_extlen * 8: bytes of extensions at the end of the request. */
  extLen: number;
}

export interface RequestExt {
  /** FUSE_EXT_GROUPS: supplementary group of the caller (first one). */
  suppGroup?: number;
  /** fuse_secctx_header + fuse_secctx entries: first context. */
  secctx?: { name: string; value: Buffer };
}

export type Request =
  | { op: 'init'; major: number; minor: number; maxReadahead: number; flags: bigint }
  | { op: 'destroy' }
  | { op: 'lookup'; name: Buffer }
  | { op: 'forget'; nlookup: bigint }
  | { op: 'batchForget'; items: { node: bigint; nlookup: bigint }[] }
  | { op: 'getattr'; getattrFlags: number; fh: bigint }
  | { op: 'setattr'; set: SetAttrIn; valid: number }
  | { op: 'readlink' }
  | { op: 'symlink'; name: Buffer; target: Buffer }
  | { op: 'mknod'; mode: number; rdev: number; umask: number; name: Buffer }
  | { op: 'mkdir'; mode: number; umask: number; name: Buffer }
  | { op: 'unlink'; name: Buffer }
  | { op: 'rmdir'; name: Buffer }
  | { op: 'rename'; newDir: bigint; flags: number; name: Buffer; newName: Buffer }
  | { op: 'link'; oldNode: bigint; newName: Buffer }
  | { op: 'open'; flags: number; openFlags: number }
  | { op: 'read'; fh: bigint; offset: number; size: number; readFlags: number; lockOwner: bigint; flags: number }
  | { op: 'write'; fh: bigint; offset: number; size: number; writeFlags: number; lockOwner: bigint; flags: number; data: Buffer }
  | { op: 'statfs' }
  | { op: 'release'; fh: bigint; flags: number; releaseFlags: number; lockOwner: bigint }
  | { op: 'fsync'; fh: bigint; fsyncFlags: number }
  | { op: 'setxattr'; size: number; flags: number; setxattrFlags: number; name: Buffer; value: Buffer }
  | { op: 'getxattr'; size: number; name: Buffer }
  | { op: 'listxattr'; size: number }
  | { op: 'removexattr'; name: Buffer }
  | { op: 'flush'; fh: bigint; lockOwner: bigint }
  | { op: 'opendir'; flags: number; openFlags: number }
  | { op: 'readdir'; fh: bigint; offset: bigint; size: number }
  | { op: 'readdirplus'; fh: bigint; offset: bigint; size: number }
  | { op: 'releasedir'; fh: bigint; flags: number; releaseFlags: number; lockOwner: bigint }
  | { op: 'fsyncdir'; fh: bigint; fsyncFlags: number }
  | { op: 'getlk'; fh: bigint; owner: bigint; lock: FileLock; lkFlags: number }
  | { op: 'setlk'; fh: bigint; owner: bigint; lock: FileLock; lkFlags: number; sleep: boolean }
  | { op: 'access'; mask: number }
  | { op: 'create'; flags: number; mode: number; umask: number; openFlags: number; name: Buffer }
  | { op: 'interrupt'; target: bigint }
  | { op: 'bmap'; block: bigint; blocksize: number }
  | { op: 'ioctl'; fh: bigint; flags: number; cmd: number; arg: bigint; inSize: number; outSize: number; data: Buffer }
  | { op: 'poll'; fh: bigint; kh: bigint; flags: number; events: number }
  | { op: 'notifyReply'; offset: bigint; size: number; data: Buffer }
  | { op: 'fallocate'; fh: bigint; offset: number; length: number; mode: number }
  | { op: 'lseek'; fh: bigint; offset: number; whence: number }
  | { op: 'copyFileRange'; fhIn: bigint; offIn: number; nodeOut: bigint; fhOut: bigint; offOut: number; len: number; flags: number; wide: boolean }
  | { op: 'setupmapping'; fh: bigint; foffset: bigint; len: bigint; flags: bigint; moffset: bigint }
  | { op: 'removemapping'; count: number; entries: { moffset: bigint; len: bigint }[] }
  | { op: 'syncfs' }
  | { op: 'tmpfile'; flags: number; mode: number; umask: number; openFlags: number }
  | { op: 'statx'; getattrFlags: number; fh: bigint; sxFlags: number; sxMask: number };

export type RequestOp = Request['op'];

export interface DecodedRequest {
  header: InHeader;
  ext: RequestExt;
  req: Request;
}

/** A request the decoder rejects; the session answers `errno` and logs `message`. */
export class ProtocolError extends Error {
  constructor(readonly errno: number, message: string) {
    super(message);
  }
}
