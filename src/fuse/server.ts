/**
 * The FUSE protocol core, knowing no transport: it takes one request (its
 * bytes) and the ReplySink its transport made for it (sink.ts), decodes it,
 * calls the FileSystem, encodes the reply and hands it to that sink. INIT
 * negotiation, INTERRUPT and the requests in flight live here; reading
 * requests and writing replies live in the transports (transport/fusedev/
 * for /dev/fuse, transport/vhost-user/ for virtio-fs).
 *
 * Threading: everything runs on the calling thread. A request whose method
 * returns synchronously is answered before handle() returns, into the reply
 * buffer this class reuses. A method that returns a Promise keeps the
 * request buffer (handle() returns true: the transport takes a fresh one)
 * and its sink; the reply goes to that sink when the promise settles.
 *
 * DESTROY ends a session but not the protocol: the filesystem is destroyed
 * and a new INIT is accepted (a guest unmounts and mounts again while the
 * daemon runs).
 */
import { errno as E } from '../sys/errno.js';
import { toErrno, errnoName } from '../sys/errno.js';
import type { ConnectionInfo, DeviceNumber, FileSystem, SessionServices } from '../fs/filesystem.js';
import type {
  AttrReply, CreateReply, Entry, FileLock, FileRange, IoctlReply, OpenReply, StatFs, StatxReply,
} from '../fs/types.js';
import { pread } from '../sys/file.js';
import {
  FUSE_KERNEL_MINOR_VERSION, FUSE_KERNEL_VERSION, IN_HEADER_SIZE, InitFlag, Opcode,
  OUT_HEADER_SIZE, opcodeName,
} from './abi.js';
import {
  decodeRequest, writeAttrOut, writeBmapOut, writeCopyFileRangeOut64, writeCreateOut, writeEntryOut,
  writeGetxattrOut, writeInitOut, writeIoctlOut, writeLkOut, writeLseekOut, writeOpenOut, writeOutHeader,
  writeStatfsOut, writeStatxOut, writeWriteOut, type InitOut,
} from './codec.js';
import { DirBuffer } from './dirbuf.js';
import { DEFAULT_MAX_WRITE, PAGE_SIZE, requestedFlags, type SessionOptions } from './options.js';
import { ProtocolError, type DecodedRequest, type Request } from './request.js';
import { RequestContext } from './context.js';
import type { ReplySink, RequestHandler } from './sink.js';
import { NO_REPLY_OPCODES } from './opcodes.js';

/** A thrown value as text, whatever it is (no prototype, throwing toString…). */
function describe(e: unknown): string {
  try {
    return e instanceof Error ? e.stack ?? e.message : String(e);
  } catch {
    return Object.prototype.toString.call(e);
  }
}

/** What a transport offers the filesystem beyond carrying requests (all optional). */
export interface TransportServices {
  /** FUSE passthrough backing files (the /dev/fuse device has them). */
  backingOpen?(fd: number): number;
  backingClose?(id: number): void;
  /** st_dev of the mount this transport serves, when it is a FUSE mount on this host. */
  readonly mountDevice?: DeviceNumber;
}

type Log = NonNullable<SessionOptions['log']>;

/**
 * With `onlyUids` (allow_root), requests that continue what an allowed caller
 * started are served whoever sends them: the kernel may send them on behalf
 * of another process (writeback, a file descriptor passed on, a release).
 */
const CONTINUING_OPS: ReadonlySet<string> = new Set([
  'init', 'destroy', 'read', 'write', 'fsync', 'release', 'readdir', 'readdirplus', 'fsyncdir', 'releasedir',
  'getlk', 'setlk', 'bmap', 'ioctl', 'poll', 'lseek', 'copyFileRange', 'fallocate', 'flush',
]);

function isFileRange(v: unknown): v is FileRange {
  return typeof v === 'object' && v !== null && !(v instanceof Uint8Array) && typeof (v as FileRange).fd === 'number';
}

/** Where replies go outside a request (never used: every send happens within one). */
const NO_SINK: ReplySink = {
  reply: () => -E.EIO!,
  none: () => undefined,
};

const defaultLog: Log = (level, msg) => {
  if (level !== 'debug') process.stderr.write(`passthroughfs: ${level}: ${msg}\n`);
};

/** Kernel page count cap (fs.fuse.max_pages_limit default). */
const MAX_PAGES_LIMIT = 256;

interface Pending {
  ctx: RequestContext;
  /** Where its reply goes. */
  sink: ReplySink;
  /** The reply buffer it fills, for read and readdir. */
  outBuf: Buffer | undefined;
}

export class Server implements RequestHandler {
  private readonly fs: FileSystem;
  /** The session's log (transports log through it too). */
  readonly log: Log;
  private readonly debug: boolean;
  private readonly requested: bigint;
  readonly bufSize: number;

  /** Negotiated protocol state; `minor` 0 until INIT. */
  minor = 0;
  conn: ConnectionInfo | undefined;
  private setxattrExt = false;

  /** Reply buffer for synchronous replies; read/readdir results are built in place here. */
  private out: Buffer;
  private readonly spareOut: Buffer[] = [];
  private dirbuf = new DirBuffer();
  private readonly pending = new Map<bigint, Pending>();
  /** Woken whenever an async request is answered. */
  private waiters: (() => void)[] = [];
  /** The sink of the request being handled (or of the async one being answered). */
  private sink: ReplySink = NO_SINK;
  /** The request being handled went async and keeps its buffer. */
  private kept = false;
  /** The request being handled has been answered (or said to have no answer). */
  private answered = false;
  /** The filesystem was initialised and not destroyed since. */
  private live = false;
  /** A DESTROY's filesystem teardown in progress (a new INIT waits for it). */
  private destroying: Promise<void> | undefined;
  /**
   * The connection cannot go on (a kernel too old to speak to): the transport
   * should stop reading.
   */
  stopRequested = false;
  /** Requests answered, for statistics. */
  served = 0;

  constructor(fs: FileSystem, private readonly transport: TransportServices = {}, private readonly opts: SessionOptions = {}) {
    this.fs = fs;
    this.log = opts.log ?? defaultLog;
    this.debug = opts.debug ?? false;
    const has = (m: string) => typeof (fs as Record<string, unknown>)[m] === 'function';
    this.requested = requestedFlags(opts, has);
    const maxWrite = Math.min(opts.maxWrite ?? DEFAULT_MAX_WRITE, MAX_PAGES_LIMIT * PAGE_SIZE);
    // A request is at most header + write_in + max_write; the kernel insists the read buffer is at least that.
    this.bufSize = Math.max(maxWrite + PAGE_SIZE, 2 * PAGE_SIZE);
    this.out = Buffer.allocUnsafe(Math.max(maxWrite, MAX_PAGES_LIMIT * PAGE_SIZE) + PAGE_SIZE);
  }

  /** Called once INIT has been answered (to start further serving threads). */
  onInit?: (conn: ConnectionInfo) => void;

  /**
   * Take over a connection another Server negotiated (a further thread reading
   * a cloned fd): no INIT will come to this one.
   */
  async adopt(conn: ConnectionInfo): Promise<void> {
    this.minor = conn.minor;
    this.conn = conn;
    this.setxattrExt = (conn.want & InitFlag.SETXATTR_EXT) !== 0n;
    this.live = true;
    await this.fs.init?.(conn, this.services(conn));
  }

  private services(conn: ConnectionInfo): SessionServices {
    const chan = this.transport;
    const mountDevice = chan.mountDevice;
    const log = this.log;
    if ((conn.want & InitFlag.PASSTHROUGH) === 0n || !chan.backingOpen || !chan.backingClose) return { mountDevice, log };
    return { backing: { open: (fd) => chan.backingOpen!(fd), close: (id) => chan.backingClose!(id) }, mountDevice, log };
  }

  /** Requests in progress (async methods not settled yet). */
  get inFlight(): number {
    return this.pending.size;
  }

  /** Wait until no request is in flight. */
  async settle(): Promise<void> {
    await this.settleOf(() => this.pending.size === 0);
  }

  private async settleOf(done: () => boolean): Promise<void> {
    while (!done()) await new Promise<void>((r) => this.waiters.push(r));
  }

  /**
   * The transport is done (connection gone): wait for requests in flight,
   * then destroy the filesystem unless DESTROY did.
   */
  async end(): Promise<void> {
    await this.settle();
    await this.destroying;
    await this.destroyFs();
  }

  private async destroyFs(): Promise<void> {
    if (!this.live) return;
    this.live = false;
    try {
      await this.fs.destroy?.();
    } catch (e) {
      this.log('error', `destroy: ${describe(e)}`);
    }
  }

  /**
   * DESTROY: the session is over; the filesystem is torn down and the
   * protocol is ready for a new INIT. The kernel sends it last, with nothing
   * else in flight.
   */
  private destroy(u: bigint): void {
    this.ok(u);
    this.minor = 0;
    this.conn = undefined;
    this.setxattrExt = false;
    // Only what was in flight before it: an INIT after it waits for this teardown.
    const before = [...this.pending.keys()];
    const done = () => before.every((u) => !this.pending.has(u));
    this.destroying = this.settleOf(done).then(() => this.destroyFs()).finally(() => (this.destroying = undefined));
  }

  /**
   * Decode and answer one request held in buf[0, len), through `sink`
   * (exactly once: a reply, or none()). Never throws. True when the request
   * went async and still refers to `buf` (see RequestHandler).
   */
  handle(buf: Buffer, len: number, sink: ReplySink): boolean {
    this.sink = sink;
    this.kept = false;
    this.answered = false;
    try {
      this.decodeAndDispatch(buf, len);
    } finally {
      // Whatever path was taken (no reply due, a dropped duplicate), the transport learns the request is done.
      if (!this.kept && !this.answered) sink.none();
      this.sink = NO_SINK;
    }
    return this.kept;
  }

  private decodeAndDispatch(buf: Buffer, len: number): void {
    let d: DecodedRequest;
    try {
      d = decodeRequest(buf, len, this.minor, { setxattrExt: this.setxattrExt });
    } catch (e) {
      this.rejectMalformed(buf, len, e);
      return;
    }
    if (this.debug) this.log('debug', `${d.req.op} unique=${d.header.unique} node=${d.header.nodeid}`);
    try {
      this.dispatch(d);
    } catch (e) {
      this.replyError(d.header.unique, e, d.req.op);
    }
  }

  private rejectMalformed(buf: Buffer, len: number, e: unknown): void {
    const errno = e instanceof ProtocolError ? e.errno : E.EIO!;
    if (!(e instanceof ProtocolError)) this.log('error', `decoder failure: ${describe(e)}`);
    if (len < IN_HEADER_SIZE) {
      this.log('warn', `dropping ${len}-byte message shorter than a request header`);
      return;
    }
    const opcode = buf.readUInt32LE(4);
    const unique = buf.readBigUInt64LE(8);
    if (errno !== E.ENOSYS) this.log('warn', `malformed ${opcodeName(opcode)} request (unique ${unique}): ${e instanceof Error ? e.message : describe(e)}`);
    // FORGET, INTERRUPT and the like never get replies; a reply would confuse the kernel.
    if (NO_REPLY_OPCODES.has(opcode)) return;
    this.sendError(unique, errno);
  }

  // ---- replies -------------------------------------------------------------

  private send(len: number, unique: bigint, buf: Buffer = this.out): void {
    writeOutHeader(buf, len, 0, unique);
    this.answered = true;
    const r = this.sink.reply(buf, len);
    this.served++;
    if (r < 0 && r !== -E.ENOENT!) this.log('warn', `writing reply: ${errnoName(-r)}`);
  }

  private sendError(unique: bigint, errno: number): void {
    writeOutHeader(this.out, OUT_HEADER_SIZE, -errno, unique);
    this.answered = true;
    const r = this.sink.reply(this.out, OUT_HEADER_SIZE);
    this.served++;
    if (r < 0 && r !== -E.ENOENT! && r !== -E.ENODEV!) this.log('warn', `writing error reply: ${errnoName(-r)}`);
  }

  private replyError(unique: bigint, e: unknown, op: string): void {
    let errno = E.EIO!;
    let known = false;
    try {
      errno = toErrno(e);
      known = e !== null && typeof e === 'object' && ('errno' in e || 'code' in e);
    } catch {
      // A hostile thrown value (throwing getters, proxies): EIO.
    }
    if (!known) this.log('error', `${op}: ${describe(e)}`);
    if (!(errno > 0 && errno < 4096)) errno = E.EIO!;
    this.sendError(unique, errno);
  }

  private ok(unique: bigint): void {
    this.send(OUT_HEADER_SIZE, unique);
  }

  /**
   * Answer with `encode(value, out)` now or when the promise settles. An async
   * request keeps its request buffer (its names and data are views into it)
   * and, with `lendOut`, the reply buffer it was given to fill; the loop goes
   * on with fresh ones. Async requests are tracked so INTERRUPT can reach them
   * and shutdown can wait for them.
   */
  private finish<T>(ctx: RequestContext, op: string, result: T | Promise<T>, encode: (v: T, out: Buffer) => void, lendOut = false): void {
    if (!(result instanceof Promise)) {
      encode(result, this.out);
      return;
    }
    const unique = ctx.unique;
    const p: Pending = { ctx, sink: this.sink, outBuf: lendOut ? this.out : undefined };
    this.pending.set(unique, p);
    this.kept = true;
    if (lendOut) this.out = this.spareOut.pop() ?? Buffer.allocUnsafe(this.out.length);
    // Answered from a promise callback, outside any handle(): the reply goes to this request's own sink.
    const answer = (fn: () => void) => {
      this.pending.delete(unique);
      this.sink = p.sink;
      try {
        fn();
      } finally {
        this.sink = NO_SINK;
        this.release(p);
      }
    };
    result.then(
      (v) => answer(() => {
        try {
          encode(v, p.outBuf ?? this.out);
        } catch (e) {
          this.replyError(unique, e, op);
        }
      }),
      (e) => answer(() => this.replyError(unique, e, op)),
    );
  }

  private release(p: Pending): void {
    if (p.outBuf && this.spareOut.length < 2) this.spareOut.push(p.outBuf);
    const w = this.waiters;
    this.waiters = [];
    for (const wake of w) wake();
  }

  private entry = (unique: bigint) => (e: Entry) => {
    const len = writeEntryOut(this.out, OUT_HEADER_SIZE, e, this.minor);
    this.send(len, unique);
  };

  private attr(unique: bigint, r: AttrReply): void {
    this.send(writeAttrOut(this.out, OUT_HEADER_SIZE, r.timeout, r.attr, this.minor), unique);
  }

  private open(unique: bigint, r: OpenReply): void {
    this.send(writeOpenOut(this.out, OUT_HEADER_SIZE, r), unique);
  }

  // ---- dispatch ------------------------------------------------------------

  private dispatch(d: DecodedRequest): void {
    const h = d.header;
    const r = d.req;
    const u = h.unique;
    const fs = this.fs;
    const noReply = NO_REPLY_OPCODES.has(h.opcode);
    if (this.minor === 0 && r.op !== 'init') {
      this.log('warn', `${r.op} before INIT`);
      // Those get no reply ever; the rest an error (between a DESTROY and the next INIT too).
      return noReply ? undefined : this.sendError(u, E.EIO!);
    }
    if (r.op === 'forget' || r.op === 'batchForget') return this.forget(r, h.nodeid);
    if (r.op === 'interrupt') return this.interrupt(r.target);
    if (r.op === 'notifyReply') {
      // The data is a view into the request buffer: the receiver copies what it keeps.
      this.onNotifyReply?.(u, h.nodeid, r.offset, r.data);
      return;
    }

    const only = this.opts.onlyUids;
    if (only && !only.includes(h.uid) && !CONTINUING_OPS.has(r.op)) return this.sendError(u, E.EACCES!);
    const ctx = new RequestContext(h, d.ext, r);
    if (this.pending.has(u)) {
      // The kernel never reuses a unique that is still in flight; refuse rather than reply twice.
      this.log('warn', `duplicate unique ${u} for ${r.op}`);
      return;
    }
    const node = h.nodeid;
    const done = () => this.ok(u);
    const call = <T>(res: T | Promise<T>, enc: (v: T) => void) => this.finish(ctx, r.op, res, enc);
    const nosys = () => this.sendError(u, E.ENOSYS!);

    switch (r.op) {
      case 'init':
        return this.init(u, r);
      case 'destroy':
        return this.destroy(u);
      case 'lookup':
        if (!fs.lookup) return nosys();
        return call(fs.lookup(ctx, node, r.name), this.entry(u));
      case 'getattr':
        if (!fs.getattr) return nosys();
        return call(fs.getattr(ctx, node, r.getattrFlags & 1 ? r.fh : undefined), (v) => this.attr(u, v));
      case 'setattr':
        if (!fs.setattr) return nosys();
        return call(fs.setattr(ctx, node, r.set), (v) => this.attr(u, v));
      case 'readlink':
        if (!fs.readlink) return nosys();
        return call(fs.readlink(ctx, node), (v) => this.data(u, typeof v === 'string' ? Buffer.from(v) : v));
      case 'symlink':
        if (!fs.symlink) return nosys();
        return call(fs.symlink(ctx, node, r.name, r.target), this.entry(u));
      case 'mknod':
        if (!fs.mknod) return nosys();
        return call(fs.mknod(ctx, node, r.name, r.mode, r.rdev), this.entry(u));
      case 'mkdir':
        if (!fs.mkdir) return nosys();
        return call(fs.mkdir(ctx, node, r.name, r.mode), this.entry(u));
      case 'unlink':
        if (!fs.unlink) return nosys();
        return call(fs.unlink(ctx, node, r.name), done);
      case 'rmdir':
        if (!fs.rmdir) return nosys();
        return call(fs.rmdir(ctx, node, r.name), done);
      case 'rename':
        if (!fs.rename) return nosys();
        return call(fs.rename(ctx, node, r.name, r.newDir, r.newName, r.flags), done);
      case 'link':
        if (!fs.link) return nosys();
        return call(fs.link(ctx, r.oldNode, node, r.newName), this.entry(u));
      case 'open':
        if (!fs.open) return this.open(u, { fh: 0n, openFlags: 0 });
        return call(fs.open(ctx, node, r.flags), (v) => this.open(u, v));
      case 'read':
        return this.read(ctx, node, r);
      case 'write':
        if (!fs.write) return nosys();
        return call(fs.write(ctx, node, r.fh, r.offset, r.data, r.writeFlags, r.flags), (n) =>
          this.send(writeWriteOut(this.out, OUT_HEADER_SIZE, n), u));
      case 'statfs':
        if (!fs.statfs) return this.statfs(u, { blocks: 0, bfree: 0, bavail: 0, files: 0, ffree: 0, bsize: 512, namelen: 255, frsize: 512 });
        return call(fs.statfs(ctx, node), (v) => this.statfs(u, v));
      case 'release':
        if (!fs.release) return done();
        return call(fs.release(ctx, node, r.fh, r.flags, r.releaseFlags, r.lockOwner), done);
      case 'fsync':
        if (!fs.fsync) return nosys();
        return call(fs.fsync(ctx, node, r.fh, (r.fsyncFlags & 1) !== 0), done);
      case 'setxattr':
        if (!fs.setxattr) return nosys();
        return call(fs.setxattr(ctx, node, r.name, r.value, r.flags, r.setxattrFlags), done);
      case 'getxattr':
        if (!fs.getxattr) return nosys();
        return call(fs.getxattr(ctx, node, r.name), (v) => this.sized(u, r.size, v));
      case 'listxattr':
        if (!fs.listxattr) return nosys();
        return call(fs.listxattr(ctx, node), (v) => this.sized(u, r.size, v));
      case 'removexattr':
        if (!fs.removexattr) return nosys();
        return call(fs.removexattr(ctx, node, r.name), done);
      case 'flush':
        if (!fs.flush) return nosys();
        return call(fs.flush(ctx, node, r.fh, r.lockOwner), done);
      case 'opendir':
        if (!fs.opendir) return this.open(u, { fh: 0n, openFlags: 0 });
        return call(fs.opendir(ctx, node, r.flags), (v) => this.open(u, v));
      case 'readdir':
      case 'readdirplus':
        return this.readdir(ctx, node, r);
      case 'releasedir':
        if (!fs.releasedir) return done();
        return call(fs.releasedir(ctx, node, r.fh, r.flags), done);
      case 'fsyncdir':
        if (!fs.fsyncdir) return nosys();
        return call(fs.fsyncdir(ctx, node, r.fh, (r.fsyncFlags & 1) !== 0), done);
      case 'getlk':
        if (!fs.getlk) return nosys();
        return call(fs.getlk(ctx, node, r.fh, r.owner, r.lock), (v: FileLock) =>
          this.send(writeLkOut(this.out, OUT_HEADER_SIZE, v), u));
      case 'setlk':
        if (!fs.setlk) return nosys();
        return call(fs.setlk(ctx, node, r.fh, r.owner, r.lock, r.sleep, (r.lkFlags & 1) !== 0), done);
      case 'access':
        if (!fs.access) return nosys();
        return call(fs.access(ctx, node, r.mask), done);
      case 'create':
        if (!fs.create) return nosys();
        return call(fs.create(ctx, node, r.name, r.mode, r.flags), (v: CreateReply) =>
          this.send(writeCreateOut(this.out, OUT_HEADER_SIZE, v.entry, v.open, this.minor), u));
      case 'bmap':
        if (!fs.bmap) return nosys();
        return call(fs.bmap(ctx, node, r.blocksize, r.block), (v) => this.send(writeBmapOut(this.out, OUT_HEADER_SIZE, v), u));
      case 'ioctl':
        if (!fs.ioctl) return nosys();
        return call(fs.ioctl(ctx, node, r.fh, r.flags, r.cmd, r.arg, r.data, r.outSize), (v: IoctlReply) => this.ioctl(u, r.outSize, v));
      case 'poll':
        return nosys();
      case 'fallocate':
        if (!fs.fallocate) return nosys();
        return call(fs.fallocate(ctx, node, r.fh, r.offset, r.length, r.mode), done);
      case 'lseek':
        if (!fs.lseek) return nosys();
        return call(fs.lseek(ctx, node, r.fh, r.offset, r.whence), (v) => this.send(writeLseekOut(this.out, OUT_HEADER_SIZE, v), u));
      case 'copyFileRange': {
        if (!fs.copyFileRange) return nosys();
        const wide = r.wide;
        return call(fs.copyFileRange(ctx, node, r.fhIn, r.offIn, r.nodeOut, r.fhOut, r.offOut, r.len, r.flags), (n) =>
          this.send(wide ? writeCopyFileRangeOut64(this.out, OUT_HEADER_SIZE, n) : writeWriteOut(this.out, OUT_HEADER_SIZE, Math.min(n, 0xffffffff)), u));
      }
      case 'syncfs':
        if (!fs.syncfs) return nosys();
        return call(fs.syncfs(ctx, node), done);
      case 'tmpfile':
        if (!fs.tmpfile) return nosys();
        return call(fs.tmpfile(ctx, node, r.mode, r.flags), (v: CreateReply) =>
          this.send(writeCreateOut(this.out, OUT_HEADER_SIZE, v.entry, v.open, this.minor), u));
      case 'statx':
        if (!fs.statx) return nosys();
        return call(fs.statx(ctx, node, r.getattrFlags & 1 ? r.fh : undefined, r.sxFlags, r.sxMask), (v: StatxReply) =>
          this.send(writeStatxOut(this.out, OUT_HEADER_SIZE, v.timeout, 0, v.attr), u));
      case 'setupmapping':
      case 'removemapping':
        return nosys();
    }
  }

  /** FORGET never gets a reply, not even when the filesystem fails. */
  private forget(r: Extract<Request, { op: 'forget' | 'batchForget' }>, nodeid = 0n): void {
    const fs = this.fs;
    try {
      if (r.op === 'forget') fs.forget?.(nodeid, r.nlookup);
      else if (fs.batchForget) fs.batchForget(r.items);
      else if (fs.forget) for (const it of r.items) fs.forget(it.node, it.nlookup);
    } catch (e) {
      this.log('error', `forget: ${describe(e)}`);
    }
  }

  private statfs(u: bigint, s: StatFs): void {
    this.send(writeStatfsOut(this.out, OUT_HEADER_SIZE, s, this.minor), u);
  }

  private data(u: bigint, v: Buffer): void {
    if (v.length > this.out.length - OUT_HEADER_SIZE) return this.sendError(u, E.ERANGE!);
    v.copy(this.out, OUT_HEADER_SIZE);
    this.send(OUT_HEADER_SIZE + v.length, u);
  }

  /** getxattr/listxattr size protocol: size 0 asks for the length; too small a size is ERANGE. */
  private sized(u: bigint, size: number, v: Buffer): void {
    if (size === 0) return this.send(writeGetxattrOut(this.out, OUT_HEADER_SIZE, v.length), u);
    if (v.length > size) return this.sendError(u, E.ERANGE!);
    this.data(u, v);
  }

  private ioctl(u: bigint, outSize: number, v: IoctlReply): void {
    const off = writeIoctlOut(this.out, OUT_HEADER_SIZE, v.result, 0, 0, 0);
    const data = v.data;
    if (data && data.length > outSize) return this.sendError(u, E.EINVAL!);
    if (data) data.copy(this.out, off);
    this.send(off + (data?.length ?? 0), u);
  }

  /** READ builds its payload in place in the reply buffer. */
  private read(ctx: RequestContext, node: bigint, r: Extract<Request, { op: 'read' }>): void {
    const u = ctx.unique;
    const fs = this.fs;
    if (!fs.read) return this.sendError(u, E.ENOSYS!);
    const size = Math.min(r.size, this.out.length - OUT_HEADER_SIZE);
    const out = this.out;
    const view = out.subarray(OUT_HEADER_SIZE, OUT_HEADER_SIZE + size);
    const res = fs.read(ctx, node, r.fh, r.offset, size, view, r.flags);
    this.finish(ctx, 'read', res, (v, buf) => {
      if (isFileRange(v)) return this.readRange(u, v, size, buf);
      if (typeof v === 'number') {
        if (!(v >= 0 && v <= size)) throw new RangeError(`read returned ${v} for size ${size}`);
        return this.send(OUT_HEADER_SIZE + v, u, buf);
      }
      const n = Math.min(v.length, size);
      if (v.buffer !== buf.buffer || v.byteOffset !== buf.byteOffset + OUT_HEADER_SIZE) v.copy(buf, OUT_HEADER_SIZE, 0, n);
      this.send(OUT_HEADER_SIZE + n, u, buf);
    }, true);
  }

  /**
   * READ answered with a range of a host file: the transport moves the data
   * if it can (sink.replyFromFile), else it is read into the reply buffer.
   */
  private readRange(u: bigint, v: FileRange, size: number, buf: Buffer): void {
    const len = Math.min(v.length, size);
    if (!(len >= 0) || !Number.isSafeInteger(v.offset) || v.offset < 0) throw new RangeError(`read returned the range ${v.offset}+${v.length} for size ${size}`);
    const sink = this.sink;
    if (sink.replyFromFile) {
      writeOutHeader(buf, OUT_HEADER_SIZE, 0, u);
      const n = sink.replyFromFile(buf, v.fd, v.offset, len);
      if (n < 0) return this.sendError(u, -n);
      this.answered = true;
      this.served++;
      return;
    }
    const n = pread(v.fd, buf.subarray(OUT_HEADER_SIZE, OUT_HEADER_SIZE + len), v.offset);
    this.send(OUT_HEADER_SIZE + n, u, buf);
  }

  private readdir(ctx: RequestContext, node: bigint, r: Extract<Request, { op: 'readdir' | 'readdirplus' }>): void {
    const u = ctx.unique;
    const fs = this.fs;
    const plus = r.op === 'readdirplus';
    if (!(plus ? fs.readdirplus : fs.readdir)) return this.sendError(u, E.ENOSYS!);
    const size = Math.min(r.size, this.out.length - OUT_HEADER_SIZE);
    const sink = this.dirbuf;
    sink.reset(this.out, OUT_HEADER_SIZE, size);
    const res = plus
      ? fs.readdirplus!(ctx, node, r.fh, r.offset, sink)
      : fs.readdir!(ctx, node, r.fh, r.offset, sink);
    // An async method keeps this sink (and, through finish, its buffer) until
    // its reply is written; later requests get a fresh one.
    if (res instanceof Promise) this.dirbuf = new DirBuffer();
    this.finish(ctx, r.op, res, (_v, buf) => this.send(sink.offset, u, buf), true);
  }

  private interrupt(target: bigint): void {
    const p = this.pending.get(target);
    // A request not in flight here has been answered already; nothing to do.
    p?.ctx.abort();
  }

  /** Set by the session to route FUSE_NOTIFY_REPLY (answers to retrieve). */
  onNotifyReply?: (unique: bigint, node: bigint, offset: bigint, data: Buffer) => void;

  private init(u: bigint, r: Extract<Request, { op: 'init' }>): void {
    if (r.major < 7) {
      this.log('error', `kernel FUSE protocol ${r.major}.${r.minor} is too old`);
      this.sendError(u, E.EPROTO!);
      this.stopRequested = true;
      return;
    }
    if (r.major > FUSE_KERNEL_VERSION) {
      // Tell the kernel our major; it will send another INIT.
      const len = writeInitOut(this.out, OUT_HEADER_SIZE, {
        major: FUSE_KERNEL_VERSION, minor: FUSE_KERNEL_MINOR_VERSION, maxReadahead: 0, flags: 0n,
        maxBackground: 0, congestionThreshold: 0, maxWrite: 0, timeGran: 0, maxPages: 0, mapAlignment: 0,
        maxStackDepth: 0, requestTimeout: 0,
      }, 0);
      return this.send(len, u);
    }
    if (this.minor !== 0) {
      this.log('warn', 'second INIT ignored');
      return this.sendError(u, E.EIO!);
    }
    const kernelMinor = r.minor;
    const minor = Math.min(kernelMinor, FUSE_KERNEL_MINOR_VERSION);
    const capable = r.flags;
    let want = this.requested & capable;
    if ((want & InitFlag.PASSTHROUGH) !== 0n) want &= ~InitFlag.WRITEBACK_CACHE; // the kernel refuses both
    const o = this.opts;
    const maxPages = Math.min(MAX_PAGES_LIMIT, Math.ceil((this.bufSize - PAGE_SIZE) / PAGE_SIZE));
    const maxWrite = Math.min(o.maxWrite ?? DEFAULT_MAX_WRITE, maxPages * PAGE_SIZE);
    const maxReadahead = Math.min(r.maxReadahead, o.maxReadahead ?? r.maxReadahead);
    const out: InitOut = {
      major: FUSE_KERNEL_VERSION,
      minor: FUSE_KERNEL_MINOR_VERSION,
      maxReadahead,
      flags: want,
      maxBackground: o.maxBackground ?? 64,
      congestionThreshold: o.congestionThreshold ?? 48,
      maxWrite,
      timeGran: o.timeGran ?? 1,
      maxPages: (want & InitFlag.MAX_PAGES) !== 0n ? maxPages : 0,
      mapAlignment: 0,
      maxStackDepth: (want & InitFlag.PASSTHROUGH) !== 0n ? 1 : 0,
      requestTimeout: 0,
    };
    this.minor = minor;
    this.setxattrExt = (want & InitFlag.SETXATTR_EXT) !== 0n;
    const conn: ConnectionInfo = { minor, capable, want, maxWrite, maxReadahead, maxPages: out.maxPages, timeGran: out.timeGran };
    this.conn = conn;
    this.live = true;
    const reply = () => {
      this.send(writeInitOut(this.out, OUT_HEADER_SIZE, out, kernelMinor), u);
      this.onInit?.(conn);
    };
    const fsInit = this.fs.init?.bind(this.fs);
    if (!fsInit && !this.destroying) return reply();
    const ctx = new RequestContext({ unique: u, nodeid: 0n, uid: 0, gid: 0, pid: 0, len: 0, opcode: Opcode.INIT, extLen: 0 }, {}, r);
    // After a DESTROY, the filesystem is initialised again once its teardown is done.
    const res = this.destroying ? this.destroying.then(() => fsInit?.(conn, this.services(conn))) : fsInit!(conn, this.services(conn));
    this.finish(ctx, 'init', res, reply);
  }
}

