/** poll, pipes, splice, and fd passing over unix sockets. */
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
