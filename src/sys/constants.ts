/**
 * Linux ABI constants for x86_64 and arm64 (the kernel's values, not glibc's:
 * where they differ the comment says so). Values that differ between the two
 * architectures are picked by process.arch at load.
 */

const arch = process.arch;
if (arch !== 'x64' && arch !== 'arm64') {
  throw new Error(`passthroughfs sys: unsupported architecture ${arch} (x64 and arm64 only)`);
}
export const IS_ARM64 = arch === 'arm64';

// ---- open(2) flags -------------------------------------------------------
export const O_RDONLY = 0;
export const O_WRONLY = 0o1;
export const O_RDWR = 0o2;
export const O_ACCMODE = 0o3;
export const O_CREAT = 0o100;
export const O_EXCL = 0o200;
export const O_NOCTTY = 0o400;
export const O_TRUNC = 0o1000;
export const O_APPEND = 0o2000;
export const O_NONBLOCK = 0o4000;
export const O_DSYNC = 0o10000;
export const FASYNC = 0o20000;
export const O_DIRECT = IS_ARM64 ? 0o200000 : 0o40000;
/** The kernel's value. glibc defines O_LARGEFILE as 0 on 64-bit, but the kernel sets this bit in f_flags (and FUSE open flags carry it). */
export const O_LARGEFILE = IS_ARM64 ? 0o400000 : 0o100000;
export const O_DIRECTORY = IS_ARM64 ? 0o40000 : 0o200000;
export const O_NOFOLLOW = IS_ARM64 ? 0o100000 : 0o400000;
export const O_NOATIME = 0o1000000;
export const O_CLOEXEC = 0o2000000;
export const O_SYNC = 0o4010000;
export const O_PATH = 0o10000000;
/** Includes O_DIRECTORY, as the uapi header does. */
export const O_TMPFILE = 0o20000000 | O_DIRECTORY;

/** pwritev2(2) flags. */
export const RWF_APPEND = 0x10;
/** Honour the offset on an O_APPEND fd (Linux ≥ 6.9; EPERM on an append-only inode). */
export const RWF_NOAPPEND = 0x20;

// ---- *at(2) ---------------------------------------------------------------
export const AT_FDCWD = -100;
export const AT_SYMLINK_NOFOLLOW = 0x100;
export const AT_REMOVEDIR = 0x200;
export const AT_EACCESS = 0x200;
export const AT_SYMLINK_FOLLOW = 0x400;
export const AT_NO_AUTOMOUNT = 0x800;
export const AT_EMPTY_PATH = 0x1000;
export const AT_STATX_SYNC_TYPE = 0x6000;
export const AT_STATX_SYNC_AS_STAT = 0x0000;
export const AT_STATX_FORCE_SYNC = 0x2000;
export const AT_STATX_DONT_SYNC = 0x4000;
export const AT_RECURSIVE = 0x8000;
/** name_to_handle_at: the handle only identifies, it cannot be opened (6.5). Same bit as AT_REMOVEDIR. */
export const AT_HANDLE_FID = 0x200;
/** name_to_handle_at: return the 64-bit unique mount id (6.12). */
export const AT_HANDLE_MNT_ID_UNIQUE = 0x001;
/** name_to_handle_at: the handle can be opened even when disconnected (6.13). */
export const AT_HANDLE_CONNECTABLE = 0x002;

// ---- openat2 resolve flags -----------------------------------------------
export const RESOLVE_NO_XDEV = 0x01;
export const RESOLVE_NO_MAGICLINKS = 0x02;
export const RESOLVE_NO_SYMLINKS = 0x04;
export const RESOLVE_BENEATH = 0x08;
export const RESOLVE_IN_ROOT = 0x10;
export const RESOLVE_CACHED = 0x20;

// ---- renameat2 -------------------------------------------------------------
export const RENAME_NOREPLACE = 1;
export const RENAME_EXCHANGE = 2;
export const RENAME_WHITEOUT = 4;

// ---- file types and mode bits ---------------------------------------------
export const S_IFMT = 0o170000;
export const S_IFSOCK = 0o140000;
export const S_IFLNK = 0o120000;
export const S_IFREG = 0o100000;
export const S_IFBLK = 0o060000;
export const S_IFDIR = 0o040000;
export const S_IFCHR = 0o020000;
export const S_IFIFO = 0o010000;
export const S_ISUID = 0o4000;
export const S_ISGID = 0o2000;
export const S_ISVTX = 0o1000;

// ---- d_type ----------------------------------------------------------------
export const DT_UNKNOWN = 0;
export const DT_FIFO = 1;
export const DT_CHR = 2;
export const DT_DIR = 4;
export const DT_BLK = 6;
export const DT_REG = 8;
export const DT_LNK = 10;
export const DT_SOCK = 12;
export const DT_WHT = 14;

// ---- statx masks -----------------------------------------------------------
export const STATX_TYPE = 0x1;
export const STATX_MODE = 0x2;
export const STATX_NLINK = 0x4;
export const STATX_UID = 0x8;
export const STATX_GID = 0x10;
export const STATX_ATIME = 0x20;
export const STATX_MTIME = 0x40;
export const STATX_CTIME = 0x80;
export const STATX_INO = 0x100;
export const STATX_SIZE = 0x200;
export const STATX_BLOCKS = 0x400;
export const STATX_BASIC_STATS = 0x7ff;
export const STATX_BTIME = 0x800;
export const STATX_ALL = 0xfff;
export const STATX_MNT_ID = 0x1000;
export const STATX_DIOALIGN = 0x2000;
export const STATX_MNT_ID_UNIQUE = 0x4000;
export const STATX_SUBVOL = 0x8000;
export const STATX_WRITE_ATOMIC = 0x10000;
export const STATX_DIO_READ_ALIGN = 0x20000;

// stx_attributes bits
export const STATX_ATTR_COMPRESSED = 0x4;
export const STATX_ATTR_IMMUTABLE = 0x10;
export const STATX_ATTR_APPEND = 0x20;
export const STATX_ATTR_NODUMP = 0x40;
export const STATX_ATTR_ENCRYPTED = 0x800;
export const STATX_ATTR_AUTOMOUNT = 0x1000;
export const STATX_ATTR_MOUNT_ROOT = 0x2000;
export const STATX_ATTR_VERITY = 0x100000;
export const STATX_ATTR_DAX = 0x200000;
export const STATX_ATTR_WRITE_ATOMIC = 0x400000;

// ---- utimensat -------------------------------------------------------------
export const UTIME_NOW = (1 << 30) - 1;
export const UTIME_OMIT = (1 << 30) - 2;

// ---- fcntl -----------------------------------------------------------------
export const F_DUPFD = 0;
export const F_GETFD = 1;
export const F_SETFD = 2;
export const F_GETFL = 3;
export const F_SETFL = 4;
export const F_GETLK = 5;
export const F_SETLK = 6;
export const F_SETLKW = 7;
export const F_SETOWN = 8;
export const F_GETOWN = 9;
export const F_OFD_GETLK = 36;
export const F_OFD_SETLK = 37;
export const F_OFD_SETLKW = 38;
export const F_SETLEASE = 1024;
export const F_GETLEASE = 1025;
export const F_DUPFD_CLOEXEC = 1030;
export const F_SETPIPE_SZ = 1031;
export const F_GETPIPE_SZ = 1032;
export const F_ADD_SEALS = 1033;
export const F_GET_SEALS = 1034;
export const FD_CLOEXEC = 1;
export const F_RDLCK = 0;
export const F_WRLCK = 1;
export const F_UNLCK = 2;

// ---- flock(2) --------------------------------------------------------------
export const LOCK_SH = 1;
export const LOCK_EX = 2;
export const LOCK_NB = 4;
export const LOCK_UN = 8;

// ---- fallocate -------------------------------------------------------------
export const FALLOC_FL_KEEP_SIZE = 0x01;
export const FALLOC_FL_PUNCH_HOLE = 0x02;
export const FALLOC_FL_NO_HIDE_STALE = 0x04;
export const FALLOC_FL_COLLAPSE_RANGE = 0x08;
export const FALLOC_FL_ZERO_RANGE = 0x10;
export const FALLOC_FL_INSERT_RANGE = 0x20;
export const FALLOC_FL_UNSHARE_RANGE = 0x40;
/** 6.17+. */
export const FALLOC_FL_WRITE_ZEROES = 0x80;

// ---- lseek -----------------------------------------------------------------
export const SEEK_SET = 0;
export const SEEK_CUR = 1;
export const SEEK_END = 2;
export const SEEK_DATA = 3;
export const SEEK_HOLE = 4;

// ---- xattr -----------------------------------------------------------------
export const XATTR_CREATE = 1;
export const XATTR_REPLACE = 2;
export const XATTR_SIZE_MAX = 65536;
export const XATTR_LIST_MAX = 65536;
export const XATTR_NAME_MAX = 255;

// ---- mount(2) / umount2(2) -------------------------------------------------
export const MS_RDONLY = 1;
export const MS_NOSUID = 2;
export const MS_NODEV = 4;
export const MS_NOEXEC = 8;
export const MS_SYNCHRONOUS = 16;
export const MS_REMOUNT = 32;
export const MS_MANDLOCK = 64;
export const MS_DIRSYNC = 128;
export const MS_NOSYMFOLLOW = 256;
export const MS_NOATIME = 1024;
export const MS_NODIRATIME = 2048;
export const MS_BIND = 4096;
export const MS_MOVE = 8192;
export const MS_REC = 16384;
export const MS_SILENT = 32768;
export const MS_POSIXACL = 1 << 16;
export const MS_UNBINDABLE = 1 << 17;
export const MS_PRIVATE = 1 << 18;
export const MS_SLAVE = 1 << 19;
export const MS_SHARED = 1 << 20;
export const MS_RELATIME = 1 << 21;
export const MS_KERNMOUNT = 1 << 22;
export const MS_I_VERSION = 1 << 23;
export const MS_STRICTATIME = 1 << 24;
export const MS_LAZYTIME = 1 << 25;
export const MNT_FORCE = 1;
export const MNT_DETACH = 2;
export const MNT_EXPIRE = 4;
export const UMOUNT_NOFOLLOW = 8;

// ---- poll ------------------------------------------------------------------
export const POLLIN = 0x1;
export const POLLPRI = 0x2;
export const POLLOUT = 0x4;
export const POLLERR = 0x8;
export const POLLHUP = 0x10;
export const POLLNVAL = 0x20;
export const POLLRDNORM = 0x40;
export const POLLRDBAND = 0x80;
export const POLLWRNORM = 0x100;
export const POLLWRBAND = 0x200;
export const POLLRDHUP = 0x2000;

// ---- clone / unshare -------------------------------------------------------
export const CLONE_FS = 0x200;
export const CLONE_FILES = 0x400;
export const CLONE_NEWNS = 0x20000;
export const CLONE_SYSVSEM = 0x40000;
export const CLONE_NEWUSER = 0x10000000;

// ---- sockets ---------------------------------------------------------------
export const AF_UNIX = 1;
export const SOCK_STREAM = 1;
export const SOCK_DGRAM = 2;
export const SOCK_SEQPACKET = 5;
export const SOCK_NONBLOCK = 0o4000;
export const SOCK_CLOEXEC = 0o2000000;
export const SOL_SOCKET = 1;
export const SCM_RIGHTS = 1;
export const SO_TYPE = 3;
export const SO_ACCEPTCONN = 30;
export const MSG_DONTWAIT = 0x40;
export const MSG_CTRUNC = 0x08;
export const MSG_TRUNC = 0x20;
export const MSG_NOSIGNAL = 0x4000;
export const MSG_CMSG_CLOEXEC = 0x40000000;

// ---- splice ----------------------------------------------------------------
export const SPLICE_F_MOVE = 1;
export const SPLICE_F_NONBLOCK = 2;
export const SPLICE_F_MORE = 4;
export const SPLICE_F_GIFT = 8;

// ---- prctl (a few) ---------------------------------------------------------
export const PR_SET_PDEATHSIG = 1;
export const PR_SET_KEEPCAPS = 8;
export const PR_SET_NAME = 15;
export const PR_GET_NAME = 16;
export const PR_CAPBSET_READ = 23;
export const PR_CAPBSET_DROP = 24;
export const PR_SET_NO_NEW_PRIVS = 38;

// ---- file handles ----------------------------------------------------------
export const MAX_HANDLE_SZ = 128;

// ---- ioctl (a few the passthrough forwards) -------------------------------
export const FS_IOC_GETFLAGS = 0x80086601;
export const FS_IOC_SETFLAGS = 0x40086602;
export const FS_IOC_GETVERSION = 0x80087601;
export const FS_IOC_FSGETXATTR = 0x801c581f;
export const FS_IOC_FSSETXATTR = 0x401c5820;
export const FIONREAD = 0x541b;
/** ioctl(dest, FICLONE, srcFd): reflink a whole file (int argument). */
export const FICLONE = 0x40049409;
export const CLOSE_RANGE_UNSHARE = 2;
export const CLOSE_RANGE_CLOEXEC = 4;

export const PATH_MAX = 4096;

// ---- syscall numbers -------------------------------------------------------
/** Syscalls called through syscall(2): those glibc 2.36 lacks, and those whose glibc wrapper behaves differently (see cred.ts). */
export interface SyscallNumbers {
  readonly setgroups: number;
  readonly setresuid: number;
  readonly setresgid: number;
  readonly setfsuid: number;
  readonly setfsgid: number;
  readonly gettid: number;
  readonly renameat2: number;
  readonly statx: number;
  readonly getdents64: number;
  readonly utimensat: number;
  readonly copy_file_range: number;
  readonly name_to_handle_at: number;
  readonly open_by_handle_at: number;
  readonly openat2: number;
  readonly close_range: number;
  readonly fchmodat2: number;
  readonly setxattrat: number;
  readonly getxattrat: number;
  readonly listxattrat: number;
  readonly removexattrat: number;
}

const SYS_X64: SyscallNumbers = {
  setgroups: 116,
  setresuid: 117,
  setresgid: 119,
  setfsuid: 122,
  setfsgid: 123,
  gettid: 186,
  getdents64: 217,
  utimensat: 280,
  name_to_handle_at: 303,
  open_by_handle_at: 304,
  renameat2: 316,
  copy_file_range: 326,
  statx: 332,
  close_range: 436,
  openat2: 437,
  fchmodat2: 452,
  setxattrat: 463,
  getxattrat: 464,
  listxattrat: 465,
  removexattrat: 466,
};

// arm64 uses the asm-generic table; numbers from 424 on are shared by all arches.
const SYS_ARM64: SyscallNumbers = {
  setgroups: 159,
  setresuid: 147,
  setresgid: 149,
  setfsuid: 151,
  setfsgid: 152,
  gettid: 178,
  getdents64: 61,
  utimensat: 88,
  name_to_handle_at: 264,
  open_by_handle_at: 265,
  renameat2: 276,
  copy_file_range: 285,
  statx: 291,
  close_range: 436,
  openat2: 437,
  fchmodat2: 452,
  setxattrat: 463,
  getxattrat: 464,
  listxattrat: 465,
  removexattrat: 466,
};

export const SYS: SyscallNumbers = IS_ARM64 ? SYS_ARM64 : SYS_X64;
