/**
 * Constants of the kernel FUSE protocol (include/uapi/linux/fuse.h, 7.45).
 * Names drop the FUSE_ prefix; values are exactly the header's.
 */

export const FUSE_KERNEL_VERSION = 7;
export const FUSE_KERNEL_MINOR_VERSION = 45;
export const ROOT_ID = 1n;
export const IN_HEADER_SIZE = 40;
export const OUT_HEADER_SIZE = 16;
export const FUSE_MIN_READ_BUFFER = 8192;

export const Opcode = {
  LOOKUP: 1,
  FORGET: 2,
  GETATTR: 3,
  SETATTR: 4,
  READLINK: 5,
  SYMLINK: 6,
  MKNOD: 8,
  MKDIR: 9,
  UNLINK: 10,
  RMDIR: 11,
  RENAME: 12,
  LINK: 13,
  OPEN: 14,
  READ: 15,
  WRITE: 16,
  STATFS: 17,
  RELEASE: 18,
  FSYNC: 20,
  SETXATTR: 21,
  GETXATTR: 22,
  LISTXATTR: 23,
  REMOVEXATTR: 24,
  FLUSH: 25,
  INIT: 26,
  OPENDIR: 27,
  READDIR: 28,
  RELEASEDIR: 29,
  FSYNCDIR: 30,
  GETLK: 31,
  SETLK: 32,
  SETLKW: 33,
  ACCESS: 34,
  CREATE: 35,
  INTERRUPT: 36,
  BMAP: 37,
  DESTROY: 38,
  IOCTL: 39,
  POLL: 40,
  NOTIFY_REPLY: 41,
  BATCH_FORGET: 42,
  FALLOCATE: 43,
  READDIRPLUS: 44,
  RENAME2: 45,
  LSEEK: 46,
  COPY_FILE_RANGE: 47,
  SETUPMAPPING: 48,
  REMOVEMAPPING: 49,
  SYNCFS: 50,
  TMPFILE: 51,
  STATX: 52,
  COPY_FILE_RANGE_64: 53,
  CUSE_INIT: 4096,
} as const;
export type OpcodeValue = (typeof Opcode)[keyof typeof Opcode];

const opcodeNames: string[] = [];
for (const [name, n] of Object.entries(Opcode)) opcodeNames[n] = name;

/** fuse.h's name of an opcode (without FUSE_), or OPCODE_n. What each one means to the protocol: opcodes.ts. */
export function opcodeName(n: number): string {
  return opcodeNames[n] ?? `OPCODE_${n}`;
}

/**
 * INIT capability flags as one 64-bit space: bits 32..63 travel in the
 * flags2 field of fuse_init_in/out (only when INIT_EXT is set).
 */
export const InitFlag = {
  ASYNC_READ: 1n << 0n,
  POSIX_LOCKS: 1n << 1n,
  FILE_OPS: 1n << 2n,
  ATOMIC_O_TRUNC: 1n << 3n,
  EXPORT_SUPPORT: 1n << 4n,
  BIG_WRITES: 1n << 5n,
  DONT_MASK: 1n << 6n,
  SPLICE_WRITE: 1n << 7n,
  SPLICE_MOVE: 1n << 8n,
  SPLICE_READ: 1n << 9n,
  FLOCK_LOCKS: 1n << 10n,
  HAS_IOCTL_DIR: 1n << 11n,
  AUTO_INVAL_DATA: 1n << 12n,
  DO_READDIRPLUS: 1n << 13n,
  READDIRPLUS_AUTO: 1n << 14n,
  ASYNC_DIO: 1n << 15n,
  WRITEBACK_CACHE: 1n << 16n,
  NO_OPEN_SUPPORT: 1n << 17n,
  PARALLEL_DIROPS: 1n << 18n,
  HANDLE_KILLPRIV: 1n << 19n,
  POSIX_ACL: 1n << 20n,
  ABORT_ERROR: 1n << 21n,
  MAX_PAGES: 1n << 22n,
  CACHE_SYMLINKS: 1n << 23n,
  NO_OPENDIR_SUPPORT: 1n << 24n,
  EXPLICIT_INVAL_DATA: 1n << 25n,
  MAP_ALIGNMENT: 1n << 26n,
  SUBMOUNTS: 1n << 27n,
  HANDLE_KILLPRIV_V2: 1n << 28n,
  SETXATTR_EXT: 1n << 29n,
  INIT_EXT: 1n << 30n,
  INIT_RESERVED: 1n << 31n,
  SECURITY_CTX: 1n << 32n,
  HAS_INODE_DAX: 1n << 33n,
  CREATE_SUPP_GROUP: 1n << 34n,
  HAS_EXPIRE_ONLY: 1n << 35n,
  DIRECT_IO_ALLOW_MMAP: 1n << 36n,
  PASSTHROUGH: 1n << 37n,
  NO_EXPORT_SUPPORT: 1n << 38n,
  HAS_RESEND: 1n << 39n,
  ALLOW_IDMAP: 1n << 40n,
  OVER_IO_URING: 1n << 41n,
  REQUEST_TIMEOUT: 1n << 42n,
} as const;

/** CUSE INIT flag. */
export const CUSE_UNRESTRICTED_IOCTL = 1 << 0;

/** fuse_setattr_in.valid */
export const FATTR = {
  MODE: 1 << 0,
  UID: 1 << 1,
  GID: 1 << 2,
  SIZE: 1 << 3,
  ATIME: 1 << 4,
  MTIME: 1 << 5,
  FH: 1 << 6,
  ATIME_NOW: 1 << 7,
  MTIME_NOW: 1 << 8,
  LOCKOWNER: 1 << 9,
  CTIME: 1 << 10,
  KILL_SUIDGID: 1 << 11,
} as const;

/** fuse_open_out.open_flags */
export const FOPEN = {
  DIRECT_IO: 1 << 0,
  KEEP_CACHE: 1 << 1,
  NONSEEKABLE: 1 << 2,
  CACHE_DIR: 1 << 3,
  STREAM: 1 << 4,
  NOFLUSH: 1 << 5,
  PARALLEL_DIRECT_WRITES: 1 << 6,
  PASSTHROUGH: 1 << 7,
} as const;

/** fuse_release_in.release_flags */
export const RELEASE = {
  FLUSH: 1 << 0,
  FLOCK_UNLOCK: 1 << 1,
} as const;

/** fuse_getattr_in.getattr_flags */
export const GETATTR_FH = 1 << 0;

/** fuse_lk_in.lk_flags */
export const LK_FLOCK = 1 << 0;

/** fuse_write_in.write_flags */
export const WRITE = {
  CACHE: 1 << 0,
  LOCKOWNER: 1 << 1,
  KILL_SUIDGID: 1 << 2,
} as const;

/** fuse_read_in.read_flags */
export const READ_LOCKOWNER = 1 << 1;

/** fuse_ioctl_in.flags / fuse_ioctl_out.flags */
export const IOCTL = {
  COMPAT: 1 << 0,
  UNRESTRICTED: 1 << 1,
  RETRY: 1 << 2,
  '32BIT': 1 << 3,
  DIR: 1 << 4,
  COMPAT_X32: 1 << 5,
  /** Maximum of in_iovs + out_iovs. */
  MAX_IOV: 256,
} as const;

/** fuse_poll_in.flags */
export const POLL_SCHEDULE_NOTIFY = 1 << 0;

/** fuse_fsync_in.fsync_flags */
export const FSYNC_FDATASYNC = 1 << 0;

/** fuse_attr.flags */
export const ATTR = {
  SUBMOUNT: 1 << 0,
  DAX: 1 << 1,
} as const;

/** fuse_open_in.open_flags / fuse_create_in.open_flags */
export const OPEN_KILL_SUIDGID = 1 << 0;

/** fuse_setxattr_in.setxattr_flags */
export const SETXATTR_ACL_KILL_SGID = 1 << 0;

/** fuse_notify_inval_entry_out.flags */
export const EXPIRE_ONLY = 1 << 0;

/** fuse_setupmapping_in.flags */
export const SETUPMAPPING_FLAG = {
  WRITE: 1n << 0n,
  READ: 1n << 1n,
} as const;

/** Extension types (fuse_ext_header.type). 0..31 are fuse_secctx_header.nr_secctx. */
export const ExtType = {
  MAX_NR_SECCTX: 31,
  GROUPS: 32,
} as const;

/** The error field of a notification (unique 0). */
export const NotifyCode = {
  POLL: 1,
  INVAL_INODE: 2,
  INVAL_ENTRY: 3,
  STORE: 4,
  RETRIEVE: 5,
  DELETE: 6,
  RESEND: 7,
  INC_EPOCH: 8,
  PRUNE: 9,
} as const;

/** High bit of fuse_in_header.unique: the request is a resend (HAS_RESEND). */
export const UNIQUE_RESEND = 1n << 63n;

/** uid/gid the kernel sends when it cannot map the caller (ALLOW_IDMAP). */
export const INVALID_UIDGID = 0xffffffff;

/**
 * Struct sizes for older protocol minors. The FUSE_COMPAT_* ones are from
 * fuse.h; the rest are the pre-extension layouts from the changelog.
 */
export const COMPAT = {
  /** minor < 9: fuse_attr without blksize/flags. */
  ENTRY_OUT_SIZE: 120,
  ATTR_OUT_SIZE: 96,
  /** minor < 12: no umask. */
  MKNOD_IN_SIZE: 8,
  /** minor < 12: CREATE carries fuse_open_in-sized {flags, mode}. */
  CREATE_IN_SIZE: 8,
  /** minor < 9: no lock_owner/flags. */
  WRITE_IN_SIZE: 24,
  READ_IN_SIZE: 24,
  /** minor < 9: no lk_flags. */
  LK_IN_SIZE: 40,
  /** minor < 8: no release_flags/lock_owner. */
  RELEASE_IN_SIZE: 16,
  /** minor < 4: no frsize. */
  STATFS_SIZE: 48,
  /** minor < 5 */
  INIT_OUT_SIZE: 8,
  /** minor < 23 */
  INIT_OUT_22_SIZE: 24,
  /** Without SETXATTR_EXT. */
  SETXATTR_IN_SIZE: 8,
  /** fuse_init_in before 7.36 (no flags2). */
  INIT_IN_SIZE: 16,
} as const;

/** Current struct sizes. */
export const SIZE = {
  ATTR: 88,
  ENTRY_OUT: 128,
  ATTR_OUT: 104,
  OPEN_OUT: 16,
  KSTATFS: 80,
  FILE_LOCK: 24,
  INIT_IN: 64,
  INIT_OUT: 64,
  STATX: 256,
  STATX_OUT: 288,
  DIRENT: 24,
  DIRENTPLUS: 152,
  IOCTL_OUT: 16,
  IOCTL_IOVEC: 16,
  SETATTR_IN: 88,
  READ_IN: 40,
  WRITE_IN: 40,
  FORGET_ONE: 16,
} as const;

/** ioctls on /dev/fuse (_IOR/_IOW(229, nr, ...)). */
export const DevIoctl = {
  CLONE: 0x8004e500,
  /** Argument: struct fuse_backing_map { s32 fd; u32 flags; u64 padding } → backing id. */
  BACKING_OPEN: 0x4010e501,
  /** Argument: u32 backing id. */
  BACKING_CLOSE: 0x4004e502,
  SYNC_INIT: 0xe503,
} as const;
