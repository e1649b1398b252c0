/**
 * AF_UNIX sockets by address: socket, bind, connect, send, sendto, recv with a
 * sockaddr_un (for syslog's /dev/log and systemd's NOTIFY_SOCKET). The *Raw
 * calls return a byte count or a negative errno and never throw: they serve
 * paths where a failure is routine and must cost nothing (a full syslog queue).
 */
import { libc, lastErrno } from './libc.js';
import { SysError } from './errno.js';
import { AF_UNIX } from './constants.js';

const socket_ = libc.func('int socket(int domain, int type, int protocol)');
const bind_ = libc.func('int bind(int fd, const void *addr, uint32_t addrlen)');
const connect_ = libc.func('int connect(int fd, const void *addr, uint32_t addrlen)');
const send_ = libc.func('intptr_t send(int fd, const void *buf, size_t len, int flags)');
const sendto_ = libc.func('intptr_t sendto(int fd, const void *buf, size_t len, int flags, const void *addr, uint32_t addrlen)');
const recv_ = libc.func('intptr_t recv(int fd, void *buf, size_t len, int flags)');

const EINTR = 4;
const ENAMETOOLONG = 36;

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
