/**
 * The /dev/fuse character device: open, clone, and the raw read/write calls
 * the request loop makes. Reads and writes are synchronous koffi calls on the
 * calling thread; the loop decides when a thread may block in them.
 */
import { koffi, libc, lastErrno } from '../sys/libc.js';
import { errno } from '../sys/errno.js';
import { SysError } from '../sys/errno.js';

const c_open = libc.func('int open(const char *path, int flags, uint32_t mode)');
const c_close = libc.func('int close(int fd)');
const c_read = libc.func('intptr_t read(int fd, void *buf, size_t count)');
const c_write = libc.func('intptr_t write(int fd, const void *buf, size_t count)');
const c_ioctl_ptr = libc.func('int ioctl(int fd, unsigned long req, void *arg)');
const c_fcntl = libc.func('int fcntl(int fd, int cmd, int arg)');
const c_poll = libc.func('int poll(void *fds, unsigned long nfds, int timeout)');

const O_RDWR = 0o2;
const O_NONBLOCK = 0o4000;
const O_CLOEXEC = 0o2000000;
const F_GETFL = 3;
const F_SETFL = 4;
const POLLIN = 0x1;

/** _IOR(229, 0, uint32_t) */
const FUSE_DEV_IOC_CLONE = 0x8004e500;
/** _IOW(229, 1, struct fuse_backing_map) */
const FUSE_DEV_IOC_BACKING_OPEN = 0x4010e501;
/** _IOW(229, 2, uint32_t) */
const FUSE_DEV_IOC_BACKING_CLOSE = 0x4004e502;

export class FuseDevice {
  private readonly pollfd = Buffer.alloc(8);
  private readonly u32 = Buffer.alloc(16);
  private closed = false;

  constructor(readonly fd: number) {
    this.pollfd.writeInt32LE(fd, 0);
    this.pollfd.writeInt16LE(POLLIN, 4);
  }

  static open(path = '/dev/fuse'): FuseDevice {
    const fd = c_open(path, O_RDWR | O_CLOEXEC, 0) as number;
    if (fd < 0) throw new SysError(lastErrno(), `open ${path}`);
    return new FuseDevice(fd);
  }

  /** A second fd on the same connection (FUSE_DEV_IOC_CLONE): lets another thread read requests. */
  clone(): FuseDevice {
    const fd = c_open('/dev/fuse', O_RDWR | O_CLOEXEC, 0) as number;
    if (fd < 0) throw new SysError(lastErrno(), 'open /dev/fuse');
    this.u32.writeUInt32LE(this.fd, 0);
    if ((c_ioctl_ptr(fd, FUSE_DEV_IOC_CLONE, this.u32) as number) < 0) {
      const e = lastErrno();
      c_close(fd);
      throw new SysError(e, 'ioctl FUSE_DEV_IOC_CLONE');
    }
    return new FuseDevice(fd);
  }

  setNonblocking(on: boolean): void {
    const fl = c_fcntl(this.fd, F_GETFL, 0) as number;
    if (fl < 0) throw new SysError(lastErrno(), 'fcntl F_GETFL');
    const next = on ? fl | O_NONBLOCK : fl & ~O_NONBLOCK;
    if ((c_fcntl(this.fd, F_SETFL, next) as number) < 0) throw new SysError(lastErrno(), 'fcntl F_SETFL');
  }

  /** Read one request. Returns its length, or a negative errno (EAGAIN, ENODEV, ENOENT, EINTR…). */
  read(buf: Buffer): number {
    const n = Number(c_read(this.fd, buf, buf.length));
    return n < 0 ? -lastErrno() : n;
  }

  /** Write one reply or notification. Returns 0 or a negative errno (ENOENT: request gone). */
  write(buf: Buffer, len: number): number {
    const n = Number(c_write(this.fd, buf, len));
    return n < 0 ? -lastErrno() : 0;
  }

  /** Block this thread until a request is readable or the connection ends. */
  pollSync(timeoutMs: number): number {
    const r = c_poll(this.pollfd, 1, timeoutMs) as number;
    return r < 0 ? -lastErrno() : r;
  }

  /** Wait for readability on libuv's thread pool, leaving the event loop free. */
  pollAsync(timeoutMs: number): Promise<number> {
    const pfd = Buffer.alloc(8);
    pfd.writeInt32LE(this.fd, 0);
    pfd.writeInt16LE(POLLIN, 4);
    return new Promise((resolve) => {
      c_poll.async(pfd, 1, timeoutMs, (err: unknown, r: number) => resolve(err ? -errno.EIO! : r));
    });
  }

  /** Register `fd` as a passthrough backing file; returns the backing id. */
  backingOpen(fd: number): number {
    const map = Buffer.alloc(16);
    map.writeInt32LE(fd, 0);
    const id = c_ioctl_ptr(this.fd, FUSE_DEV_IOC_BACKING_OPEN, map) as number;
    if (id < 0) throw new SysError(lastErrno(), 'ioctl FUSE_DEV_IOC_BACKING_OPEN');
    return id;
  }

  backingClose(id: number): void {
    this.u32.writeUInt32LE(id, 0);
    if ((c_ioctl_ptr(this.fd, FUSE_DEV_IOC_BACKING_CLOSE, this.u32) as number) < 0) {
      throw new SysError(lastErrno(), 'ioctl FUSE_DEV_IOC_BACKING_CLOSE');
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    c_close(this.fd);
  }
}

