import type { Context } from './context.js';
import type {
  AttrReply, CreateReply, DirPlusSink, DirSink, Entry, FileLock, FileRange, IoctlReply, MaybePromise,
  NodeId, OpenReply, SetAttrIn, StatFs, StatxReply,
} from './types.js';

/** What INIT negotiated; passed to FileSystem.init. */
export interface ConnectionInfo {
  /** Protocol minor version in use (min of kernel's and ours). */
  readonly minor: number;
  /** Capability bits the kernel offered (FUSE_* init flags, flags2 in the high 32 bits). */
  readonly capable: bigint;
  /** Capability bits in effect after negotiation. */
  readonly want: bigint;
  readonly maxWrite: number;
  readonly maxReadahead: number;
  readonly maxPages: number;
  readonly timeGran: number;
}

/**
 * Kernel FUSE passthrough (FUSE_PASSTHROUGH, Linux ≥ 6.9, root): register an
 * open host fd as the backing file of an open, then answer the open with
 * FOPEN_PASSTHROUGH and the returned id; the kernel does the file's reads and
 * writes itself. Close the id when the file is released.
 */
export interface BackingFiles {
  open(fd: number): number;
  close(id: number): void;
}

/** A device number, as in st_dev (major:minor). */
export interface DeviceNumber {
  readonly major: number;
  readonly minor: number;
}

/** What the session offers the filesystem beyond requests; passed to init. */
export interface SessionServices {
  /** Present when PASSTHROUGH was negotiated and the transport can register backing files. */
  readonly backing?: BackingFiles;
  /**
   * st_dev of the files of this session's own mount, when it is a FUSE mount
   * on this host (other transports, e.g. virtio-fs, have none). A filesystem
   * that reads host paths must never make the kernel fetch attributes from
   * this device while it handles a request: the kernel would ask this very
   * session and wait for the answer forever.
   */
  readonly mountDevice?: DeviceNumber;
  /** The session's log, for what a filesystem has to say outside a request's reply. */
  readonly log?: (level: 'error' | 'warn' | 'info' | 'debug', msg: string) => void;
}

/**
 * A filesystem served over FUSE, addressed by node id like libfuse's
 * low-level API. Every method is optional: a missing one answers ENOSYS
 * (which the kernel remembers for some operations, e.g. flush, fsync, access,
 * lseek, copy_file_range, and stops sending).
 *
 * Methods return their result directly or as a Promise. Errors are thrown:
 * an FsError, a SysError or any object with `errno`/`code` becomes that errno.
 *
 * Names are raw bytes (`Buffer`) because Linux names need not be UTF-8. A
 * name buffer is valid only until the method returns (or its promise settles).
 */
export interface FileSystem {
  init?(conn: ConnectionInfo, services: SessionServices): MaybePromise<void>;
  destroy?(): MaybePromise<void>;

  lookup?(ctx: Context, parent: NodeId, name: Buffer): MaybePromise<Entry>;
  /** The kernel dropped `nlookup` references to `node`. No reply. */
  forget?(node: NodeId, nlookup: bigint): void;
  /** Several forgets at once. Defaults to calling forget for each. */
  batchForget?(items: ReadonlyArray<{ node: NodeId; nlookup: bigint }>): void;
  getattr?(ctx: Context, node: NodeId, fh: bigint | undefined): MaybePromise<AttrReply>;
  setattr?(ctx: Context, node: NodeId, set: SetAttrIn): MaybePromise<AttrReply>;
  readlink?(ctx: Context, node: NodeId): MaybePromise<Buffer | string>;
  symlink?(ctx: Context, parent: NodeId, name: Buffer, target: Buffer): MaybePromise<Entry>;
  mknod?(ctx: Context, parent: NodeId, name: Buffer, mode: number, rdev: number): MaybePromise<Entry>;
  mkdir?(ctx: Context, parent: NodeId, name: Buffer, mode: number): MaybePromise<Entry>;
  unlink?(ctx: Context, parent: NodeId, name: Buffer): MaybePromise<void>;
  rmdir?(ctx: Context, parent: NodeId, name: Buffer): MaybePromise<void>;
  /** flags: RENAME_NOREPLACE (1), RENAME_EXCHANGE (2), RENAME_WHITEOUT (4). */
  rename?(ctx: Context, parent: NodeId, name: Buffer, newParent: NodeId, newName: Buffer, flags: number): MaybePromise<void>;
  link?(ctx: Context, node: NodeId, newParent: NodeId, newName: Buffer): MaybePromise<Entry>;

  open?(ctx: Context, node: NodeId, flags: number): MaybePromise<OpenReply>;
  /**
   * Read up to `size` bytes at `offset`. Either fill `buf` (exactly `size`
   * bytes long, a view into the reply) and return the byte count, return a
   * Buffer of at most `size` bytes, or return a FileRange of at most `size`
   * bytes of a host file (no copy through JavaScript where the transport can
   * avoid it). openFlags: the client file's flags now (fcntl F_SETFL may have
   * changed them since open, O_DIRECT for one).
   */
  read?(ctx: Context, node: NodeId, fh: bigint, offset: number, size: number, buf: Buffer, openFlags?: number): MaybePromise<number | Buffer | FileRange>;
  /** `data` is a view into the request buffer; copy it if you keep it. writeFlags: FUSE_WRITE_*; openFlags as for read. */
  write?(ctx: Context, node: NodeId, fh: bigint, offset: number, data: Buffer, writeFlags: number, openFlags: number): MaybePromise<number>;
  flush?(ctx: Context, node: NodeId, fh: bigint, lockOwner: bigint): MaybePromise<void>;
  /** releaseFlags: FUSE_RELEASE_FLUSH, FUSE_RELEASE_FLOCK_UNLOCK. */
  release?(ctx: Context, node: NodeId, fh: bigint, flags: number, releaseFlags: number, lockOwner: bigint): MaybePromise<void>;
  fsync?(ctx: Context, node: NodeId, fh: bigint, datasync: boolean): MaybePromise<void>;

  opendir?(ctx: Context, node: NodeId, flags: number): MaybePromise<OpenReply>;
  readdir?(ctx: Context, node: NodeId, fh: bigint, offset: bigint, out: DirSink): MaybePromise<void>;
  readdirplus?(ctx: Context, node: NodeId, fh: bigint, offset: bigint, out: DirPlusSink): MaybePromise<void>;
  releasedir?(ctx: Context, node: NodeId, fh: bigint, flags: number): MaybePromise<void>;
  fsyncdir?(ctx: Context, node: NodeId, fh: bigint, datasync: boolean): MaybePromise<void>;

  statfs?(ctx: Context, node: NodeId): MaybePromise<StatFs>;
  /** flags: XATTR_CREATE/XATTR_REPLACE; setxattrFlags: FUSE_SETXATTR_ACL_KILL_SGID. */
  setxattr?(ctx: Context, node: NodeId, name: Buffer, value: Buffer, flags: number, setxattrFlags: number): MaybePromise<void>;
  /** Return the whole value; size negotiation (size 0, ERANGE) is done for you. */
  getxattr?(ctx: Context, node: NodeId, name: Buffer): MaybePromise<Buffer>;
  /** Return the names, each NUL-terminated, concatenated. */
  listxattr?(ctx: Context, node: NodeId): MaybePromise<Buffer>;
  removexattr?(ctx: Context, node: NodeId, name: Buffer): MaybePromise<void>;
  access?(ctx: Context, node: NodeId, mask: number): MaybePromise<void>;
  create?(ctx: Context, parent: NodeId, name: Buffer, mode: number, flags: number): MaybePromise<CreateReply>;

  getlk?(ctx: Context, node: NodeId, fh: bigint, owner: bigint, lock: FileLock): MaybePromise<FileLock>;
  /** `sleep` for SETLKW; `flock` when the lock came from flock(2) (FUSE_LK_FLOCK). */
  setlk?(ctx: Context, node: NodeId, fh: bigint, owner: bigint, lock: FileLock, sleep: boolean, flock: boolean): MaybePromise<void>;
  bmap?(ctx: Context, node: NodeId, blocksize: number, block: bigint): MaybePromise<bigint>;
  ioctl?(ctx: Context, node: NodeId, fh: bigint, flags: number, cmd: number, arg: bigint, input: Buffer, outSize: number): MaybePromise<IoctlReply>;
  fallocate?(ctx: Context, node: NodeId, fh: bigint, offset: number, length: number, mode: number): MaybePromise<void>;
  lseek?(ctx: Context, node: NodeId, fh: bigint, offset: number, whence: number): MaybePromise<number>;
  copyFileRange?(ctx: Context, nodeIn: NodeId, fhIn: bigint, offIn: number, nodeOut: NodeId, fhOut: bigint, offOut: number, len: number, flags: number): MaybePromise<number>;
  syncfs?(ctx: Context, node: NodeId): MaybePromise<void>;
  tmpfile?(ctx: Context, parent: NodeId, mode: number, flags: number): MaybePromise<CreateReply>;
  statx?(ctx: Context, node: NodeId, fh: bigint | undefined, flags: number, mask: number): MaybePromise<StatxReply>;
}

/** Every method name of FileSystem, for wrappers and tests. */
export type FileSystemMethod = Exclude<keyof FileSystem, 'init' | 'destroy'>;
