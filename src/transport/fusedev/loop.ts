/**
 * The /dev/fuse transport's request loop: read a request from the device,
 * hand it to the protocol (fuse/server.ts) with a sink that writes the reply
 * back to the same device, repeat until the connection ends.
 *
 * Buffers: a request answered synchronously leaves its buffer free for the
 * next read; one that went async keeps it (handle() says so) until its reply
 * is written, and the loop reads into a spare meanwhile. Each request gets a
 * small sink of its own: every reply goes to the same fd, but an async
 * request's sink also gives its buffer back when it is answered.
 *
 * Waiting: when there is nothing to read the loop either blocks the thread in
 * poll(2) (`ownThread`, for a thread that does nothing else) or waits on the
 * thread pool so the event loop stays live.
 */
import { errno as E, errnoName } from '../../sys/errno.js';
import type { Server } from '../../fuse/server.js';
import type { ReplySink } from '../../fuse/sink.js';

/** What the loop needs from a byte-stream FUSE channel (the /dev/fuse device or a test double). */
export interface Channel {
  /** One request into buf; its length, or a negative errno. */
  read(buf: Buffer): number;
  /** One reply; 0 or a negative errno. */
  write(buf: Buffer, len: number): number;
  pollAsync(timeoutMs: number): Promise<number>;
  setNonblocking(on: boolean): void;
  /** Sleep until readable or timeout (0 on timeout); lets a loop own its thread. */
  pollSync?(timeoutMs: number): number;
}

/** A thread-owning loop lets the event loop run this often while idle… */
const PARK_MS = 200;
/** …and under sustained load. */
const YIELD_MS = 50;
/** Request buffers kept for reuse beyond the one being read into. */
const SPARE_BUFFERS = 4;

type Log = (level: 'error' | 'warn' | 'info' | 'debug', msg: string) => void;

export class FuseDevLoop {
  private inBuf: Buffer;
  private readonly spare: Buffer[] = [];
  private stopping = false;
  private pollInFlight: Promise<number> | undefined;
  /** Resolved whenever an async request is answered (the loop may be waiting for that). */
  private settled: (() => void) | undefined;
  private inFlight = 0;

  constructor(private readonly protocol: Server, private readonly chan: Channel, private readonly log: Log) {
    this.inBuf = Buffer.allocUnsafe(protocol.bufSize);
  }

  /** Ask the loop to stop after the current request. */
  stop(): void {
    this.stopping = true;
  }

  /**
   * Serve until the connection ends (ENODEV: unmounted or aborted) or stop()
   * is called; then wait for requests in flight and end the protocol.
   *
   * With `ownThread`, the loop owns its thread: while idle it sleeps in
   * poll(2) rather than in the event loop, so a request costs no event-loop
   * turn and no thread hop. It still lets the event loop run every
   * PARK_MS while idle and every YIELD_MS under load, so signal handlers,
   * timers and async methods keep working (on the main thread too). Without
   * it, the loop waits for requests on the thread pool and yields often:
   * for filesystems that share their thread with other work.
   */
  async run(ownThread = false): Promise<void> {
    const chan = this.chan;
    chan.setNonblocking(true);
    const park = ownThread && chan.pollSync !== undefined;
    let sinceYield = 0;
    let lastYield = performance.now();
    const yieldNow = async () => {
      sinceYield = 0;
      lastYield = performance.now();
      await new Promise<void>((r) => setImmediate(r));
    };
    // When requests come one at a time, each read would fail with EAGAIN
    // before the poll; so after a wait, poll first (two syscalls a request,
    // not three), probing every few requests whether a queue has built up.
    let pollFirst = false;
    let probe = 0;
    for (;;) {
      if (this.stopping || this.protocol.stopRequested) break;
      const polled = pollFirst && park && this.inFlight === 0 && (++probe & 7) !== 0;
      if (polled) {
        const r = chan.pollSync!(PARK_MS);
        if (r === 0) await yieldNow();
        if (r <= 0) continue;
      }
      const n = chan.read(this.inBuf);
      if (n > 0) {
        if (!polled) pollFirst = false;
        this.serveOne(n);
        // Let promise continuations (async replies) run.
        if (this.inFlight > 0) await null;
        if (++sinceYield >= 64 && (!park || performance.now() - lastYield > YIELD_MS)) await yieldNow();
        continue;
      }
      if (n === -E.EAGAIN!) {
        if (park && this.inFlight === 0) {
          pollFirst = true;
          if (chan.pollSync!(PARK_MS) === 0) await yieldNow();
        } else {
          await this.waitReadableOrSettled();
        }
        continue;
      }
      if (n === -E.EINTR! || n === -E.ENOENT!) continue; // interrupted read / request vanished
      if (n === -E.ENODEV! || n === -E.ECONNABORTED!) break; // connection is gone
      this.log('error', `reading /dev/fuse: ${errnoName(-n)}`);
      break;
    }
    await this.protocol.end();
  }

  /** Hand the request in inBuf[0, n) to the protocol; if it keeps the buffer, read on into another. */
  private serveOne(n: number): void {
    const buf = this.inBuf;
    let answered = false;
    let kept = false;
    const own: ReplySink = {
      reply: (b, len) => {
        answered = true;
        const r = this.chan.write(b, len);
        if (kept) this.done(buf);
        return r;
      },
      none: () => {
        answered = true;
        if (kept) this.done(buf);
      },
    };
    kept = this.protocol.handle(buf, n, own) && !answered;
    if (!kept) return;
    this.inFlight++;
    this.inBuf = this.spare.pop() ?? Buffer.allocUnsafe(this.protocol.bufSize);
  }

  /** An async request was answered: its buffer can be read into again. */
  private done(buf: Buffer): void {
    this.inFlight--;
    if (this.spare.length < SPARE_BUFFERS) this.spare.push(buf);
    const s = this.settled;
    this.settled = undefined;
    s?.();
  }

  private async waitReadableOrSettled(): Promise<void> {
    this.pollInFlight ??= this.chan.pollAsync(-1).finally(() => {
      this.pollInFlight = undefined;
    });
    if (this.inFlight === 0) {
      await this.pollInFlight;
      return;
    }
    await Promise.race([this.pollInFlight, new Promise<void>((r) => (this.settled = r))]);
  }
}
