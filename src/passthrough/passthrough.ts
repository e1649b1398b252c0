/**
 * PassthroughFs: a FileSystem that mirrors a host directory, passing every
 * operation to the host kernel with synchronous syscalls on the serving thread.
 *
 * Containment: every name is a single component resolved against its
 * parent's O_PATH fd (openat2 RESOLVE_BENEATH|RESOLVE_NO_MAGICLINKS, or a
 * *at call that does not follow a final symlink); names that are empty, ".",
 * "..", or hold "/" or NUL are refused. Files are reopened for I/O through
 * /proc/self/fd only when they are regular files or directories.
 *
 * Our own mount: a name in the source may lead into the daemon's own mount
 * (mounted inside the source, or bind-mounted there later). Lookups never
 * wait on it (devices.ts): such a name is ELOOP to the client, in lookup,
 * readdirplus, create and mkdir alike.
 *
 * Failures leave no trace: an operation that creates a host object and then
 * fails removes it again, if this request made it (spare.ts).
 *
 * Permissions: when other users may use the mount (allow_other), it is
 * mounted with default_permissions and POSIX ACL support, so the kernel
 * checks mode bits and ACLs for every caller before a request reaches us.
 * Without allow_other the kernel lets only the daemon's own identity in, so
 * the host's checks on our syscalls are the native ones, and the kernel skips
 * a GETATTR of the parent per create/unlink that its checks would cost.
 * Operations that create objects run as the caller (creds.ts), so new objects
 * get the caller's ownership and the host checks the caller's rights too.
 *
 * There is no FLUSH: nothing is buffered here and POSIX locks are the
 * kernel's, so answering ENOSYS once spares a round trip on every close.
 */
import type { Context } from '../fs/context.js';
import type { BackingFiles, ConnectionInfo, FileSystem, SessionServices } from '../fs/filesystem.js';
import type {
  Attr, AttrReply, CreateReply, DirPlusSink, DirSink, Entry, FileLock, FileRange, OpenReply, SetAttrIn, StatFs, StatxReply,
} from '../fs/types.js';
import { ATTR, FOPEN, InitFlag, SETXATTR_ACL_KILL_SGID, WRITE } from '../fuse/abi.js';
import {
  CAP, AT_EACCESS, AT_EMPTY_PATH, AT_FDCWD, AT_REMOVEDIR, AT_STATX_DONT_SYNC, AT_SYMLINK_FOLLOW, AT_SYMLINK_NOFOLLOW,
  DirentCursor, O_ACCMODE, O_APPEND, O_CLOEXEC, O_CREAT, O_DIRECT, O_DIRECTORY, O_EXCL, O_NOCTTY, O_NOFOLLOW,
  O_PATH, O_RDONLY, O_RDWR, O_TMPFILE, O_TRUNC, O_WRONLY, RESOLVE_BENEATH, RESOLVE_NO_MAGICLINKS, RESOLVE_NO_XDEV, SEEK_SET,
  STATX_BASIC_STATS, STATX_MNT_ID, S_IFDIR, S_IFLNK, S_IFMT, S_IFREG, StatxOff, SysError, UTIME_NOW, UTIME_OMIT,
  F_RDLCK, F_UNLCK, LOCK_EX, LOCK_NB, LOCK_SH, LOCK_UN, close, copyFileRange, flock, errno as E, faccessat, fallocate, fchmod, fchmodat, fchownat, fstatfs,
  ftruncate, fsyncAsync, futimens, getdents64, getxattrFd, linkat, listxattrFd, lseek, lseekBig, makedev, mkdirat, mknodat,
  openat, openat2, pread, pwrite, readlinkat, removexattrFd, renameat2, setxattrFd, splitXattrList, xattrBuffer, statxInto, symlinkat, syncfsAsync,
  CLONE_FS, umask, unlinkat, unshare, utimensat, type Timespecs,
  AlignedBuffer, STATX_ATTR_APPEND, F_GETFL, F_SETFL, RWF_NOAPPEND, STATX_DIOALIGN, fcntl, pageSize, pwrite2,
  RLIMIT_NOFILE, getrlimit, nameToHandleInto,
} from '../sys/index.js';
import { attrFromStatx, statxAttrFromStatx, typeFromStatx } from './attr.js';
import { Credentials } from './creds.js';
import { Devices } from './devices.js';
import { HandleTable, type Handle } from './handles.js';
import { FdBudget, RESERVE } from './fdbudget.js';
import { InodeStore, type Inode } from './inodes.js';
import { InoMap } from './inomap.js';
import { MountTable, handleScratch, type Mount } from './mounts.js';
import { openFlagsFor, timeouts, type PassthroughOptions, type Timeouts } from './options.js';
import { callerHasCapability } from './callercaps.js';
import { SpareFd } from './spare.js';

const STATX_MASK = STATX_BASIC_STATS | STATX_MNT_ID;
const LOOKUP_RESOLVE = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
/** create() makes a file (O_EXCL); a mount point there is EXDEV, and left to openExisting. */
const CREATE_RESOLVE = LOOKUP_RESOLVE | RESOLVE_NO_XDEV;
/** A statx by name or of a fresh fd that never asks a FUSE server (our own mount, above all). */
const NO_WAIT = AT_SYMLINK_NOFOLLOW | AT_STATX_DONT_SYNC;
const NAME_MAX = 255;

function fail(errno: number, what: string): never {
  throw new SysError(errno, what);
}

function isErrno(e: unknown, errno: number | undefined): boolean {
  return e instanceof SysError && e.errno === errno;
}

/** Refuse names that are not one plain path component. */
function checkName(name: Buffer): void {
  const n = name.length;
  if (n === 0 || (name[0] === 0x2e && (n === 1 || (n === 2 && name[1] === 0x2e)))) fail(E.EINVAL!, 'name');
  if (name.indexOf(0x2f) >= 0 || name.indexOf(0) >= 0) fail(E.EINVAL!, 'name');
  if (n > NAME_MAX) fail(E.ENAMETOOLONG!, 'name');
}

const ACL_ACCESS = Buffer.from('system.posix_acl_access');
const ACL_DEFAULT = Buffer.from('system.posix_acl_default');
const TRUSTED = Buffer.from('trusted.');

function isAclName(name: Buffer): boolean {
  return name.equals(ACL_ACCESS) || name.equals(ACL_DEFAULT);
}

/** Names (as splitXattrList gives them) back into a listxattr list. */
function joinXattrNames(names: Buffer[]): Buffer {
  return Buffer.concat(names.flatMap((n) => [n, Buffer.of(0)]));
}

/** The FUSE rdev encoding (new_encode_dev) → glibc dev_t. */
function hostDev(rdev: number): bigint {
  return makedev((rdev & 0xfff00) >>> 8, ((rdev & 0xff) | ((rdev >>> 12) & 0xfff00)) >>> 0);
}

export class PassthroughFs implements FileSystem {
  /** Every descriptor the filesystem holds beyond a request (fdbudget.ts). */
  readonly budget: FdBudget;
  readonly mounts: MountTable;
  readonly inodes: InodeStore;
  readonly handles: HandleTable;
  private readonly creds = new Credentials();
  private readonly devices = new Devices();
  private readonly spare = new SpareFd();
  private readonly t: Timeouts;
  private readonly sx = Buffer.alloc(256);
  /** A second statx buffer, for comparing two inodes. */
  private readonly sx2 = Buffer.alloc(256);
  private readonly dirBuf = Buffer.alloc(32 * 1024);
  private readonly cursor = new DirentCursor();
  /** Bounce buffer for O_DIRECT host I/O (FUSE request and reply buffers are not aligned); mapped on first use. */
  private readonly aligned = new AlignedBuffer();
  private writeback = false;
  private backing: BackingFiles | undefined;
  /** The inode numbers clients see: unique across the filesystems mounted inside the source. */
  private readonly inos: InoMap;
  /** The kernel gives nested mounts their own st_dev (FUSE_SUBMOUNTS granted: virtio-fs only). */
  private submounts = false;

  constructor(readonly opts: PassthroughOptions) {
    this.t = timeouts(opts);
    if (opts.statx) this.statx = (_ctx, node, _fh, flags, mask) => this.statxOf(node, flags, mask);
    this.budget = new FdBudget(getrlimit(RLIMIT_NOFILE).soft - RESERVE);
    this.mounts = new MountTable(opts.inodeFileHandles, this.budget);
    this.inodes = new InodeStore(this.budget, this.mounts);
    this.handles = new HandleTable(this.budget);
    const root = this.makeRoot();
    this.inos = new InoMap(root.devMajor, root.devMinor);
    // The caller's umask is applied by the host, per request (DONT_MASK), so
    // that a parent's default ACL can override it as it does natively. That
    // needs a umask of this thread's own.
    unshare(CLONE_FS);
    umask(0);
  }

  private umaskNow = 0;

  /** Make the host apply the caller's umask to what this thread creates next. */
  private callerUmask(ctx: Context): void {
    const u = ctx.umask & 0o777;
    if (u !== this.umaskNow) {
      umask(u);
      this.umaskNow = u;
    }
  }

  /**
   * The root inode, from the source path: the first inode held, so it takes
   * slot 1. Made at construction (so a source that cannot be served fails
   * at start-up) and again on an INIT after a DESTROY.
   */
  private makeRoot(): Inode {
    try {
      return this.hold(this.openPath(AT_FDCWD, this.opts.source, O_DIRECTORY | O_NOFOLLOW));
    } catch (e) {
      if (e instanceof SysError && e.errno === E.EOPNOTSUPP && this.opts.inodeFileHandles === 'mandatory') {
        throw new Error(`--inode-file-handles=mandatory: ${this.opts.source}: ${e.message.replace(/^inode file handles: /, '')}`);
      }
      throw e;
    }
  }

  init(conn: ConnectionInfo, services: SessionServices): void {
    // A new session after DESTROY (a guest mounting again) starts from a fresh root.
    if (this.inodes.size === 0) this.makeRoot();
    if (services.log) {
      this.mounts.setLog(services.log);
      this.budget.log = services.log;
    }
    this.writeback = (conn.want & InitFlag.WRITEBACK_CACHE) !== 0n;
    this.backing = this.opts.passthroughIo ? services.backing : undefined;
    this.devices.setOwn(services.mountDevice);
    this.submounts = this.opts.announceSubmounts && (conn.want & InitFlag.SUBMOUNTS) !== 0n;
  }

  /** The session is over: every fd is closed, the root too (init makes it again). */
  destroy(): void {
    this.aligned.release();
    this.handles.clear();
    this.backingIds.clear();
    this.inodes.clear();
    this.spare.release();
  }

  // ---- helpers ---------------------------------------------------------------

  private node(nodeid: bigint): Inode {
    const i = this.inodes.get(nodeid);
    if (!i) fail(E.EBADF!, 'inode');
    return i;
  }

  /**
   * The O_PATH fd of an inode, for this request (see inodes.ts: ask right
   * before each use). Never inside creds.run: reopening by handle needs the
   * daemon's own capabilities, which a switch to the caller's fsuid drops.
   */
  private fdOf(inode: Inode): number {
    return this.inodes.fd(inode);
  }

  /**
   * An O_PATH fd of `name` in `dirfd` (with `flags` besides O_PATH; openat2
   * with `resolve`, or a plain openat), counted in the budget.
   */
  private openPath(dirfd: number, name: Buffer | string, extra: number, resolve = 0): number {
    this.budget.room();
    const flags = O_PATH | O_CLOEXEC | extra;
    const fd = resolve ? openat2(dirfd, name, flags, 0, resolve) : openat(dirfd, name, flags);
    this.budget.inodeFdOpened();
    return fd;
  }

  /** Close an fd from openPath that no inode took. */
  private dropFd(fd: number): void {
    close(fd);
    this.budget.inodeFdClosed();
  }

  /** The file handle of the inode `fd` is on, where its mount gives them. */
  private handleOf(fd: number, mount: Mount): string | undefined {
    if (mount.fd < 0) return undefined;
    try {
      const n = nameToHandleInto(fd, '', handleScratch, AT_EMPTY_PATH);
      return handleScratch.toString('latin1', 0, n);
    } catch (e) {
      // EOVERFLOW: this inode's handle is larger than MAX_HANDLE_SZ; it holds an fd instead.
      if (this.opts.inodeFileHandles === 'mandatory') fail(E.EOPNOTSUPP!, `inode file handles: ${e instanceof Error ? e.message : String(e)}`);
      return undefined;
    }
  }

  /** Take a lookup reference on a held inode; this.sx holds its attributes (again, where its filesystem caches them). */
  private ref(inode: Inode): Inode {
    if (inode.mount.caching) this.stat(this.fdOf(inode));
    inode.refs++;
    return inode;
  }

  /** statx of an inode's own fd into this.sx. */
  private stat(fd: number): void {
    const r = statxInto(fd, '', AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW, STATX_MASK, this.sx);
    if (r < 0) fail(-r, 'statx');
  }

  private attrReply(fd: number): AttrReply {
    this.stat(fd);
    return { attr: this.attrOf(), timeout: this.t.attr };
  }

  /** The attributes in this.sx as the client sees them: every inode number leaves through here or clientIno. */
  private attrOf(): Attr {
    const a = attrFromStatx(this.sx);
    a.ino = this.clientIno(this.sx, a.ino);
    return a;
  }

  /** Host inode `ino` on the device a statx buffer names → the client's number (inomap.ts). */
  private clientIno(sx: Buffer, ino: bigint): bigint {
    return this.inos.map(sx.readUInt32LE(StatxOff.devMajor), sx.readUInt32LE(StatxOff.devMinor), ino);
  }

  /**
   * Find or add the inode `name` in `parent` and take a reference. An inode we
   * already hold costs one statx (two on filesystems that cache attributes);
   * a new one is opened O_PATH without following symlinks or leaving the
   * parent, and keyed by what the fd itself is. Neither step waits on our own
   * mount: the statx by name is DONT_SYNC, an O_PATH open sends no request.
   */
  private lookupIn(parent: Inode, name: Buffer, maybeNew = false): Entry {
    const pfd = this.fdOf(parent);
    // Unless the caller expects a new inode (readdirplus of an entry we do not
    // hold), look for a known one first.
    if (!maybeNew) {
      const r = statxInto(pfd, name, NO_WAIT, STATX_MASK, this.sx);
      if (r < 0) fail(-r, 'lookup');
      if (this.devices.isOwn(this.sx)) fail(E.ELOOP!, 'lookup: the name leads into our own mount');
      const inode = this.inodes.find(this.sx);
      if (inode) return this.entryOf(this.ref(inode), parent);
    }
    return this.entryOf(this.hold(this.openPath(pfd, name, O_NOFOLLOW, LOOKUP_RESOLVE)), parent);
  }

  /**
   * Take a reference on the inode behind a fresh O_PATH fd from openPath,
   * which becomes the inode's or is closed; this.sx holds its attributes
   * after. Refused (ELOOP) when it is on our own mount. The fd decides the
   * identity (the name may have been replaced since a statx by name): a held
   * inode with its (dev, ino, mount) is the same one if it holds an fd (which
   * pins its number) or has the same file handle; otherwise it is gone, and
   * this is a new inode that reuses its number.
   */
  private hold(fd: number): Inode {
    let owned = true;
    let mount: Mount | undefined;
    try {
      const r = statxInto(fd, '', AT_EMPTY_PATH | NO_WAIT, STATX_MASK, this.sx);
      if (r < 0) fail(-r, 'lookup');
      if (this.devices.isOwn(this.sx)) fail(E.ELOOP!, 'lookup: the name leads into our own mount');
      const known = this.inodes.indexed(this.sx);
      if (known && known.fd >= 0) return this.ref(known);
      const type = typeFromStatx(this.sx);
      mount = this.mounts.get(this.sx.readUInt32LE(StatxOff.mntId), fd, type);
      const handle = this.handleOf(fd, mount);
      if (known) {
        if (handle !== undefined && handle === known.handle) {
          owned = false;
          this.inodes.adopt(known, fd);
          return this.ref(known);
        }
        this.inodes.unindex(known);
      }
      if (mount.caching) this.stat(fd);
      owned = false;
      return this.inodes.insert(fd, type, this.sx, mount, handle);
    } finally {
      if (owned) {
        this.dropFd(fd);
        if (mount) this.mounts.dropIfUnused(mount);
      }
    }
  }

  /**
   * The entry of an object this request just created (mkdir, mknod, symlink):
   * a new inode, so no statx by name first. If it cannot be made, the object
   * is removed again, so the failure leaves no trace.
   */
  private lookupCreated(ctx: Context, parent: Inode, name: Buffer, type: number): Entry {
    try {
      const pfd = this.fdOf(parent);
      return this.entryOf(this.hold(this.spare.open(() => this.openPath(pfd, name, O_NOFOLLOW, LOOKUP_RESOLVE))));
    } catch (e) {
      this.removeIfMade(ctx, parent, name, type);
      throw e;
    }
  }

  /**
   * Undo a creation: remove `name` if it still is what this request made, by
   * type and owner. (No call removes a name only if it is a given inode; a
   * host process that put a like object there in that instant would lose it.)
   */
  private removeIfMade(ctx: Context, parent: Inode, name: Buffer, type: number): void {
    const pfd = this.fdOf(parent);
    const r = statxInto(pfd, name, NO_WAIT, STATX_MASK, this.sx);
    if (r < 0 || this.devices.isOwn(this.sx) || typeFromStatx(this.sx) !== type) return;
    if (this.sx.readUInt32LE(StatxOff.uid) !== (this.creds.canSwitch ? ctx.uid : process.geteuid!())) return;
    try {
      unlinkat(pfd, name, type === S_IFDIR ? AT_REMOVEDIR : 0);
    } catch {
      // Gone or changed meanwhile: then it is not ours to remove.
    }
  }

  /** Undo a create or link: remove `name` if it still is the inode `fd` is on. */
  private unlinkIfSame(parent: Inode, name: Buffer, fd: number): void {
    if (statxInto(fd, '', AT_EMPTY_PATH | NO_WAIT, STATX_BASIC_STATS, this.sx2) < 0) return;
    const pfd = this.fdOf(parent);
    if (statxInto(pfd, name, NO_WAIT, STATX_BASIC_STATS, this.sx) < 0) return;
    const same = (o: number) => this.sx.readUInt32LE(o) === this.sx2.readUInt32LE(o);
    if (!same(StatxOff.ino) || !same(StatxOff.ino + 4) || !same(StatxOff.devMajor) || !same(StatxOff.devMinor)) return;
    try {
      unlinkat(pfd, name, 0);
    } catch {
      // Gone meanwhile.
    }
  }

  /**
   * The entry of `inode`, whose attributes are in this.sx. `parent` is the
   * directory it was looked up in: a directory on another mount than its
   * parent is a mount point, marked SUBMOUNT when the kernel takes the mark
   * (it then gives that mount its own st_dev). Objects this request created
   * or linked are on their parent's mount and need no `parent`.
   */
  private entryOf(inode: Inode, parent?: Inode): Entry {
    const attr = this.attrOf();
    if (this.submounts && parent && inode.type === S_IFDIR && inode.mount.id !== parent.mount.id) attr.flags |= ATTR.SUBMOUNT;
    return { nodeid: inode.nodeid, generation: inode.generation, attr, entryTimeout: this.t.entry, attrTimeout: this.t.attr };
  }

  /**
   * Take a reference on the inode behind an fd we just created or opened (on
   * the parent's mount, or checked by openExisting: not our own), through an
   * O_PATH fd of it.
   */
  private adopt(fd: number): Entry {
    return this.entryOf(this.hold(this.spare.open(() => this.openPath(AT_FDCWD, `/proc/self/fd/${fd}`, 0))));
  }

  /** Reopen an inode for I/O through its O_PATH fd; only files and directories qualify. */
  private reopen(inode: Inode, flags: number): number {
    if (inode.type !== S_IFREG && inode.type !== S_IFDIR) fail(E.EBADF!, 'open');
    return openat(AT_FDCWD, `/proc/self/fd/${this.fdOf(inode)}`, (flags & ~(O_NOFOLLOW | O_CREAT | O_EXCL | O_NOCTTY)) | O_CLOEXEC);
  }

  /** Open flags as the host should see them. */
  private hostFlags(flags: number): number {
    if (this.writeback) {
      // The kernel may read to fill its cache, and it positions appends itself.
      if ((flags & O_ACCMODE) === O_WRONLY) flags = (flags & ~O_ACCMODE) | O_RDWR;
      flags &= ~O_APPEND;
    }
    if (!this.opts.allowDirectIo) flags &= ~O_DIRECT;
    return flags;
  }

  /**
   * The handle of a file or directory just opened as `fd`. For files,
   * `hostFlags` is how `fd` was opened and `opener` who asked (see creds.ts).
   */
  private openReply(fd: number, node: bigint, kind: 'file' | 'dir', ctx: Context, hostFlags = 0): OpenReply {
    let openFlags = openFlagsFor(this.opts.cache, kind);
    if (kind === 'dir') return { fh: this.handles.add({ node, fd, uid: ctx.uid, dirPos: 0n }), openFlags };
    const direct = (hostFlags & O_DIRECT) !== 0;
    // Under writeback only an append-only file has an O_APPEND host fd (see
    // appendOnly): its appends must reach us as they are made, uncached: the
    // kernel would otherwise send them back as positioned page writes, which
    // the host refuses for such a file (and an O_APPEND fd would place at the
    // end again, duplicating a page's head).
    if (direct || (this.writeback && (hostFlags & O_APPEND) !== 0)) openFlags |= FOPEN.DIRECT_IO;
    const handle: Handle = { node, fd, uid: ctx.uid, hostFlags, direct, opener: this.creds.keep(ctx) };
    const backingId = this.backing ? this.backingFor(node, handle) : undefined;
    if (backingId !== undefined) {
      handle.backingId = backingId;
      openFlags = (openFlags & ~(FOPEN.DIRECT_IO | FOPEN.KEEP_CACHE)) | FOPEN.PASSTHROUGH;
    }
    const fh = this.handles.add(handle);
    return backingId === undefined ? { fh, openFlags } : { fh, openFlags, backingId };
  }

  /**
   * Whether this request's host I/O is O_DIRECT, and if so the buffer
   * alignment it needs; sets the host fd's O_DIRECT to match first. It is
   * direct when the client's file has O_DIRECT now (`clientFlags`, sent with
   * every read and write) and the option honours it, unless the data comes
   * from the page cache (`cached`: writeback may use any open of the file,
   * and sends a file's tail at its size, not block-aligned). Misaligned
   * offsets and sizes stay the client's and fail as natively (EINVAL).
   */
  private directIo(h: Handle, clientFlags: number, cached: boolean): number | undefined {
    const want = (clientFlags & O_DIRECT) !== 0 && this.opts.allowDirectIo && !cached;
    if (want !== (h.direct === true)) {
      fcntl(h.fd, F_SETFL, (fcntl(h.fd, F_GETFL) & ~O_DIRECT) | (want ? O_DIRECT : 0));
      h.direct = want;
    }
    if (!want) return undefined;
    return (h.directAlign ??= this.dioAlign(h.fd));
  }

  /**
   * The buffer alignment O_DIRECT I/O on `fd` needs: a page at least (what the
   * bounce buffer always gives), and the file's dio_mem_align and
   * dio_offset_align (the logical block size) where statx reports them.
   */
  private dioAlign(fd: number): number {
    let a = pageSize;
    const r = statxInto(fd, '', AT_EMPTY_PATH, STATX_DIOALIGN, this.sx);
    if (r >= 0 && (this.sx.readUInt32LE(StatxOff.mask) & STATX_DIOALIGN) !== 0) {
      a = Math.max(a, this.sx.readUInt32LE(StatxOff.dioMemAlign), this.sx.readUInt32LE(StatxOff.dioOffsetAlign));
    }
    return 2 ** Math.ceil(Math.log2(a));
  }

  /**
   * Whether opening with `hostFlags` failed only because the file is
   * append-only: under writeback the host open lacks the caller's O_APPEND
   * (the kernel positions appends itself), which such a file refuses with
   * EPERM. It is then opened with O_APPEND, and openReply makes its handle
   * uncached.
   */
  private appendOnly(e: unknown, flags: number, hostFlags: number): boolean {
    return e instanceof SysError && e.errno === E.EPERM && (flags & O_APPEND) !== 0 && (hostFlags & O_APPEND) === 0;
  }

  /** Whether the host file is append-only (chattr +a: STATX_ATTR_APPEND). */
  private isAppendOnly(fd: number): boolean {
    this.stat(fd);
    return (this.sx.readUInt32LE(StatxOff.attributes) & STATX_ATTR_APPEND) !== 0;
  }

  /** Run `fn` as the opener of `h` (space-allocating calls: the host's reserve and quota checks must see the user). */
  private asOpener<T>(h: Handle, fn: () => T): T {
    return h.opener ? this.creds.run(h.opener, fn) : fn();
  }

  /**
   * Kernel passthrough: the backing file of `node`, registered by its first
   * open and shared by every open of it until the last is released — the
   * kernel takes one backing file per inode and fails (EIO) an open that
   * brings another. It opens a backing file of its own per client open, with
   * that open's flags, so sharing loses nothing but the identity: the kernel
   * does the I/O with the credentials of the registering call, which is made
   * as the first opener (as write is, see creds.ts). Undefined when the
   * kernel refuses the file: the daemon then serves its data as usual.
   */
  private backingFor(node: bigint, handle: Handle): number | undefined {
    const shared = this.backingIds.get(node);
    if (shared) {
      shared.refs++;
      return shared.id;
    }
    const backing = this.backing!;
    try {
      const id = this.asOpener(handle, () => backing.open(handle.fd));
      this.backingIds.set(node, { id, refs: 1 });
      return id;
    } catch {
      return undefined;
    }
  }

  /** Backing ids by node, with the number of open handles using each (see backingFor). */
  private readonly backingIds = new Map<bigint, { id: number; refs: number }>();

  private closeHandle(fh: bigint, node: bigint): void {
    const h = this.handles.take(fh, node);
    const shared = h.backingId !== undefined ? this.backingIds.get(node) : undefined;
    if (shared && --shared.refs === 0) {
      this.backingIds.delete(node);
      try {
        this.backing?.close(shared.id);
      } catch {
        // The connection is going away; the kernel drops its ids with it.
      }
    }
    close(h.fd);
  }

  private negative(e: unknown): Entry {
    if (e instanceof SysError && e.errno === E.ENOENT && this.t.negative > 0) {
      return {
        nodeid: 0n, generation: 0n, entryTimeout: this.t.negative, attrTimeout: 0,
        attr: { ino: 0n, size: 0, blocks: 0, atime: 0, atimeNsec: 0, mtime: 0, mtimeNsec: 0, ctime: 0, ctimeNsec: 0, mode: 0, nlink: 0, uid: 0, gid: 0, rdev: 0, blksize: 0, flags: 0 },
      };
    }
    throw e;
  }

  private readOnly(): void {
    if (this.opts.readOnly) fail(E.EROFS!, 'read-only');
  }

  // ---- names -----------------------------------------------------------------

  lookup(_ctx: Context, parent: bigint, name: Buffer): Entry {
    const p = this.node(parent);
    if (parent === 1n && name.length === 2 && name[0] === 0x2e && name[1] === 0x2e) {
      this.stat(this.fdOf(p));
      p.refs++;
      return this.entryOf(p);
    }
    checkName(name);
    try {
      return this.lookupIn(p, name);
    } catch (e) {
      return this.negative(e);
    }
  }

  forget(node: bigint, nlookup: bigint): void {
    this.inodes.forget(node, Number(nlookup));
  }

  batchForget(items: ReadonlyArray<{ node: bigint; nlookup: bigint }>): void {
    for (const it of items) this.inodes.forget(it.node, Number(it.nlookup));
  }

  getattr(_ctx: Context, node: bigint): AttrReply {
    return this.attrReply(this.fdOf(this.node(node)));
  }

  setattr(_ctx: Context, node: bigint, set: SetAttrIn): AttrReply {
    this.readOnly();
    const inode = this.node(node);
    const h = set.fh !== undefined ? this.handles.get(set.fh, node) : undefined;
    if (set.mode !== undefined) {
      if (h) fchmod(h.fd, set.mode & 0o7777);
      else fchmodat(this.fdOf(inode), '', set.mode & 0o7777, AT_EMPTY_PATH);
    }
    if (set.uid !== undefined || set.gid !== undefined) {
      fchownat(this.fdOf(inode), '', set.uid ?? -1, set.gid ?? -1, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW);
    }
    if (set.size !== undefined) {
      if (h) {
        const size = set.size;
        this.asOpener(h, () => ftruncate(h.fd, size));
      } else {
        const fd = this.reopen(inode, O_WRONLY);
        try {
          ftruncate(fd, set.size);
        } finally {
          close(fd);
        }
      }
    }
    if (set.atime !== undefined || set.mtime !== undefined) {
      const t: Timespecs = { atime: 0, atimeNsec: UTIME_OMIT, mtime: 0, mtimeNsec: UTIME_OMIT };
      if (set.atime === 'now') t.atimeNsec = UTIME_NOW;
      else if (set.atime) { t.atime = set.atime.sec; t.atimeNsec = set.atime.nsec; }
      if (set.mtime === 'now') t.mtimeNsec = UTIME_NOW;
      else if (set.mtime) { t.mtime = set.mtime.sec; t.mtimeNsec = set.mtime.nsec; }
      const setTimes = (times: Timespecs | null) => {
        if (h) futimens(h.fd, times);
        else utimensat(this.fdOf(inode), '', times, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW);
      };
      try {
        setTimes(t);
      } catch (e) {
        // Under writeback the kernel keeps mtime/ctime and sends them as
        // explicit times (after a write or fallocate, and for `touch`),
        // which the host refuses on an append-only file. It allows only a
        // plain touch (both times now), which is what those updates mean.
        if (!this.writeback || !(e instanceof SysError) || e.errno !== E.EPERM || !this.isAppendOnly(this.fdOf(inode))) throw e;
        setTimes(null);
      }
    }
    return this.attrReply(this.fdOf(inode));
  }

  readlink(_ctx: Context, node: bigint): Buffer {
    const inode = this.node(node);
    if (inode.type !== S_IFLNK) fail(E.EINVAL!, 'readlink');
    return readlinkat(this.fdOf(inode), '');
  }

  mknod(ctx: Context, parent: bigint, name: Buffer, mode: number, rdev: number): Entry {
    this.readOnly();
    const p = this.node(parent);
    checkName(name);
    this.callerUmask(ctx);
    this.spare.hold();
    const pfd = this.fdOf(p);
    this.creds.run(ctx, () => mknodat(pfd, name, mode, hostDev(rdev)));
    return this.lookupCreated(ctx, p, name, (mode & S_IFMT) || S_IFREG);
  }

  mkdir(ctx: Context, parent: bigint, name: Buffer, mode: number): Entry {
    this.readOnly();
    const p = this.node(parent);
    checkName(name);
    this.callerUmask(ctx);
    this.spare.hold();
    const pfd = this.fdOf(p);
    this.creds.run(ctx, () => mkdirat(pfd, name, mode));
    return this.lookupCreated(ctx, p, name, S_IFDIR);
  }

  symlink(ctx: Context, parent: bigint, name: Buffer, target: Buffer): Entry {
    this.readOnly();
    const p = this.node(parent);
    checkName(name);
    if (target.indexOf(0) >= 0) fail(E.EINVAL!, 'symlink');
    this.spare.hold();
    const pfd = this.fdOf(p);
    this.creds.run(ctx, () => symlinkat(target, pfd, name));
    return this.lookupCreated(ctx, p, name, S_IFLNK);
  }

  unlink(_ctx: Context, parent: bigint, name: Buffer): void {
    this.readOnly();
    const p = this.node(parent);
    checkName(name);
    unlinkat(this.fdOf(p), name, 0);
  }

  rmdir(_ctx: Context, parent: bigint, name: Buffer): void {
    this.readOnly();
    const p = this.node(parent);
    checkName(name);
    unlinkat(this.fdOf(p), name, AT_REMOVEDIR);
  }

  rename(_ctx: Context, parent: bigint, name: Buffer, newParent: bigint, newName: Buffer, flags: number): void {
    this.readOnly();
    const p = this.node(parent);
    const np = this.node(newParent);
    checkName(name);
    checkName(newName);
    const pfd = this.fdOf(p);
    renameat2(pfd, name, this.fdOf(np), newName, flags);
  }

  link(_ctx: Context, node: bigint, newParent: bigint, newName: Buffer): Entry {
    this.readOnly();
    const inode = this.node(node);
    const np = this.node(newParent);
    checkName(newName);
    if (inode.type === S_IFDIR) fail(E.EPERM!, 'link');
    const fd = this.fdOf(inode);
    linkat(AT_FDCWD, `/proc/self/fd/${fd}`, this.fdOf(np), newName, AT_SYMLINK_FOLLOW);
    try {
      this.stat(fd);
    } catch (e) {
      this.unlinkIfSame(np, newName, fd);
      throw e;
    }
    inode.refs++;
    return this.entryOf(inode);
  }

  // ---- files -----------------------------------------------------------------

  open(ctx: Context, node: bigint, flags: number): OpenReply {
    const inode = this.node(node);
    if (this.opts.readOnly && ((flags & O_ACCMODE) !== O_RDONLY || (flags & O_TRUNC))) fail(E.EROFS!, 'open');
    let hf = this.hostFlags(flags);
    this.budget.forOpen(ctx.uid);
    let fd: number;
    try {
      fd = this.reopen(inode, hf);
    } catch (e) {
      if (!this.appendOnly(e, flags, hf)) throw e;
      hf |= O_APPEND;
      fd = this.reopen(inode, hf);
    }
    return this.openReply(fd, node, 'file', ctx, hf);
  }

  create(ctx: Context, parent: bigint, name: Buffer, mode: number, flags: number): CreateReply {
    this.readOnly();
    const p = this.node(parent);
    checkName(name);
    let hf = this.hostFlags(flags) | O_CREAT | O_NOFOLLOW | O_CLOEXEC;
    this.callerUmask(ctx);
    this.spare.hold();
    this.budget.forOpen(ctx.uid);
    const pfd = this.fdOf(p);
    const openIt = () => this.creds.run(ctx, () => this.openForCreate(pfd, name, hf, mode & 0o7777));
    let opened: { fd: number; made: boolean };
    try {
      opened = openIt();
    } catch (e) {
      // The name existed after all (created on the host meanwhile), as an append-only file.
      if (!this.appendOnly(e, flags, hf)) throw e;
      hf |= O_APPEND;
      opened = openIt();
    }
    const { fd, made } = opened;
    return this.created(fd, hf, ctx, made ? () => this.unlinkIfSame(p, name, fd) : undefined);
  }

  /**
   * open(2) with O_CREAT, telling whether this call made the file (only then
   * may a later failure remove it): O_EXCL first, and if the name exists,
   * open it as it is.
   */
  private openForCreate(pfd: number, name: Buffer, hf: number, mode: number): { fd: number; made: boolean } {
    for (let tries = 1; ; tries++) {
      try {
        return { fd: openat2(pfd, name, hf | O_EXCL, mode, CREATE_RESOLVE), made: true };
      } catch (e) {
        // EXDEV: the name exists and is a mount point.
        if (!isErrno(e, E.EEXIST) && !isErrno(e, E.EXDEV)) throw e;
        if ((hf & O_EXCL) !== 0) fail(E.EEXIST!, 'create');
      }
      try {
        return { fd: this.openExisting(pfd, name, hf & ~O_CREAT), made: false };
      } catch (e) {
        // Removed again in between: create it after all (a few times at most).
        if (!isErrno(e, E.ENOENT) || tries === 3) throw e;
      }
    }
  }

  /**
   * Open the existing `name` for create() as open(2) would, after a look
   * through an O_PATH fd, which sends no request and blocks on nothing: not
   * into our own mount (a mount point there may be one), and, as everywhere,
   * only a regular file is reopened for I/O (a FIFO swapped in would block us).
   */
  private openExisting(pfd: number, name: Buffer, flags: number): number {
    const path = openat2(pfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC, 0, LOOKUP_RESOLVE);
    try {
      const r = statxInto(path, '', AT_EMPTY_PATH | NO_WAIT, STATX_MASK, this.sx);
      if (r < 0) fail(-r, 'create');
      if (this.devices.isOwn(this.sx)) fail(E.ELOOP!, 'create: the name leads into our own mount');
      const type = typeFromStatx(this.sx);
      // As open(2) with O_CREAT|O_NOFOLLOW: EISDIR, ELOOP; other types as reopen().
      if (type !== S_IFREG) fail(type === S_IFDIR ? E.EISDIR! : type === S_IFLNK ? E.ELOOP! : E.EBADF!, 'create');
      return openat(AT_FDCWD, `/proc/self/fd/${path}`, flags & ~O_NOFOLLOW);
    } finally {
      close(path);
    }
  }

  /**
   * The entry and open handle of a file just created or opened through `fd`,
   * opened with `hostFlags`. On failure, `undo` runs while `fd` is still open
   * (create removes what it made).
   */
  private created(fd: number, hostFlags: number, ctx: Context, undo?: () => void): CreateReply {
    let entry: Entry | undefined;
    try {
      entry = this.adopt(fd);
      return { entry, open: this.openReply(fd, entry.nodeid, 'file', ctx, hostFlags) };
    } catch (e) {
      if (entry) this.inodes.forget(entry.nodeid, 1);
      undo?.();
      close(fd);
      throw e;
    }
  }

  tmpfile(ctx: Context, parent: bigint, mode: number, flags: number): CreateReply {
    this.readOnly();
    const p = this.node(parent);
    const hf = (this.hostFlags(flags) & ~O_CREAT) | O_TMPFILE | O_CLOEXEC;
    this.callerUmask(ctx);
    const pfd = this.fdOf(p);
    this.budget.forOpen(ctx.uid);
    const fd = this.creds.run(ctx, () => openat(AT_FDCWD, `/proc/self/fd/${pfd}`, hf, mode & 0o7777));
    return this.created(fd, hf, ctx);
  }

  /**
   * A plain read is a range of the host file: the transport reads it where
   * the reply goes (guest memory, for virtio-fs) or the protocol into its
   * reply buffer. O_DIRECT needs an aligned buffer, so it is read here.
   */
  read(_ctx: Context, node: bigint, fh: bigint, offset: number, size: number, buf: Buffer, clientFlags = 0): number | FileRange {
    const h = this.handles.get(fh, node);
    const align = h.direct || (clientFlags & O_DIRECT) !== 0 ? this.directIo(h, clientFlags, false) : undefined;
    if (align === undefined) return { fd: h.fd, offset, length: size };
    const dst = size === buf.length ? buf : buf.subarray(0, size);
    const b = this.aligned.get(size, align);
    const n = pread(h.fd, b, offset);
    b.copy(dst, 0, 0, n);
    return n;
  }

  /**
   * Writes run as the handle's opener. A write from the page cache
   * (WRITE_CACHE: writeback, or a shared mapping) is positioned even when the
   * file was opened O_APPEND, so on an O_APPEND host fd it must not be
   * appended: RWF_NOAPPEND honours the offset, and an append-only file, which
   * refuses that, gets it through another open of the file that can position.
   */
  write(_ctx: Context, node: bigint, fh: bigint, offset: number, data: Buffer, writeFlags = 0, clientFlags = 0): number {
    const h = this.handles.get(fh, node);
    const cached = (writeFlags & WRITE.CACHE) !== 0;
    const positioned = cached && ((h.hostFlags ?? 0) & O_APPEND) !== 0;
    let via = h;
    let n: number;
    try {
      n = this.asOpener(h, () => this.hostWrite(h, data, offset, clientFlags, cached, positioned));
    } catch (e) {
      if (!positioned || !(e instanceof SysError) || e.errno !== E.EPERM) throw e;
      const other = this.handles.find(node, h, (o) => o.hostFlags !== undefined && (o.hostFlags & O_APPEND) === 0 && (o.hostFlags & O_ACCMODE) !== O_RDONLY);
      if (!other) throw e;
      via = other;
      n = this.asOpener(other, () => this.hostWrite(other, data, offset, clientFlags, cached, false));
    }
    // The kernel takes a short write from its page cache (writeback, shared
    // mappings) as done: the rest of those pages would be dropped without an
    // error. So such a write is finished here, or fails with the host's errno
    // (ENOSPC, EDQUOT, EFBIG), which the client then sees at fsync or close.
    while (cached && n > 0 && n < data.length) {
      const more = this.asOpener(via, () => this.hostWrite(via, data.subarray(n), offset + n, clientFlags, cached, via === h && positioned));
      if (more === 0) fail(E.EIO!, 'write: the host took no more');
      n += more;
    }
    return n;
  }

  private hostWrite(h: Handle, data: Buffer, offset: number, clientFlags: number, cached: boolean, positioned: boolean): number {
    let src = data;
    const align = h.direct || (clientFlags & O_DIRECT) !== 0 ? this.directIo(h, clientFlags, cached) : undefined;
    if (align !== undefined) {
      src = this.aligned.get(data.length, align);
      data.copy(src);
    }
    if (positioned && this.noAppend) {
      try {
        return pwrite2(h.fd, src, offset, RWF_NOAPPEND);
      } catch (e) {
        // Before Linux 6.9 there is no way to position on an O_APPEND fd.
        if (!(e instanceof SysError) || e.errno !== E.EOPNOTSUPP) throw e;
        this.noAppend = false;
      }
    }
    return pwrite(h.fd, src, offset);
  }

  /** Whether the host knows RWF_NOAPPEND. */
  private noAppend = true;

  release(_ctx: Context, node: bigint, fh: bigint): void {
    this.closeHandle(fh, node);
  }

  /** On the thread pool: a flush to disk must not hold up other requests. */
  fsync(_ctx: Context, node: bigint, fh: bigint, datasync: boolean): Promise<void> {
    return fsyncAsync(this.handles.get(fh, node).fd, datasync);
  }

  fallocate(_ctx: Context, node: bigint, fh: bigint, offset: number, length: number, mode: number): void {
    this.readOnly();
    const h = this.handles.get(fh, node);
    this.asOpener(h, () => fallocate(h.fd, mode, offset, length));
  }

  lseek(_ctx: Context, node: bigint, fh: bigint, offset: number, whence: number): number {
    return lseek(this.handles.get(fh, node).fd, offset, whence);
  }

  copyFileRange(_ctx: Context, nodeIn: bigint, fhIn: bigint, offIn: number, nodeOut: bigint, fhOut: bigint, offOut: number, len: number, flags: number): number {
    this.readOnly();
    const a = this.handles.get(fhIn, nodeIn);
    const b = this.handles.get(fhOut, nodeOut);
    return this.asOpener(b, () => copyFileRange(a.fd, offIn, b.fd, offOut, len, flags));
  }

  // ---- locks -----------------------------------------------------------------

  /**
   * flock(2) locks go to the host file, so they conflict with host processes
   * too; each client open file is one host open file, which is exactly
   * flock's unit of ownership. POSIX record locks stay with the kernel (the
   * session does not ask for them), see the README.
   */
  setlk(ctx: Context, node: bigint, fh: bigint, _owner: bigint, lock: FileLock, sleep: boolean, isFlock: boolean): void | Promise<void> {
    if (!isFlock) fail(E.ENOSYS!, 'setlk');
    const fd = this.handles.get(fh, node).fd;
    if (lock.type === F_UNLCK) return flock(fd, LOCK_UN);
    const op = lock.type === F_RDLCK ? LOCK_SH : LOCK_EX;
    try {
      return flock(fd, op | LOCK_NB);
    } catch (e) {
      if (!sleep || !(e instanceof SysError) || e.errno !== E.EWOULDBLOCK) throw e;
    }
    return this.waitFlock(fd, op, ctx.signal);
  }

  /**
   * A waiting flock, polled rather than blocked in a pool thread: a blocked
   * flock(2) cannot be called off, and could take the lock after the client
   * was interrupted and went away.
   */
  private async waitFlock(fd: number, op: number, signal: AbortSignal | undefined): Promise<void> {
    for (let delay = 1; ; delay = Math.min(delay * 2, 50)) {
      await new Promise((r) => setTimeout(r, delay));
      if (signal?.aborted) fail(E.EINTR!, 'flock');
      try {
        return flock(fd, op | LOCK_NB);
      } catch (e) {
        if (!(e instanceof SysError) || e.errno !== E.EWOULDBLOCK) throw e;
      }
    }
  }

  // ---- directories -----------------------------------------------------------

  opendir(ctx: Context, node: bigint, flags: number): OpenReply {
    const inode = this.node(node);
    if (inode.type !== S_IFDIR) fail(E.ENOTDIR!, 'opendir');
    this.budget.forOpen(ctx.uid);
    const fd = this.reopen(inode, (flags & ~O_ACCMODE) | O_RDONLY | O_DIRECTORY);
    return this.openReply(fd, node, 'dir', ctx);
  }

  /**
   * Directory offsets are the host's d_off cookies, so they stay valid across
   * calls and concurrent changes behave as on the host. The fd is repositioned
   * only when the kernel asks for another offset than where we stopped.
   */
  private fillDir(node: bigint, fh: bigint, offset: bigint, add: (c: DirentCursor, next: bigint) => boolean): void {
    const h = this.handles.get(fh, node);
    if (h.dirPos !== offset) {
      lseekBig(h.fd, offset, SEEK_SET);
      h.dirPos = offset;
    }
    const c = this.cursor;
    for (;;) {
      const n = getdents64(h.fd, this.dirBuf);
      if (n === 0) return;
      c.reset(this.dirBuf, n);
      while (c.next()) {
        const next = c.off;
        if (!add(c, next)) {
          // Resume at this entry next time.
          lseekBig(h.fd, h.dirPos!, SEEK_SET);
          return;
        }
        h.dirPos = next;
      }
    }
  }

  /**
   * A d_ino is a number on the directory's own device (a mount point's is
   * the covered directory's, as natively), so it is mapped as an inode of
   * that device: the directory inode's.
   */
  private direntIno(dir: Inode): (ino: bigint) => bigint {
    return (ino) => this.inos.map(dir.devMajor, dir.devMinor, ino);
  }

  readdir(_ctx: Context, node: bigint, fh: bigint, offset: bigint, out: DirSink): void {
    const ino = this.direntIno(this.node(node));
    this.fillDir(node, fh, offset, (c, next) => out.add(c.name, ino(c.ino), c.type, next));
  }

  readdirplus(_ctx: Context, node: bigint, fh: bigint, offset: bigint, out: DirPlusSink): void {
    const dir = this.node(node);
    const ino = this.direntIno(dir);
    this.fillDir(node, fh, offset, (c, next) => {
      const name = c.name;
      if (!out.fits(name)) return false;
      if (c.isDots) return out.addPlus(name, this.dotEntry(c, ino(c.ino)), next);
      let e: Entry;
      try {
        // Entries on the parent's filesystem share its dev and mount id, so
        // d_ino tells whether we hold the inode already.
        e = this.lookupIn(dir, name, !this.inodes.child(dir, c.inoLo, c.inoHi));
      } catch {
        // Gone since getdents: list the name without attributes.
        return out.addPlus(name, this.dotEntry(c, ino(c.ino)), next);
      }
      if (!out.addPlus(name, e, next)) {
        this.inodes.forget(e.nodeid, 1);
        return false;
      }
      return true;
    });
  }

  /** A readdirplus entry the kernel must not count as a lookup (nodeid 0); `ino` is the client's d_ino. */
  private dotEntry(c: DirentCursor, ino: bigint): Entry {
    return {
      nodeid: 0n, generation: 0n, entryTimeout: 0, attrTimeout: 0,
      attr: { ino, size: 0, blocks: 0, atime: 0, atimeNsec: 0, mtime: 0, mtimeNsec: 0, ctime: 0, ctimeNsec: 0, mode: c.type << 12, nlink: 0, uid: 0, gid: 0, rdev: 0, blksize: 0, flags: 0 },
    };
  }

  releasedir(_ctx: Context, node: bigint, fh: bigint): void {
    this.closeHandle(fh, node);
  }

  fsyncdir(_ctx: Context, node: bigint, fh: bigint, datasync: boolean): Promise<void> {
    return this.fsync(_ctx, node, fh, datasync);
  }

  // ---- the rest --------------------------------------------------------------

  statfs(_ctx: Context, node: bigint): StatFs {
    const s = fstatfs(this.fdOf(this.node(node)));
    return {
      blocks: s.blocks, bfree: s.bfree, bavail: s.bavail, files: s.files, ffree: s.ffree,
      bsize: s.bsize, namelen: s.namelen, frsize: s.frsize,
    };
  }

  access(ctx: Context, node: bigint, mask: number): void {
    const fd = this.fdOf(this.node(node));
    this.creds.run(ctx, () => faccessat(fd, '', mask, AT_EMPTY_PATH | AT_EACCESS));
  }

  /**
   * Without --xattr, the xattr operations answer ENOSYS, which the kernel
   * remembers: it then stops asking for security.capability before every
   * write(2), a round trip each. With allow_other the kernel needs the POSIX
   * ACLs for its permission checks, so those alone are served and other names
   * answer EOPNOTSUPP (ENOSYS would stop the ACL requests too).
   */
  private xattrName(name: Buffer): void {
    if (this.opts.xattr) return;
    if (!this.opts.allowOther) fail(E.ENOSYS!, 'xattr');
    if (!isAclName(name)) fail(E.EOPNOTSUPP!, 'xattr');
  }

  getxattr(_ctx: Context, node: bigint, name: Buffer): Buffer {
    this.xattrName(name);
    const fd = this.fdOf(this.node(node));
    return xattrBuffer((b) => getxattrFd(fd, true, name, b));
  }

  /**
   * The host lists trusted.* names to us (while we hold CAP_SYS_ADMIN), and
   * natively only a caller with CAP_SYS_ADMIN sees them, so they are filtered
   * by the caller's privilege (callercaps.ts); the kernel already hides their
   * values. A size query gets the size of the filtered list.
   */
  listxattr(ctx: Context, node: bigint): Buffer {
    if (!this.opts.xattr && !this.opts.allowOther) fail(E.ENOSYS!, 'xattr');
    const fd = this.fdOf(this.node(node));
    const list = xattrBuffer((b) => listxattrFd(fd, true, b));
    if (!this.opts.xattr) return joinXattrNames(splitXattrList(list).filter(isAclName));
    if (list.indexOf(TRUSTED) < 0 || callerHasCapability(ctx, CAP.SYS_ADMIN)) return list;
    return joinXattrNames(splitXattrList(list).filter((n) => !n.subarray(0, TRUSTED.length).equals(TRUSTED)));
  }

  setxattr(_ctx: Context, node: bigint, name: Buffer, value: Buffer, flags: number, setxattrFlags: number): void {
    this.xattrName(name);
    this.readOnly();
    const fd = this.fdOf(this.node(node));
    setxattrFd(fd, true, name, value, flags);
    // Setting an ACL by someone outside the file's group drops setgid, as chmod would.
    if ((setxattrFlags & SETXATTR_ACL_KILL_SGID) !== 0 && isAclName(name)) {
      this.stat(fd);
      const mode = this.sx.readUInt16LE(StatxOff.mode);
      if (mode & 0o2000) fchmodat(fd, '', mode & 0o7777 & ~0o2000, AT_EMPTY_PATH);
    }
  }

  removexattr(_ctx: Context, node: bigint, name: Buffer): void {
    this.xattrName(name);
    this.readOnly();
    removexattrFd(this.fdOf(this.node(node)), true, name);
  }

  async syncfs(_ctx: Context, node: bigint): Promise<void> {
    const fd = this.reopen(this.node(node), O_RDONLY);
    try {
      await syncfsAsync(fd);
    } finally {
      close(fd);
    }
  }

  /** Only with the `statx` option (see options.ts); otherwise the kernel falls back to GETATTR. */
  readonly statx?: (ctx: Context, node: bigint, fh: bigint | undefined, flags: number, mask: number) => StatxReply;

  private statxOf(node: bigint, flags: number, mask: number): StatxReply {
    const fd = this.fdOf(this.node(node));
    const sync = flags & 0x6000; // AT_STATX_SYNC_TYPE
    const r = statxInto(fd, '', AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW | sync, (mask | STATX_BASIC_STATS) & ~STATX_MNT_ID, this.sx);
    if (r < 0) fail(-r, 'statx');
    const attr = statxAttrFromStatx(this.sx);
    attr.ino = this.clientIno(this.sx, attr.ino);
    return { attr, timeout: this.t.attr };
  }

  ioctl(): never {
    fail(E.ENOTTY!, 'ioctl');
  }
}

