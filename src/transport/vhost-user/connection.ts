/**
 * One vhost-user connection: whole messages in (header, payload and the fds
 * sent with them), replies out. The socket is non-blocking and read only
 * when poll(2) says so; a message that arrives in pieces is assembled across
 * calls, so a front-end that stalls halfway through a message stalls only its
 * own connection, never the thread.
 *
 * What must stay true:
 * - every fd received is either handed out with its Message (whose receiver
 *   then owns it) or closed here: on a malformed header, at end of stream,
 *   and by close() for a message still being assembled;
 * - a message's fds are the ones that came with its own bytes: the kernel
 *   hands SCM_RIGHTS over only with the bytes they were sent with, and this
 *   reads no further than the end of the current message.
 */
import { errno as E } from '../../sys/errno.js';
import { close, errnoName, pollFd, POLLOUT, recvWithFds, sendWithFds, MSG_DONTWAIT } from '../../sys/index.js';
import { decodeHeader, HEADER_SIZE, MAX_FDS, MAX_PAYLOAD, type Header } from './message.js';

const EAGAIN = E.EAGAIN!;
const ECONNRESET = 104;

/** How long a reply may wait for room in the socket before the front-end counts as gone. */
const SEND_TIMEOUT_MS = 5000;

export interface Message extends Header {
  /** The payload (its own copy: it outlives the receive buffer). */
  payload: Buffer;
  /**
   * The fds that came with the message, owned by whoever handles it: take
   * the ones used (splice them out), and close the rest (closeFds).
   */
  fds: number[];
  /** More fds came than MAX_FDS: the kernel closed the ones beyond, `fds` has the others. */
  fdsTruncated: boolean;
}

/** What receive() found: a message, nothing yet, the end, or a reason to end. */
export type Received = Message | 'again' | 'closed' | { fatal: string };

/** Closes every fd in `fds` and empties it. Never throws. */
export function closeFds(fds: number[]): void {
  for (const fd of fds) {
    try {
      close(fd);
    } catch {
      // EBADF cannot happen for fds we own; nothing else is worth reporting.
    }
  }
  fds.length = 0;
}

export class Connection {
  private readonly rx = Buffer.alloc(HEADER_SIZE + MAX_PAYLOAD);
  private have = 0;
  private need = HEADER_SIZE;
  private header: Header | undefined;
  private fds: number[] = [];
  private truncated = false;
  private closed = false;

  /** Takes ownership of `fd`, a connected stream socket (made non-blocking by the caller or not: every call here is). */
  constructor(readonly fd: number) {}

  /**
   * Reads what is there of the next message. Returns it once complete;
   * 'again' when the socket has no more for now; 'closed' at end of stream
   * between messages; { fatal } when the stream cannot go on (end of stream
   * inside a message, a size beyond MAX_PAYLOAD, a socket error). Never throws.
   */
  receive(): Received {
    if (this.closed) return 'closed';
    for (;;) {
      const r = recvWithFds(this.fd, this.rx.subarray(this.have, this.need), this.fds, MAX_FDS, MSG_DONTWAIT);
      if (r.truncated) this.truncated = true;
      if (r.n === -EAGAIN) return 'again';
      if (r.n < 0) {
        this.discard();
        return r.n === -ECONNRESET ? 'closed' : { fatal: `recvmsg: ${errnoName(-r.n)}` };
      }
      if (r.n === 0) {
        const midMessage = this.have > 0 || this.fds.length > 0;
        this.discard();
        return midMessage ? { fatal: 'end of stream inside a message' } : 'closed';
      }
      this.have += r.n;
      if (this.have < this.need) continue;
      if (this.header === undefined) {
        this.header = decodeHeader(this.rx);
        if (this.header.size > MAX_PAYLOAD) {
          const size = this.header.size;
          this.discard();
          return { fatal: `message announces a ${size}-byte payload (at most ${MAX_PAYLOAD})` };
        }
        this.need = HEADER_SIZE + this.header.size;
        if (this.have < this.need) continue;
      }
      const msg: Message = {
        ...this.header,
        payload: Buffer.from(this.rx.subarray(HEADER_SIZE, this.need)),
        fds: this.fds,
        fdsTruncated: this.truncated,
      };
      this.reset();
      return msg;
    }
  }

  /**
   * Writes all of `buf` (one reply). Waits up to SEND_TIMEOUT_MS for room in
   * the socket; false when it could not (the caller ends the connection).
   */
  send(buf: Buffer): boolean {
    if (this.closed) return false;
    let off = 0;
    const deadline = Date.now() + SEND_TIMEOUT_MS;
    while (off < buf.length) {
      const n = sendWithFds(this.fd, off === 0 ? buf : buf.subarray(off), buf.length - off, [], MSG_DONTWAIT);
      if (n > 0) {
        off += n;
        continue;
      }
      const left = deadline - Date.now();
      if (n !== -EAGAIN || left <= 0 || pollFd(this.fd, POLLOUT, left) <= 0) return false;
    }
    return true;
  }

  /** Closes the socket and any fds of a message not yet complete. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.discard();
    closeFds([this.fd]);
  }

  private reset(): void {
    this.have = 0;
    this.need = HEADER_SIZE;
    this.header = undefined;
    this.fds = [];
    this.truncated = false;
  }

  private discard(): void {
    closeFds(this.fds);
    this.reset();
  }
}
