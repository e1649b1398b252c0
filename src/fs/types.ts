/** Value types shared by the FileSystem API and the protocol codecs. */

/** A result the filesystem may produce synchronously or asynchronously. */
export type MaybePromise<T> = T | Promise<T>;

/**
 * Read data given as a range of a host file rather than as bytes: the
 * transport moves them from the file to where the reply goes (into guest
 * memory with preadv, for virtio-fs) or the protocol reads them into its
 * reply buffer. Fewer than `length` bytes at the end of the file is a short
 * read, as with pread(2). `fd` must stay open until the read is answered.
 */
export interface FileRange {
  fd: number;
  offset: number;
  length: number;
}

/** Kernel node id. 1 is the root (ROOT_ID); 0 marks a negative entry. */
export type NodeId = bigint;
export const ROOT_ID: NodeId = 1n;

/** File attributes as FUSE carries them (struct fuse_attr). Times are seconds + nanoseconds. */
export interface Attr {
  ino: bigint;
  size: number;
  blocks: number;
  atime: number;
  atimeNsec: number;
  mtime: number;
  mtimeNsec: number;
  ctime: number;
  ctimeNsec: number;
  mode: number;
  nlink: number;
  uid: number;
  gid: number;
  rdev: number;
  blksize: number;
  /** FUSE_ATTR_* flags (SUBMOUNT, DAX). */
  flags: number;
}

/** Extended attributes for FUSE_STATX (struct fuse_statx). */
export interface StatxAttr extends Attr {
  /** STATX_* bits that are valid. */
  mask: number;
  btime: number;
  btimeNsec: number;
  attributes: bigint;
  attributesMask: bigint;
  /** Device of the file itself (statx stx_dev_major/minor), for completeness. */
  devMajor: number;
  devMinor: number;
}

/** Reply to lookup, mknod, mkdir, symlink, link, create, tmpfile (struct fuse_entry_out). */
export interface Entry {
  /** 0n for a negative entry (the name does not exist; cached for entryTimeout). */
  nodeid: NodeId;
  generation: bigint;
  attr: Attr;
  /** Seconds the kernel may cache the name → node binding. */
  entryTimeout: number;
  /** Seconds the kernel may cache the attributes. */
  attrTimeout: number;
}

export interface AttrReply {
  attr: Attr;
  timeout: number;
}

export interface StatxReply {
  attr: StatxAttr;
  timeout: number;
}

/** Reply to open and opendir (struct fuse_open_out). */
export interface OpenReply {
  fh: bigint;
  /** FOPEN_* flags: DIRECT_IO, KEEP_CACHE, CACHE_DIR, PARALLEL_DIRECT_WRITES, PASSTHROUGH… */
  openFlags: number;
  /** With FOPEN_PASSTHROUGH: the id from FUSE_DEV_IOC_BACKING_OPEN. */
  backingId?: number;
}

export interface CreateReply {
  entry: Entry;
  open: OpenReply;
}

/** Timestamp in a setattr request: explicit, or "now" (UTIME_NOW). */
export type TimeSet = { sec: number; nsec: number } | 'now';

/** A decoded SETATTR: only the fields the kernel asked to change are present. */
export interface SetAttrIn {
  mode?: number;
  uid?: number;
  gid?: number;
  size?: number;
  atime?: TimeSet;
  mtime?: TimeSet;
  ctime?: { sec: number; nsec: number };
  /** Present when the kernel names an open file (FATTR_FH). */
  fh?: bigint;
  lockOwner?: bigint;
  /** FATTR_KILL_SUIDGID: clear setuid/setgid (HANDLE_KILLPRIV_V2). */
  killSuidgid: boolean;
}

/** struct fuse_kstatfs */
export interface StatFs {
  blocks: number;
  bfree: number;
  bavail: number;
  files: number;
  ffree: number;
  bsize: number;
  namelen: number;
  frsize: number;
}

/** struct fuse_file_lock. `end` is inclusive; OFFSET_MAX means "to end of file". */
export interface FileLock {
  start: bigint;
  end: bigint;
  /** F_RDLCK, F_WRLCK or F_UNLCK */
  type: number;
  pid: number;
}

export interface IoctlReply {
  result: number;
  data?: Buffer;
}

/**
 * Where readdir puts its entries. `add` returns false when the reply buffer is
 * full: the entry was not added and the filesystem should stop.
 */
export interface DirSink {
  add(name: Buffer | string, ino: bigint, type: number, nextOffset: bigint): boolean;
}

/**
 * Where readdirplus puts its entries. Each entry with a non-zero nodeid counts
 * as a lookup. Check `fits` before doing the lookup; if `addPlus` still
 * returns false, the entry was not sent and its lookup must be undone.
 */
export interface DirPlusSink {
  fits(name: Buffer | string): boolean;
  addPlus(name: Buffer | string, entry: Entry, nextOffset: bigint): boolean;
}
