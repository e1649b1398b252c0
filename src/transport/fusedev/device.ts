/**
 * The /dev/fuse character device: open, clone, and the raw read/write calls
 * the request loop makes. Reads and writes are synchronous calls on the
 * calling thread that return negative errnos instead of throwing: EAGAIN and
 * ENOENT are routine here.
 */
import {
  AT_FDCWD, CAP, F_GETFL, F_SETFL, O_CLOEXEC, O_NONBLOCK, O_RDWR, POLLIN, close, fcntl, ioctlPtr, openat, pollAsync,
  pollFd, readRaw, withEffectiveCap, writeRaw,
} from '../../sys/index.js';
import { DevIoctl } from '../../fuse/abi.js';
import type { DeviceNumber } from '../../fs/filesystem.js';

export class FuseDevice {
  private readonly arg = Buffer.alloc(16);
  private closed = false;

  /**
   * @param mountDevice st_dev of the mount this connection serves (mountFuse
   *   fills it in from mountinfo), so the filesystem can avoid waiting on itself.
   */
  constructor(readonly fd: number, readonly mountDevice?: DeviceNumber) {}

  static open(path = '/dev/fuse'): FuseDevice {
    return new FuseDevice(openat(AT_FDCWD, path, O_RDWR | O_CLOEXEC));
  }

  /** A second fd on the same connection (FUSE_DEV_IOC_CLONE): lets another thread read requests. */
  clone(): FuseDevice {
    const fd = openat(AT_FDCWD, '/dev/fuse', O_RDWR | O_CLOEXEC);
    try {
      this.arg.writeUInt32LE(this.fd, 0);
      ioctlPtr(fd, DevIoctl.CLONE, this.arg);
    } catch (e) {
      close(fd);
      throw e;
    }
    return new FuseDevice(fd, this.mountDevice);
  }

  setNonblocking(on: boolean): void {
    const fl = fcntl(this.fd, F_GETFL);
    fcntl(this.fd, F_SETFL, on ? fl | O_NONBLOCK : fl & ~O_NONBLOCK);
  }

  /** Read one request. Returns its length, or a negative errno (EAGAIN, ENODEV, ENOENT, EINTR…). */
  read(buf: Buffer): number {
    return readRaw(this.fd, buf);
  }

  /** Write one reply or notification. Returns 0 or a negative errno (ENOENT: request gone). */
  write(buf: Buffer, len: number): number {
    const r = writeRaw(this.fd, buf, len);
    return r < 0 ? r : 0;
  }

  /** Block this thread until a request is readable or the connection ends; 0 on timeout. */
  pollSync(timeoutMs: number): number {
    return pollFd(this.fd, POLLIN, timeoutMs);
  }

  /** Wait for readability on libuv's thread pool, leaving the event loop free. */
  pollAsync(timeoutMs: number): Promise<number> {
    return pollAsync([{ fd: this.fd, events: POLLIN, revents: 0 }], timeoutMs).catch((e: { errno?: number }) => -(e.errno ?? 5));
  }

  /**
   * Register `fd` as a passthrough backing file; returns the backing id. The
   * kernel wants CAP_SYS_ADMIN for it; a serving thread that keeps it
   * permitted but not effective (passthrough/privileges.ts) has it raised for
   * this call only. The kernel keeps the credentials of this call for the
   * backing file's I/O.
   */
  backingOpen(fd: number): number {
    // struct fuse_backing_map { s32 fd; u32 flags; u64 padding; }
    this.arg.fill(0);
    this.arg.writeInt32LE(fd, 0);
    return withEffectiveCap(CAP.SYS_ADMIN, () => ioctlPtr(this.fd, DevIoctl.BACKING_OPEN, this.arg));
  }

  /** The kernel checks CAP_SYS_ADMIN here too: raised as for backingOpen. */
  backingClose(id: number): void {
    this.arg.writeUInt32LE(id, 0);
    withEffectiveCap(CAP.SYS_ADMIN, () => ioctlPtr(this.fd, DevIoctl.BACKING_CLOSE, this.arg.subarray(0, 4)));
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    close(this.fd);
  }
}
