/**
 * The virtio-fs device (virtio 1.2 §5.11): FUSE over virtqueues. Queue 0 is
 * the high-priority queue (FORGET, BATCH_FORGET, INTERRUPT: requests without
 * replies), queues 1..N are request queues; the config space holds the tag
 * the guest mounts by and N.
 *
 * Each available chain is one FUSE request: its readable buffers hold the
 * request, its writable buffers take the reply. The readable bytes are copied
 * into one Buffer and handed to the RequestHandler (the FUSE protocol core)
 * with a ReplySink made for that chain, so the reply may come at once or
 * later; the chain stays off the used ring until it does.
 *
 * What must stay true:
 * - the handler never gets more bytes than the chain has, and never a view
 *   of guest memory (the guest could change it under the handler's feet);
 *   whether the FUSE header inside makes sense is the handler's to check;
 * - a request buffer the handler keeps (handle() returned true) is not
 *   reused until its sink was called;
 * - a reply reaches guest memory only while its chain's queue generation is
 *   current (not after GET_VRING_BASE, a reset or a disconnect), and only
 *   through translations made at reply time (memory may have changed since
 *   the request was taken).
 */
import { errno as E } from '../../sys/errno.js';
import type { LogFn } from '../../fuse/log.js';
import type { ReplySink, RequestHandler } from '../../fuse/sink.js';
import type { VirtioDevice } from './backend.js';
import type { GuestMemory } from './memory.js';
import { MAX_CONFIG_SIZE } from './message.js';
import { gather, MAX_QUEUE_SIZE, scatter, type DescriptorChain, type Virtqueue } from './virtqueue.js';
import { SysError, pread, preadv } from '../../sys/index.js';
import { MAX_CONTIGUOUS } from './memory.js';

const EIO = E.EIO!;
const ENOMEM = E.ENOMEM!;
const ENODEV = E.ENODEV!;
const EINVAL = E.EINVAL!;

/** struct fuse_out_header: len u32, error i32, unique u64. */
const OUT_HEADER_SIZE = 16;
/** The unique field of struct fuse_in_header (len u32, opcode u32, unique u64, …). */
const IN_UNIQUE_OFFSET = 8;

/** virtio-fs config: tag[36] (UTF-8, NUL-padded, not NUL-terminated when full), num_request_queues u32. */
export const TAG_SIZE = 36;
export const CONFIG_SIZE = TAG_SIZE + 4;

/**
 * The largest request taken by default: 1 MiB of data (FUSE's 256-page
 * max_pages) and 4 KiB of headers, as virtiofsd. A larger one is answered
 * ENOMEM without reaching the handler.
 */
export const DEFAULT_MAX_REQUEST_SIZE = (1 << 20) + 4096;

/** How many chains one processQueue call takes before letting the loop look at other work. */
const BUDGET = 256;

/** Request buffers kept for reuse are at least this large. */
const MIN_POOL_BUFFER = 8192;

export interface FsDeviceOptions {
  /** Answers the FUSE requests (the protocol core). */
  handler: RequestHandler;
  /**
   * The tag the guest mounts (`mount -t virtiofs TAG /mnt`), at most 36
   * bytes of UTF-8. Reported in the config space; without it the CONFIG
   * protocol feature is not offered and the front-end supplies the tag
   * itself (QEMU's vhost-user-fs tag=).
   */
  tag?: string;
  /** Request queues besides the high-priority one (default 1; at most 255). Guests from Linux 6.11 use several. */
  numRequestQueues?: number;
  /** Largest request, in readable bytes of one chain (default DEFAULT_MAX_REQUEST_SIZE). */
  maxRequestSize?: number;
}

export class VirtioFsDevice implements VirtioDevice {
  readonly numQueues: number;
  readonly maxQueueSize = MAX_QUEUE_SIZE;
  readonly features = 0n;
  readonly readConfig: ((offset: number, size: number) => Uint8Array | undefined) | undefined;
  private readonly config: Buffer;
  private readonly handler: RequestHandler;
  private readonly maxRequestSize: number;
  /** Per queue: a request buffer free for reuse. */
  private readonly pool: (Buffer | undefined)[] = [];

  constructor(
    opts: FsDeviceOptions,
    private readonly log: LogFn,
    /** Where complaints about what the guest sent go (rate-limited by the caller). */
    private readonly guestLog: LogFn = log,
  ) {
    const n = opts.numRequestQueues ?? 1;
    if (!(Number.isInteger(n) && n >= 1 && n <= 255)) throw new RangeError(`numRequestQueues must be 1 to 255, not ${n}`);
    this.numQueues = 1 + n;
    this.handler = opts.handler;
    this.maxRequestSize = opts.maxRequestSize ?? DEFAULT_MAX_REQUEST_SIZE;
    this.config = Buffer.alloc(CONFIG_SIZE);
    this.config.writeUInt32LE(n, TAG_SIZE);
    if (opts.tag !== undefined) {
      const tag = Buffer.from(opts.tag, 'utf8');
      if (tag.length === 0 || tag.length > TAG_SIZE) throw new RangeError(`the tag must be 1 to ${TAG_SIZE} bytes of UTF-8`);
      tag.copy(this.config);
      this.readConfig = (offset, size) => this.configBytes(offset, size);
    }
  }

  processQueue(q: Virtqueue, mem: GuestMemory): boolean {
    return q.drain(BUDGET, (chain) => this.take(q, mem, chain));
  }

  queueStopped(q: Virtqueue): void {
    // Buffers of abandoned requests stay with whoever holds them; a fresh pool is all that changes.
    this.pool[q.index] = undefined;
  }

  /** Config bytes [offset, offset + size), zero past the end (as virtiofsd). */
  private configBytes(offset: number, size: number): Uint8Array | undefined {
    if (size > MAX_CONFIG_SIZE) return undefined;
    const out = Buffer.alloc(size);
    if (offset < CONFIG_SIZE) this.config.copy(out, 0, offset, Math.min(CONFIG_SIZE, offset + size));
    return out;
  }

  /** Hands one chain to the handler. Never throws. */
  private take(q: Virtqueue, mem: GuestMemory, chain: DescriptorChain): void {
    const len = chain.readableBytes;
    if (len > this.maxRequestSize) {
      this.refuse(q, mem, chain, ENOMEM, `a request of ${len} bytes (at most ${this.maxRequestSize})`);
      return;
    }
    if (len === 0) {
      this.guestLog('warn', `virtqueue ${q.index}: a chain with nothing to read, returned unused`);
      q.complete(chain, 0);
      return;
    }
    let buf = this.pool[q.index];
    const pooled = buf !== undefined && buf.length >= len;
    if (!pooled) buf = Buffer.allocUnsafeSlow(Math.max(len, MIN_POOL_BUFFER));
    if (!gather(mem, chain.readable, buf!)) {
      // Cannot happen within one drain (the chain was checked against this memory); kept for safety.
      q.complete(chain, 0);
      return;
    }
    const sink = new ChainSink(this, q, mem, chain);
    let keeps = false;
    try {
      keeps = this.handler.handle(buf!, len, sink);
    } catch (e) {
      this.log('error', `internal error: the request handler threw: ${(e as Error)?.stack ?? String(e)}`);
      if (!sink.answered) sink.none();
    }
    // The buffer is free again unless the handler still refers to it and has not answered.
    this.pool[q.index] = keeps && !sink.answered ? undefined : buf;
  }

  /** Answers a request without the handler: a FUSE error header if it fits, else nothing. */
  private refuse(q: Virtqueue, mem: GuestMemory, chain: DescriptorChain, errno: number, what: string): void {
    this.guestLog('warn', `virtqueue ${q.index}: ${what} answered ${errno === ENOMEM ? 'ENOMEM' : errno}`);
    const unique = Buffer.alloc(8);
    const head = Buffer.alloc(IN_UNIQUE_OFFSET + 8);
    if (gather(mem, prefix(chain.readable, head.length), head)) head.copy(unique, 0, IN_UNIQUE_OFFSET);
    this.writeError(q, mem, chain, errno, unique);
  }

  private writeError(q: Virtqueue, mem: GuestMemory, chain: DescriptorChain, errno: number, unique: Uint8Array): void {
    if (chain.writableBytes < OUT_HEADER_SIZE) {
      q.complete(chain, 0);
      return;
    }
    const out = Buffer.alloc(OUT_HEADER_SIZE);
    out.writeUInt32LE(OUT_HEADER_SIZE, 0);
    out.writeInt32LE(-errno, 4);
    out.set(unique.subarray(0, 8), 8);
    const n = scatter(mem, chain.writable, out, OUT_HEADER_SIZE);
    q.complete(chain, n < 0 ? 0 : n);
  }

  /** The sink's reply: see ReplySink.reply. */
  writeReply(q: Virtqueue, mem: GuestMemory, chain: DescriptorChain, buf: Buffer, len: number): number {
    if (chain.generation !== q.generation) return -ENODEV;
    if (!(Number.isInteger(len) && len >= 0 && len <= buf.length)) {
      this.log('error', `internal error: a reply of ${len} bytes from a ${buf.length}-byte buffer`);
      q.complete(chain, 0);
      return -EINVAL;
    }
    if (len > chain.writableBytes) {
      // As /dev/fuse does with a reply larger than the request allows: the
      // request fails with EIO, the writer gets EINVAL.
      this.guestLog('warn', `virtqueue ${q.index}: a ${len}-byte reply does not fit the ${chain.writableBytes} bytes the guest gave; answered EIO`);
      this.writeError(q, mem, chain, EIO, len >= OUT_HEADER_SIZE ? buf.subarray(8, 16) : Buffer.alloc(8));
      return -EINVAL;
    }
    const n = scatter(mem, chain.writable, buf, len);
    if (n < 0) {
      this.guestLog('warn', `virtqueue ${q.index}: the reply's buffers left guest memory before it came`);
      q.complete(chain, 0);
      return -ENODEV;
    }
    return q.complete(chain, n) ? 0 : -ENODEV;
  }

  /**
   * The sink's reply with file data (ReplySink.replyFromFile): the data is
   * read with preadv straight into the chain's buffers after the header, in
   * guest memory, then the header goes in front with the length read.
   * Returns the data bytes sent; 'done' when the chain was answered otherwise
   * (an error the guest's own chain caused, or it is gone); a negative errno
   * when the read failed and nothing was sent.
   */
  writeFromFile(q: Virtqueue, mem: GuestMemory, chain: DescriptorChain, header: Buffer, fd: number, offset: number, length: number): number | 'done' {
    if (chain.generation !== q.generation) return 'done';
    if (OUT_HEADER_SIZE + length > chain.writableBytes) {
      this.guestLog('warn', `virtqueue ${q.index}: a ${OUT_HEADER_SIZE + length}-byte read reply does not fit the ${chain.writableBytes} bytes the guest gave; answered EIO`);
      this.writeError(q, mem, chain, EIO, header.subarray(8, 16));
      return 'done';
    }
    const views = writableViews(mem, chain.writable, OUT_HEADER_SIZE, length);
    if (!views) {
      this.guestLog('warn', `virtqueue ${q.index}: the reply's buffers left guest memory before it came`);
      q.complete(chain, 0);
      return 'done';
    }
    let n: number;
    try {
      if (views.length <= IOV_MAX) {
        n = length === 0 ? 0 : preadv(fd, views, offset);
      } else {
        // More buffers than one preadv takes: read once, then copy (rare: guests use page-sized buffers).
        const tmp = Buffer.allocUnsafe(length);
        n = pread(fd, tmp, offset);
        let at = 0;
        for (const v of views) {
          if (at >= n) break;
          const k = Math.min(v.length, n - at);
          v.set(tmp.subarray(at, at + k));
          at += k;
        }
      }
    } catch (e) {
      return e instanceof SysError ? -e.errno : -EIO;
    }
    header.writeUInt32LE(OUT_HEADER_SIZE + n, 0);
    if (scatter(mem, chain.writable, header, OUT_HEADER_SIZE) !== OUT_HEADER_SIZE) {
      q.complete(chain, 0);
      return 'done';
    }
    q.complete(chain, OUT_HEADER_SIZE + n);
    return n;
  }
}

/** preadv takes at most this many buffers (IOV_MAX). */
const IOV_MAX = 1024;

/**
 * Views of the chain's writable buffers from byte `skip` on, `len` bytes in
 * all, in guest memory itself; undefined when one is not in guest memory.
 */
function writableViews(mem: GuestMemory, segs: readonly { addr: number; len: number }[], skip: number, len: number): Uint8Array[] | undefined {
  const out: Uint8Array[] = [];
  for (const s of segs) {
    if (len <= 0) break;
    let addr = s.addr;
    let n = s.len;
    if (skip > 0) {
      const k = Math.min(skip, n);
      addr += k;
      n -= k;
      skip -= k;
      if (n === 0) continue;
    }
    // A view is at most MAX_CONTIGUOUS bytes: longer buffers are taken in pieces.
    for (n = Math.min(n, len); n > 0;) {
      const piece = Math.min(n, MAX_CONTIGUOUS);
      const r = mem.guest(addr, piece);
      const v = r?.bytes(addr - r.guestAddr, piece);
      if (!v) return undefined;
      out.push(v);
      addr += piece;
      n -= piece;
      len -= piece;
    }
  }
  return out;
}

/** The first `len` bytes of `segs` as segments (fewer when the chain is shorter). */
function prefix(segs: readonly { addr: number; len: number }[], len: number): { addr: number; len: number }[] {
  const out = [];
  for (const s of segs) {
    if (len <= 0) break;
    const n = Math.min(s.len, len);
    out.push({ addr: s.addr, len: n });
    len -= n;
  }
  return len > 0 ? [] : out;
}

/** The ReplySink of one chain: answers exactly once, now or later. */
class ChainSink implements ReplySink {
  answered = false;

  constructor(
    private readonly dev: VirtioFsDevice,
    private readonly q: Virtqueue,
    private readonly mem: GuestMemory,
    private readonly chain: DescriptorChain,
  ) {}

  reply(buf: Buffer, len: number): number {
    if (this.answered) return -EINVAL;
    this.answered = true;
    return this.dev.writeReply(this.q, this.mem, this.chain, buf, len);
  }

  none(): void {
    if (this.answered) return;
    this.answered = true;
    this.q.complete(this.chain, 0);
  }

  replyFromFile(header: Buffer, fd: number, offset: number, length: number): number {
    if (this.answered) return -EINVAL;
    const n = this.dev.writeFromFile(this.q, this.mem, this.chain, header, fd, offset, length);
    // A failed read sent nothing: the protocol answers with its errno through reply().
    if (n !== 'done' && n < 0) return n;
    this.answered = true;
    return n === 'done' ? 0 : n;
  }
}
