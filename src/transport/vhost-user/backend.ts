/**
 * The vhost-user back-end: what each front-end message does to the rings,
 * the guest memory and the negotiated features of one connection, for the
 * message set QEMU's vhost-user devices (vhost-user-fs among them) send.
 * The device behind the rings is a VirtioDevice (fs-device.ts for virtio-fs);
 * waiting for messages and kicks is event-loop.ts's.
 *
 * Answers follow the spec (docs/interop/vhost-user.rst):
 * - requests with a reply of their own (GET_*) get it; with REPLY_ACK
 *   negotiated, every other request carrying NEED_REPLY gets a u64 ack:
 *   0 for success, 1 for failure;
 * - a request that fails (bad payload size, index out of range, a region
 *   that cannot be mapped, a feature not offered, a known request this
 *   back-end does not implement) changes nothing, is logged, and is acked
 *   with 1 when an ack was asked for. The stream stays framed, so the
 *   connection goes on;
 * - an unimplemented request whose reply is a status (IOTLB_MSG,
 *   POSTCOPY_END, CHECK_DEVICE_STATE…) is answered with a failure status;
 * - the connection ends when it cannot go on: an unknown request number or
 *   protocol version (the peer speaks something else), a request whose reply
 *   cannot be given (malformed, or unimplemented with a reply that has no
 *   way to say "failed": the front-end would wait for it forever), a reply
 *   that cannot be sent, or a stream that is no longer framed (connection.ts);
 * - fds that came with a message and were not used by it are closed.
 *
 * Nothing a front-end sends makes handle() throw: it catches, logs as an
 * internal error and ends the connection.
 */
import { fcntl, F_GETFL, F_SETFL, O_NONBLOCK } from '../../sys/index.js';
import type { LogFn } from '../../fuse/log.js';
import { closeFds, type Connection, type Message } from './connection.js';
import { DEFAULT_MAX_MEM_SLOTS, GuestMemory } from './memory.js';
import {
  bit, decodeConfig, decodeMemTable, decodeSingleMemRegion, decodeU64, decodeVringAddr, decodeVringState, encodeConfig,
  encodeReply, encodeU64, encodeVringState, Flag, MAX_CONFIG_SIZE, ProtocolFeature, REPLY_REQUIRED, Req, requestName,
  SINGLE_MEM_REGION_SIZE, U64_SIZE, VirtioFeature, VRING_ADDR_F_LOG, VRING_ADDR_SIZE, VRING_INDEX_MASK, VRING_NOFD,
  VRING_STATE_SIZE,
} from './message.js';
import { MAX_QUEUE_SIZE, Virtqueue } from './virtqueue.js';

/**
 * A virtio device served over vhost-user: its queues, feature bits and
 * config space. The back-end runs the rings; the device handles the chains.
 */
export interface VirtioDevice {
  /** How many virtqueues it has (GET_QUEUE_NUM). At most 256: vring indices are 8 bits on the wire. */
  readonly numQueues: number;
  /** The largest queue size it takes (a power of two, at most MAX_QUEUE_SIZE). */
  readonly maxQueueSize: number;
  /** Device-specific feature bits offered besides the ring features the back-end offers itself. */
  readonly features: bigint;
  /**
   * `size` bytes of config space from `offset` (GET_CONFIG), or undefined
   * when it cannot be read. Without this method the CONFIG protocol feature
   * is not offered.
   */
  readConfig?(offset: number, size: number): Uint8Array | undefined;
  /** Writes config space (SET_CONFIG); false when refused (read-only fields). */
  writeConfig?(offset: number, data: Uint8Array, flags: number): boolean;
  /** The features the driver accepted (SET_FEATURES). */
  setFeatures?(features: bigint): void;
  /**
   * Takes and handles chains from queue `q` (kicked, or with chains left
   * from last time). Returns true when it stopped with chains left. Must not
   * throw.
   */
  processQueue(q: Virtqueue, mem: GuestMemory): boolean;
  /** Queue `q` stopped or was reset: chains taken from it and not returned are abandoned. */
  queueStopped?(q: Virtqueue): void;
}

/** Ring features the back-end's virtqueues implement, offered for every device. */
export const RING_FEATURES: bigint =
  bit(VirtioFeature.VERSION_1) | bit(VirtioFeature.RING_INDIRECT_DESC) | bit(VirtioFeature.RING_EVENT_IDX);

/** Protocol features offered for every device (CONFIG is added when the device has config space). */
export const PROTOCOL_FEATURES: bigint =
  bit(ProtocolFeature.MQ) | bit(ProtocolFeature.REPLY_ACK) | bit(ProtocolFeature.CONFIGURE_MEM_SLOTS) |
  bit(ProtocolFeature.RESET_DEVICE);

export interface BackendOptions {
  /** Where every line goes (internal errors, connection-level events). */
  log: LogFn;
  /**
   * Where complaints about what the front-end or guest sent go: bad
   * messages, bad chains. Rate-limited by default (a guest can cause them at
   * will); defaults to a limiter over `log`.
   */
  guestLog?: LogFn;
  /** GET_MAX_MEM_SLOTS (default 509). */
  maxMemSlots?: number;
  /**
   * How long GET_VRING_BASE waits for the ring's requests in flight to be
   * answered before it gives up on them (default 5000 ms). The front-end
   * waits meanwhile; QEMU blocks its main loop.
   */
  stopTimeoutMs?: number;
}

/** GET_VRING_BASE's default wait for requests in flight. */
export const DEFAULT_STOP_TIMEOUT_MS = 5000;

/** What one request came to. */
type Outcome =
  | undefined // done; acked with 0 when asked
  | { fail: string } // nothing changed; acked with 1 when asked
  | { reply: Uint8Array } // the request's own reply
  | { fatal: string } // the connection ends
  | { later: Promise<Outcome> }; // one of the above once something happened (no other message meanwhile)

const fail = (why: string): Outcome => ({ fail: why });

/** Requests that carry fds; any other request's fds are closed unused. */
const TAKES_FDS: ReadonlySet<number> = new Set([
  Req.SET_MEM_TABLE, Req.ADD_MEM_REG, Req.SET_VRING_KICK, Req.SET_VRING_CALL, Req.SET_VRING_ERR,
  // Not implemented, but they do carry fds: no complaint about those beyond "not supported".
  Req.SET_LOG_BASE, Req.SET_LOG_FD, Req.SET_BACKEND_REQ_FD, Req.SET_INFLIGHT_FD, Req.GPU_SET_SOCKET,
  Req.SET_DEVICE_STATE_FD,
  // Tolerated by the spec for old front-ends; the fd is closed.
  Req.REM_MEM_REG,
]);

/**
 * Requests this back-end does not implement whose reply is a status (a u64,
 * non-zero for failure): they are refused with that value rather than by
 * ending the connection. (SET_DEVICE_STATE_FD: bits 0-7 the error, bit 8 "no fd".)
 */
const STATUS_REFUSALS: ReadonlyMap<number, bigint> = new Map([
  [Req.IOTLB_MSG, 1n], [Req.POSTCOPY_END, 1n], [Req.GET_SHARED_OBJECT, 1n], [Req.CHECK_DEVICE_STATE, 1n],
  [Req.SET_DEVICE_STATE_FD, 0x101n],
]);

/** At most this many lines per window from guestLog's default limiter, then a count. */
const GUEST_LOG_BURST = 20;
const GUEST_LOG_WINDOW_MS = 10_000;

/** A LogFn passing at most GUEST_LOG_BURST lines per window and reporting how many it dropped. */
export function rateLimited(log: LogFn): LogFn {
  let windowStart = 0;
  let lines = 0;
  let dropped = 0;
  return (level, msg) => {
    const now = Date.now();
    if (now - windowStart >= GUEST_LOG_WINDOW_MS) {
      if (dropped > 0) log('warn', `${dropped} more messages like the above were not logged`);
      windowStart = now;
      lines = 0;
      dropped = 0;
    }
    if (++lines <= GUEST_LOG_BURST) log(level, msg);
    else dropped++;
  };
}

export class VhostUserBackend {
  readonly mem: GuestMemory;
  readonly queues: Virtqueue[];
  /** Queues to process without waiting for a kick (started, resumed after a stall, chains left). */
  readonly pending = new Set<number>();
  /** Set by the event loop: called when `pending` gains a queue outside the loop (an async reply). */
  wake: (() => void) | undefined;
  /** Counted for tests and reports. */
  readonly stats = { messages: 0, failedMessages: 0, internalErrors: 0 };

  private readonly log: LogFn;
  private readonly guestLog: LogFn;
  private readonly offeredFeatures: bigint;
  private readonly offeredProtocol: bigint;
  private ackedFeatures = 0n;
  private ackedProtocol = 0n;
  private ended: string | undefined;
  private readonly stopTimeoutMs: number;

  constructor(
    readonly conn: Connection,
    readonly device: VirtioDevice,
    opts: BackendOptions,
  ) {
    if (!(device.numQueues >= 1 && device.numQueues <= VRING_INDEX_MASK + 1)) {
      throw new RangeError(`a vhost-user device has 1 to ${VRING_INDEX_MASK + 1} queues, not ${device.numQueues}`);
    }
    this.log = opts.log;
    this.guestLog = opts.guestLog ?? rateLimited(opts.log);
    this.stopTimeoutMs = opts.stopTimeoutMs ?? DEFAULT_STOP_TIMEOUT_MS;
    this.mem = new GuestMemory(opts.maxMemSlots ?? DEFAULT_MAX_MEM_SLOTS);
    this.queues = [];
    for (let i = 0; i < device.numQueues; i++) {
      const q = new Virtqueue(i, this.mem, this.guestLog);
      q.onResume = () => this.schedule(i);
      this.queues.push(q);
    }
    this.offeredFeatures = RING_FEATURES | device.features | bit(VirtioFeature.PROTOCOL_FEATURES);
    this.offeredProtocol = PROTOCOL_FEATURES | (device.readConfig ? bit(ProtocolFeature.CONFIG) : 0n);
  }

  /** Why the connection must end, once it must. */
  get endReason(): string | undefined {
    return this.ended;
  }

  /** Chains taken and not yet returned, over every queue. */
  get inflight(): number {
    let n = 0;
    for (const q of this.queues) n += q.inflight;
    return n;
  }

  /**
   * Carries out one message and answers it. Returns false when the
   * connection must end (endReason says why), or a promise of that for a
   * message answered later (GET_VRING_BASE with requests in flight): no
   * other message may be handled before it settles. Never throws (nor
   * rejects); closes every fd of the message it did not keep.
   */
  handle(msg: Message): boolean | Promise<boolean> {
    this.stats.messages++;
    const name = requestName(msg.request) ?? `request ${msg.request}`;
    try {
      const outcome = this.dispatch(msg);
      if (outcome !== undefined && 'later' in outcome) {
        return outcome.later.then((o) => this.answer(msg, name, o), (e) => this.internal(name, e));
      }
      return this.answer(msg, name, outcome);
    } catch (e) {
      return this.internal(name, e);
    } finally {
      if (msg.fds.length > 0) {
        if (!TAKES_FDS.has(msg.request)) this.guestLog('warn', `closed ${msg.fds.length} fds that came with ${name}`);
        closeFds(msg.fds);
      }
    }
  }

  /** Sends what `outcome` calls for. False when the connection must end. */
  private answer(msg: Message, name: string, outcome: Outcome): boolean {
    if (outcome === undefined) return this.ack(msg, name, true);
    if ('later' in outcome) return this.internal(name, new Error('a deferred outcome deferred again'));
    if ('fatal' in outcome) return this.end(`${name}: ${outcome.fatal}`);
    if ('reply' in outcome) {
      return this.conn.send(encodeReply(msg.request, outcome.reply)) || this.end(`${name}: the reply could not be sent`);
    }
    this.stats.failedMessages++;
    this.guestLog('warn', `vhost-user ${name} failed: ${outcome.fail}`);
    if (REPLY_REQUIRED.has(msg.request)) return this.end(`${name} cannot be answered`);
    return this.ack(msg, name, false);
  }

  /** The REPLY_ACK answer, when negotiated and asked for. False when it could not be sent. */
  private ack(msg: Message, name: string, ok: boolean): boolean {
    if (!(msg.flags & Flag.NEED_REPLY) || !(this.ackedProtocol & bit(ProtocolFeature.REPLY_ACK))) return true;
    return this.conn.send(encodeReply(msg.request, encodeU64(ok ? 0 : 1))) || this.end(`${name}: the ack could not be sent`);
  }

  private internal(name: string, e: unknown): false {
    this.stats.internalErrors++;
    this.log('error', `internal error handling vhost-user ${name}: ${(e as Error)?.stack ?? String(e)}`);
    return this.end(`internal error in ${name}`);
  }

  /**
   * Lets queue `index`'s device take chains. Exceptions (a bug, not
   * something a guest can cause) are logged and break the queue, so that
   * they cannot repeat at every kick.
   */
  processQueue(index: number): void {
    const q = this.queues[index]!;
    this.pending.delete(index);
    if (!q.ready) return;
    try {
      if (this.device.processQueue(q, this.mem)) this.pending.add(index);
    } catch (e) {
      this.stats.internalErrors++;
      this.log('error', `internal error processing virtqueue ${index}: ${(e as Error)?.stack ?? String(e)}`);
      q.fail('internal error');
    }
  }

  /** Releases everything the connection holds: rings, their fds, guest memory, the socket. Idempotent. */
  shutdown(): void {
    for (const q of this.queues) {
      q.reset();
      this.stopped(q);
    }
    this.pending.clear();
    this.mem.clear();
    this.conn.close();
  }

  private schedule(index: number): void {
    this.pending.add(index);
    this.wake?.();
  }

  private end(why: string): false {
    this.ended ??= why;
    return false;
  }

  private stopped(q: Virtqueue): void {
    try {
      this.device.queueStopped?.(q);
    } catch (e) {
      this.stats.internalErrors++;
      this.log('error', `internal error stopping virtqueue ${q.index}: ${(e as Error)?.stack ?? String(e)}`);
    }
  }

  private has(feature: number): boolean {
    return (this.ackedFeatures & bit(feature)) !== 0n;
  }

  private dispatch(msg: Message): Outcome {
    if ((msg.flags & Flag.VERSION_MASK) !== Flag.VERSION) {
      return { fatal: `protocol version ${msg.flags & Flag.VERSION_MASK} (only ${Flag.VERSION} is spoken)` };
    }
    if (requestName(msg.request) === undefined) return { fatal: 'unknown request' };
    if (msg.flags & Flag.REPLY) return fail('it carries the reply flag');
    if (msg.fdsTruncated) return fail('more fds came than a message may carry');
    const p = msg.payload;
    switch (msg.request) {
      case Req.GET_FEATURES:
        return sized(p, 0) ?? { reply: encodeU64(this.offeredFeatures) };
      case Req.SET_FEATURES:
        return sized(p, U64_SIZE) ?? this.setFeatures(decodeU64(p));
      case Req.GET_PROTOCOL_FEATURES:
        return sized(p, 0) ?? { reply: encodeU64(this.offeredProtocol) };
      case Req.SET_PROTOCOL_FEATURES:
        return sized(p, U64_SIZE) ?? this.setProtocolFeatures(decodeU64(p));
      case Req.SET_OWNER:
        return sized(p, 0);
      case Req.RESET_OWNER:
        // Deprecated; the spec recommends ignoring it or disabling every ring.
        return sized(p, 0) ?? this.stopAll();
      case Req.RESET_DEVICE:
        return sized(p, 0) ?? this.resetDevice();
      case Req.GET_QUEUE_NUM:
        return sized(p, 0) ?? { reply: encodeU64(this.device.numQueues) };
      case Req.GET_MAX_MEM_SLOTS:
        return sized(p, 0) ?? { reply: encodeU64(this.mem.maxSlots) };
      case Req.SET_MEM_TABLE:
        return this.setMemTable(msg);
      case Req.ADD_MEM_REG:
        return this.addMemRegion(msg);
      case Req.REM_MEM_REG: {
        const bad = sized(p, SINGLE_MEM_REGION_SIZE);
        if (bad) return bad;
        const why = this.mem.remove(decodeSingleMemRegion(p));
        return why === undefined ? undefined : fail(why);
      }
      case Req.SET_VRING_NUM:
      case Req.SET_VRING_BASE:
      case Req.GET_VRING_BASE:
      case Req.SET_VRING_ENABLE:
        return this.vringState(msg);
      case Req.SET_VRING_ADDR:
        return this.setVringAddr(p);
      case Req.SET_VRING_KICK:
      case Req.SET_VRING_CALL:
      case Req.SET_VRING_ERR:
        return this.setVringFd(msg);
      case Req.GET_CONFIG:
        return this.getConfig(p);
      case Req.SET_CONFIG:
        return this.setConfig(p);
      default: {
        const refusal = STATUS_REFUSALS.get(msg.request);
        if (refusal !== undefined) {
          this.stats.failedMessages++;
          this.guestLog('warn', `vhost-user ${requestName(msg.request)} refused: not supported`);
          return { reply: encodeU64(refusal) };
        }
        return REPLY_REQUIRED.has(msg.request) ? { fatal: 'not supported, and it needs an answer' } : fail('not supported');
      }
    }
  }

  private setFeatures(features: bigint): Outcome {
    if (features & ~this.offeredFeatures) {
      return fail(`features 0x${(features & ~this.offeredFeatures).toString(16)} were not offered`);
    }
    this.ackedFeatures = features;
    const eventIdx = this.has(VirtioFeature.RING_EVENT_IDX);
    for (const q of this.queues) {
      if (q.eventIdx !== eventIdx) {
        q.eventIdx = eventIdx;
        q.reconfigured(); // the rings' sizes depend on it
      }
      // Without protocol features there is no SET_VRING_ENABLE: rings are enabled from the start.
      if (!this.has(VirtioFeature.PROTOCOL_FEATURES)) q.enabled = true;
    }
    this.device.setFeatures?.(features);
    return undefined;
  }

  private setProtocolFeatures(features: bigint): Outcome {
    this.ackedProtocol = features & this.offeredProtocol;
    const extra = features & ~this.offeredProtocol;
    return extra ? fail(`protocol features 0x${extra.toString(16)} were not offered`) : undefined;
  }

  private stopAll(): Outcome {
    for (const q of this.queues) {
      q.stop();
      q.enabled = false;
      this.stopped(q);
    }
    this.ackedFeatures = 0n;
    return undefined;
  }

  /**
   * RESET_DEVICE: every ring back to its initial state, the features
   * forgotten. The memory table stays, as in rust-vmm and libvhost-user: a
   * front-end using ADD_MEM_REG keeps its own copy of what the back-end has
   * mapped and sends only the differences afterwards.
   */
  private resetDevice(): Outcome {
    for (const q of this.queues) {
      q.reset();
      this.stopped(q);
    }
    this.pending.clear();
    this.ackedFeatures = 0n;
    return undefined;
  }

  private setMemTable(msg: Message): Outcome {
    const table = decodeMemTable(msg.payload);
    if (typeof table === 'string') return fail(table);
    if (msg.fds.length !== table.length) return fail(`${table.length} regions came with ${msg.fds.length} fds`);
    const fds = msg.fds.splice(0);
    const why = this.mem.setTable(table, fds);
    return why === undefined ? undefined : fail(why);
  }

  private addMemRegion(msg: Message): Outcome {
    const bad = sized(msg.payload, SINGLE_MEM_REGION_SIZE);
    if (bad) return bad;
    if (msg.fds.length !== 1) return fail(`${msg.fds.length} fds came with it (one belongs)`);
    const why = this.mem.add(decodeSingleMemRegion(msg.payload), msg.fds.splice(0)[0]!);
    return why === undefined ? undefined : fail(why);
  }

  private queue(index: number): Virtqueue | string {
    return this.queues[index] ?? `there is no virtqueue ${index} (the device has ${this.queues.length})`;
  }

  private vringState(msg: Message): Outcome {
    const bad = sized(msg.payload, VRING_STATE_SIZE);
    if (bad) return msg.request === Req.GET_VRING_BASE ? { fatal: bad.fail } : bad;
    const { index, num } = decodeVringState(msg.payload);
    const q = this.queue(index);
    if (typeof q === 'string') return msg.request === Req.GET_VRING_BASE ? { fatal: q } : fail(q);
    switch (msg.request) {
      case Req.SET_VRING_NUM:
        if (!(num >= 1 && num <= Math.min(this.device.maxQueueSize, MAX_QUEUE_SIZE) && (num & (num - 1)) === 0)) {
          return fail(`queue size ${num} (a power of two up to ${Math.min(this.device.maxQueueSize, MAX_QUEUE_SIZE)})`);
        }
        q.size = num;
        q.reconfigured();
        return undefined;
      case Req.SET_VRING_BASE:
        if (num > 0xffff) return fail(`ring base ${num} is not a 16-bit index`);
        q.lastAvail = num;
        q.reconfigured();
        return undefined;
      case Req.GET_VRING_BASE:
        return this.getVringBase(q);
      default: // SET_VRING_ENABLE
        if (num > 1) return fail(`enable value ${num} (0 or 1)`);
        q.enabled = num === 1;
        if (q.enabled) this.pending.add(index);
        return undefined;
    }
  }

  /**
   * Stops ring `q` and answers its base. Requests in flight are waited for
   * first (up to stopTimeoutMs): the base counts them as taken, so a reply
   * given up on is a request the guest never sees answered; once the answer
   * is sent no reply may reach the ring any more.
   */
  private getVringBase(q: Virtqueue): Outcome {
    this.pending.delete(q.index);
    q.quiesce();
    const finish = (): Outcome => {
      if (q.inflight > 0) {
        this.guestLog('warn', `virtqueue ${q.index} stopped with ${q.inflight} requests unanswered after ${this.stopTimeoutMs} ms; their replies are dropped`);
      }
      q.onIdle = undefined;
      q.stop();
      this.stopped(q);
      return { reply: encodeVringState({ index: q.index, num: q.lastAvail }) };
    };
    if (q.inflight === 0) return finish();
    return {
      later: new Promise<Outcome>((resolve) => {
        const timer = setTimeout(() => resolve(finish()), this.stopTimeoutMs);
        q.onIdle = () => {
          clearTimeout(timer);
          resolve(finish());
        };
      }),
    };
  }

  private setVringAddr(p: Buffer): Outcome {
    const bad = sized(p, VRING_ADDR_SIZE);
    if (bad) return bad;
    const a = decodeVringAddr(p);
    const q = this.queue(a.index);
    if (typeof q === 'string') return fail(q);
    if (a.flags & ~VRING_ADDR_F_LOG) return fail(`ring address flags 0x${a.flags.toString(16)}`);
    // virtio's alignment: descriptor table 16, available ring 2, used ring 4.
    if (a.desc % 16 !== 0 || a.avail % 2 !== 0 || a.used % 4 !== 0) return fail('misaligned ring addresses');
    // Stored as guest-physical addresses, like rust-vmm: they stay right when the
    // front-end maps the same guest memory at other addresses of its own.
    const n = q.size || 1;
    const desc = this.mem.userToGuest(a.desc, 16 * n);
    const avail = this.mem.userToGuest(a.avail, 4 + 2 * n);
    const used = this.mem.userToGuest(a.used, 4 + 8 * n);
    if (desc === undefined || avail === undefined || used === undefined) return fail('ring addresses outside guest memory');
    q.descAddr = desc;
    q.availAddr = avail;
    q.usedAddr = used;
    q.reconfigured();
    return undefined;
  }

  private setVringFd(msg: Message): Outcome {
    const bad = sized(msg.payload, U64_SIZE);
    if (bad) return bad;
    const v = Number(decodeU64(msg.payload) & 0xffffn);
    const index = v & VRING_INDEX_MASK;
    const q = this.queue(index);
    if (typeof q === 'string') return fail(q);
    const noFd = (v & VRING_NOFD) !== 0;
    if (noFd ? msg.fds.length !== 0 : msg.fds.length !== 1) {
      return fail(`${msg.fds.length} fds came with it, ${noFd ? 'none' : 'one'} belongs`);
    }
    const fd = noFd ? -1 : msg.fds.splice(0)[0]!;
    // Eventfds from QEMU are non-blocking already; any other fd must not be
    // able to block the thread on a read or write (a full pipe as call fd).
    if (fd >= 0) setNonblocking(fd);
    switch (msg.request) {
      case Req.SET_VRING_KICK:
        // The ring starts here (no fd: the front-end wants it polled).
        q.setKick(fd);
        q.started = true;
        if (!this.has(VirtioFeature.PROTOCOL_FEATURES)) q.enabled = true;
        this.pending.add(index);
        return undefined;
      case Req.SET_VRING_CALL:
        q.setCall(fd);
        return undefined;
      default:
        q.setErr(fd);
        return undefined;
    }
  }

  private getConfig(p: Buffer): Outcome {
    const c = decodeConfig(p);
    if (typeof c === 'string') return { fatal: c };
    // A zero-length payload is how a back-end says it cannot (the spec's error answer).
    const data = c.size <= MAX_CONFIG_SIZE ? this.device.readConfig?.(c.offset, c.size) : undefined;
    if (data === undefined || data.length !== c.size) {
      this.guestLog('warn', `vhost-user GET_CONFIG of ${c.size} bytes at ${c.offset} refused`);
      return { reply: encodeConfig(c.offset, c.flags, new Uint8Array(0)) };
    }
    return { reply: encodeConfig(c.offset, c.flags, data) };
  }

  private setConfig(p: Buffer): Outcome {
    const c = decodeConfig(p);
    if (typeof c === 'string') return fail(c);
    if (c.size > MAX_CONFIG_SIZE || !this.device.writeConfig?.(c.offset, c.data, c.flags)) {
      return fail(`config space ${c.offset}+${c.size} is not writable`);
    }
    return undefined;
  }
}

function setNonblocking(fd: number): void {
  try {
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  } catch {
    // not a file we can set flags on; reads and writes on it will just fail
  }
}

/** A failure when `p` is not exactly `size` bytes. */
function sized(p: Uint8Array, size: number): { fail: string } | undefined {
  return p.length === size ? undefined : { fail: `payload of ${p.length} bytes (${size} belong)` };
}

