/** poll, pipes, eventfds, splice, and fd passing over unix sockets. */
import { libc, lastErrno } from './libc.js';
import { SysError } from './errno.js';
import { addressOf } from './util.js';
import { SOL_SOCKET, SCM_RIGHTS, MSG_CMSG_CLOEXEC, MSG_NOSIGNAL, MSG_CTRUNC } from './constants.js';
import {
  SIZEOF_POLLFD, SIZEOF_IOVEC, SIZEOF_MSGHDR, SIZEOF_CMSGHDR, CMSG_LEN, CMSG_SPACE,
  encodePollfds, decodePollfds, writeI64, offsetPointers, readU64, type PollFd,
} from './structs.js';
import { callAsync } from './lock.js';

const poll_ = libc.func('int poll(void *fds, uint64_t nfds, int timeout)');
const socketpair_ = libc.func('int socketpair(int domain, int type, int protocol, void *sv)');
const sendmsg_ = libc.func('intptr_t sendmsg(int fd, const void *msg, int flags)');
const recvmsg_ = libc.func('intptr_t recvmsg(int fd, void *msg, int flags)');
const pipe2_ = libc.func('int pipe2(void *fds, int flags)');
const splice_ = libc.func('intptr_t splice(int fdin, void *offin, int fdout, void *offout, size_t len, uint32_t flags)');
const vmsplice_ = libc.func('intptr_t vmsplice(int fd, const void *iov, size_t nr, uint32_t flags)');
const close_ = libc.func('int close(int fd)');
const eventfd_ = libc.func('int eventfd(uint32_t initval, int flags)');

const EBADMSG = 74;
const EINTR = 4;

const pair = new Int32Array(2);
let pollBuf = Buffer.alloc(16 * SIZEOF_POLLFD);
let iovBuf = Buffer.alloc(16 * SIZEOF_IOVEC);

// ---- poll -----------------------------------------------------------------------

/** poll(2) on `fds`; sets each entry's `revents`; returns how many are ready (0 on timeout). */
export function poll(fds: PollFd[], timeout: number): number {
  if (pollBuf.length < fds.length * SIZEOF_POLLFD) pollBuf = Buffer.alloc(fds.length * SIZEOF_POLLFD);
  encodePollfds(fds, pollBuf);
  const r = poll_(pollBuf, fds.length, timeout) as number;
  if (r < 0) throw new SysError(lastErrno(), 'poll');
  decodePollfds(pollBuf, fds);
  return r;
}

const pollOne = Buffer.alloc(SIZEOF_POLLFD);

/** poll(2) for one fd: how many are ready (0 on timeout) or a negative errno; never throws. */
export function pollFd(fd: number, events: number, timeout: number): number {
  pollOne.writeInt32LE(fd, 0);
  pollOne.writeInt16LE(events, 4);
  pollOne.writeInt16LE(0, 6);
  const r = poll_(pollOne, 1, timeout) as number;
  return r < 0 ? -lastErrno() : r;
}

/**
 * poll(2) on a pool thread. EINTR is retried with the remaining timeout.
 * `revents` of `fds` is updated when the promise resolves.
 */
export async function pollAsync(fds: PollFd[], timeout: number): Promise<number> {
  const b = encodePollfds(fds);
  const deadline = timeout >= 0 ? Date.now() + timeout : 0;
  for (;;) {
    try {
      const left = timeout < 0 ? -1 : Math.max(0, deadline - Date.now());
      const r = await callAsync(poll_ as unknown as { async: (...a: unknown[]) => void }, 'poll', [b, fds.length, left], false);
      decodePollfds(b, fds);
      return r;
    } catch (e) {
      if (!(e instanceof SysError) || e.errno !== EINTR) throw e;
    }
  }
}

// ---- pipes and sockets -------------------------------------------------------------------

export function pipe2(flags = 0): [number, number] {
  if ((pipe2_(pair, flags) as number) < 0) throw new SysError(lastErrno(), 'pipe2');
  return [pair[0]!, pair[1]!];
}

export function socketpair(domain: number, type: number, protocol = 0): [number, number] {
  if ((socketpair_(domain, type, protocol, pair) as number) < 0) throw new SysError(lastErrno(), 'socketpair');
  return [pair[0]!, pair[1]!];
}

/** splice(2); a null offset uses the fd's position (required for pipe ends). */
export function splice(
  fdIn: number, offIn: number | bigint | null, fdOut: number, offOut: number | bigint | null, len: number, flags = 0,
): number {
  const [pin, pout] = offsetPointers(offIn, offOut);
  const r = splice_(fdIn, pin, fdOut, pout, len, flags) as number;
  if (r < 0) throw new SysError(lastErrno(), 'splice');
  return r;
}

/** vmsplice(2) of `bufs` into a pipe (without SPLICE_F_GIFT the data is copied). */
export function vmsplice(fd: number, bufs: readonly ArrayBufferView[], flags = 0): number {
  if (iovBuf.length < bufs.length * SIZEOF_IOVEC) iovBuf = Buffer.alloc(bufs.length * SIZEOF_IOVEC);
  for (let i = 0; i < bufs.length; i++) {
    writeI64(iovBuf, i * 16, addressOf(bufs[i]!));
    writeI64(iovBuf, i * 16 + 8, bufs[i]!.byteLength);
  }
  const r = vmsplice_(fd, iovBuf, bufs.length, flags) as number;
  if (r < 0) throw new SysError(lastErrno(), 'vmsplice');
  return r;
}

// ---- eventfd --------------------------------------------------------------------------

export const EFD_SEMAPHORE = 0x1;
export const EFD_NONBLOCK = 0o4000;
export const EFD_CLOEXEC = 0o2000000;

/** eventfd(2): a counter to signal through (write adds, read takes all). Throws SysError. */
export function eventfd(initval = 0, flags = EFD_CLOEXEC | EFD_NONBLOCK): number {
  const fd = eventfd_(initval >>> 0, flags) as number;
  if (fd < 0) throw new SysError(lastErrno(), 'eventfd');
  return fd;
}

// ---- SCM_RIGHTS ---------------------------------------------------------------------------

// Fixed message buffers, set up once: msghdr -> iovec -> 1-byte payload, and a
// control buffer with room for several fds (extra ones are closed).
const MAX_FDS = 8;
const CONTROL_SPACE = CMSG_SPACE(4 * MAX_FDS);
const msg = Buffer.alloc(SIZEOF_MSGHDR);
const iov = Buffer.alloc(SIZEOF_IOVEC);
const byte = Buffer.alloc(8);
const control = Buffer.alloc(CONTROL_SPACE);
writeI64(iov, 0, addressOf(byte));
writeI64(iov, 8, 1);

function setupMsg(controllen: number): void {
  msg.fill(0);
  writeI64(msg, 16, addressOf(iov));
  writeI64(msg, 24, 1);
  writeI64(msg, 32, addressOf(control));
  writeI64(msg, 40, controllen);
}

/**
 * Sends `fd` over a unix socket with one byte of data (`data`, default 0): a
 * stream socket needs at least one byte for the control message to travel.
 */
export function sendFd(sock: number, fd: number, data = 0): void {
  setupMsg(CMSG_SPACE(4));
  control.fill(0);
  writeI64(control, 0, CMSG_LEN(4));
  control.writeInt32LE(SOL_SOCKET, 8);
  control.writeInt32LE(SCM_RIGHTS, 12);
  control.writeInt32LE(fd, SIZEOF_CMSGHDR);
  byte[0] = data;
  for (;;) {
    const r = sendmsg_(sock, msg, MSG_NOSIGNAL) as number;
    if (r >= 0) return;
    const e = lastErrno();
    if (e !== EINTR) throw new SysError(e, 'sendmsg');
  }
}

/**
 * Receives one fd (close-on-exec) sent with SCM_RIGHTS. Returns -1 on end of
 * stream; throws EBADMSG when a message arrives without an fd. If several fds
 * came in one message, the first is returned and the others are closed.
 */
export function recvFd(sock: number, flags = 0): number {
  setupMsg(CONTROL_SPACE);
  control.fill(0);
  let n: number;
  for (;;) {
    n = recvmsg_(sock, msg, flags | MSG_CMSG_CLOEXEC) as number;
    if (n >= 0) break;
    const e = lastErrno();
    if (e !== EINTR) throw new SysError(e, 'recvmsg');
  }
  const controllen = readU64(msg, 40);
  let fd = -1;
  let off = 0;
  while (off + SIZEOF_CMSGHDR <= controllen) {
    const len = readU64(control, off);
    if (len < SIZEOF_CMSGHDR || off + len > controllen) break;
    if (control.readInt32LE(off + 8) === SOL_SOCKET && control.readInt32LE(off + 12) === SCM_RIGHTS) {
      for (let p = off + SIZEOF_CMSGHDR; p + 4 <= off + len; p += 4) {
        const got = control.readInt32LE(p);
        if (fd < 0) fd = got;
        else close_(got);
      }
    }
    off += (len + 7) & ~7;
  }
  if (fd >= 0) return fd;
  if (n === 0) return -1;
  throw new SysError(EBADMSG, msg.readInt32LE(48) & MSG_CTRUNC ? 'recvmsg (control truncated)' : 'recvmsg (no fd)');
}

/** What recvWithFds got: a byte count or -errno, and whether fds were lost. */
export interface RecvWithFds {
  /** Bytes received (0: end of stream), or a negative errno (-EAGAIN…). */
  n: number;
  /**
   * More fds came than `maxFds` (MSG_CTRUNC): the kernel closed the ones
   * that did not fit; those that did are in `fds`.
   */
  truncated: boolean;
}

let rxControl = Buffer.alloc(CMSG_SPACE(4 * MAX_FDS));
const rxMsg = Buffer.alloc(SIZEOF_MSGHDR);
const rxIov = Buffer.alloc(SIZEOF_IOVEC);

/**
 * recvmsg(2) into `buf` with room for (at least) `maxFds` SCM_RIGHTS fds, received
 * close-on-exec and appended to `fds` (the caller owns and must close them).
 * Never throws; EINTR is retried. On a stream socket the kernel hands over
 * fds only with the bytes they were sent with, so reading one message's bytes
 * at a time keeps every message's fds apart.
 */
export function recvWithFds(sock: number, buf: Uint8Array, fds: number[], maxFds: number, flags = 0): RecvWithFds {
  const space = CMSG_SPACE(4 * Math.max(1, maxFds));
  if (rxControl.length < space) rxControl = Buffer.alloc(space);
  rxControl.fill(0, 0, space);
  rxMsg.fill(0);
  writeI64(rxIov, 0, addressOf(buf));
  writeI64(rxIov, 8, buf.byteLength);
  writeI64(rxMsg, 16, addressOf(rxIov));
  writeI64(rxMsg, 24, 1);
  writeI64(rxMsg, 32, addressOf(rxControl));
  writeI64(rxMsg, 40, space);
  let n: number;
  for (;;) {
    n = recvmsg_(sock, rxMsg, flags | MSG_CMSG_CLOEXEC) as number;
    if (n >= 0) break;
    const e = lastErrno();
    if (e !== EINTR) return { n: -e, truncated: false };
  }
  const controllen = readU64(rxMsg, 40);
  let off = 0;
  while (off + SIZEOF_CMSGHDR <= controllen) {
    const len = readU64(rxControl, off);
    if (len < SIZEOF_CMSGHDR || off + len > controllen) break;
    if (rxControl.readInt32LE(off + 8) === SOL_SOCKET && rxControl.readInt32LE(off + 12) === SCM_RIGHTS) {
      for (let p = off + SIZEOF_CMSGHDR; p + 4 <= off + len; p += 4) fds.push(rxControl.readInt32LE(p));
    }
    off += (len + 7) & ~7;
  }
  return { n, truncated: (rxMsg.readInt32LE(48) & MSG_CTRUNC) !== 0 };
}

let txControl = Buffer.alloc(CMSG_SPACE(4 * MAX_FDS));
const txMsg = Buffer.alloc(SIZEOF_MSGHDR);
const txIov = Buffer.alloc(SIZEOF_IOVEC);

/**
 * sendmsg(2) of buf[0, len) with `fds` attached as one SCM_RIGHTS message
 * (none when empty), MSG_NOSIGNAL added to `flags`. Returns the bytes sent
 * or a negative errno; never throws. EINTR is retried.
 */
export function sendWithFds(sock: number, buf: Uint8Array, len: number, fds: readonly number[], flags = 0): number {
  txMsg.fill(0);
  writeI64(txIov, 0, addressOf(buf));
  writeI64(txIov, 8, len);
  writeI64(txMsg, 16, addressOf(txIov));
  writeI64(txMsg, 24, 1);
  if (fds.length > 0) {
    const space = CMSG_SPACE(4 * fds.length);
    if (txControl.length < space) txControl = Buffer.alloc(space);
    txControl.fill(0, 0, space);
    writeI64(txControl, 0, CMSG_LEN(4 * fds.length));
    txControl.writeInt32LE(SOL_SOCKET, 8);
    txControl.writeInt32LE(SCM_RIGHTS, 12);
    for (let i = 0; i < fds.length; i++) txControl.writeInt32LE(fds[i]!, SIZEOF_CMSGHDR + 4 * i);
    writeI64(txMsg, 32, addressOf(txControl));
    writeI64(txMsg, 40, space);
  }
  for (;;) {
    const r = sendmsg_(sock, txMsg, flags | MSG_NOSIGNAL) as number;
    if (r >= 0) return r;
    const e = lastErrno();
    if (e !== EINTR) return -e;
  }
}
