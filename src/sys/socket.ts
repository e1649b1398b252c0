/**
 * AF_UNIX sockets by address: socket, bind, listen, accept, connect, send,
 * sendto, recv with a sockaddr_un (for syslog's /dev/log, systemd's
 * NOTIFY_SOCKET and the vhost-user socket a virtual machine connects to). The *Raw
 * calls return a byte count or a negative errno and never throw: they serve
 * paths where a failure is routine and must cost nothing (a full syslog queue).
 */
import { libc, lastErrno } from './libc.js';
import { SysError, errno as E } from './errno.js';
import { AF_UNIX } from './constants.js';

const socket_ = libc.func('int socket(int domain, int type, int protocol)');
const bind_ = libc.func('int bind(int fd, const void *addr, uint32_t addrlen)');
const connect_ = libc.func('int connect(int fd, const void *addr, uint32_t addrlen)');
const send_ = libc.func('intptr_t send(int fd, const void *buf, size_t len, int flags)');
const sendto_ = libc.func('intptr_t sendto(int fd, const void *buf, size_t len, int flags, const void *addr, uint32_t addrlen)');
const recv_ = libc.func('intptr_t recv(int fd, void *buf, size_t len, int flags)');
const listen_ = libc.func('int listen(int fd, int backlog)');
const accept4_ = libc.func('int accept4(int fd, void *addr, void *addrlen, int flags)');
const getsockopt_ = libc.func('int getsockopt(int fd, int level, int name, void *val, void *len)');

const EINTR = E.EINTR!;
const ENAMETOOLONG = E.ENAMETOOLONG!;

/** sizeof(sun_path) in struct sockaddr_un. */
export const SUN_PATH_MAX = 108;

/** An encoded struct sockaddr_un and the address length to pass with it. */
export interface SockaddrUn {
  readonly buf: Buffer;
  readonly len: number;
  /** The address as given, for messages. */
  readonly path: string;
}

/**
 * Encodes a unix socket address. A path starting with NUL names the abstract
 * namespace: its length is exact (no terminator; the NULs are part of the name).
 * Throws SysError ENAMETOOLONG when it does not fit in sun_path.
 */
export function sockaddrUn(path: string): SockaddrUn {
  const name = Buffer.from(path, 'utf8');
  const abstract = name.length > 0 && name[0] === 0;
  // A filesystem path needs room for its NUL terminator.
  if (name.length + (abstract ? 0 : 1) > SUN_PATH_MAX || name.length === 0) throw new SysError(ENAMETOOLONG, 'sockaddr_un');
  const buf = Buffer.alloc(2 + SUN_PATH_MAX);
  buf.writeUInt16LE(AF_UNIX, 0);
  name.copy(buf, 2);
  return { buf, len: 2 + name.length + (abstract ? 0 : 1), path };
}

export function socket(domain: number, type: number, protocol = 0): number {
  const fd = socket_(domain, type, protocol) as number;
  if (fd < 0) throw new SysError(lastErrno(), 'socket');
  return fd;
}

export function bind(fd: number, addr: SockaddrUn): void {
  if ((bind_(fd, addr.buf, addr.len) as number) < 0) throw new SysError(lastErrno(), 'bind');
}

export function listen(fd: number, backlog: number): void {
  if ((listen_(fd, backlog) as number) < 0) throw new SysError(lastErrno(), 'listen');
}

/**
 * accept4(2) without the peer's address; `flags` SOCK_CLOEXEC, SOCK_NONBLOCK.
 * The new fd, or a negative errno (-EAGAIN on a non-blocking listener with no
 * connection waiting); never throws. EINTR is retried.
 */
export function acceptRaw(fd: number, flags: number): number {
  for (;;) {
    const r = accept4_(fd, null, null, flags) as number;
    if (r >= 0) return r;
    const e = lastErrno();
    if (e !== EINTR) return -e;
  }
}

const optBuf = Buffer.alloc(8);
const optLen = Buffer.alloc(4);

/** getsockopt(2) of an int option (SOL_SOCKET/SO_TYPE, SO_ACCEPTCONN…). Throws SysError. */
export function getsockoptInt(fd: number, level: number, name: number): number {
  optBuf.fill(0);
  optLen.writeUInt32LE(4, 0);
  if ((getsockopt_(fd, level, name, optBuf, optLen) as number) < 0) throw new SysError(lastErrno(), 'getsockopt');
  return optBuf.readInt32LE(0);
}

/** connect(2); for AF_UNIX datagram sockets it completes at once (EINTR is retried). */
export function connect(fd: number, addr: SockaddrUn): void {
  for (;;) {
    if ((connect_(fd, addr.buf, addr.len) as number) >= 0) return;
    const e = lastErrno();
    if (e !== EINTR) throw new SysError(e, 'connect');
  }
}

/** send(2) of the first `len` bytes of `buf` on a connected socket: bytes sent or -errno. */
export function sendRaw(fd: number, buf: Uint8Array, len: number, flags: number): number {
  const r = send_(fd, buf, len, flags) as number;
  return r < 0 ? -lastErrno() : r;
}

/** sendto(2) of the first `len` bytes of `buf` to `addr`: bytes sent or -errno. */
export function sendtoRaw(fd: number, buf: Uint8Array, len: number, flags: number, addr: SockaddrUn): number {
  const r = sendto_(fd, buf, len, flags, addr.buf, addr.len) as number;
  return r < 0 ? -lastErrno() : r;
}

/** recv(2) into `buf`: bytes received (a datagram longer than `buf` is truncated) or -errno. */
export function recvRaw(fd: number, buf: Uint8Array, flags: number): number {
  const r = recv_(fd, buf, buf.byteLength, flags) as number;
  return r < 0 ? -lastErrno() : r;
}
