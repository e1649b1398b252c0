/**
 * Kernel notifications: tell the kernel to drop or replace what it caches.
 * Each call writes one message to the device and returns once the kernel
 * has processed it. Do not call invalEntry/delete for a directory from inside
 * a request on that same directory: the kernel may hold its lock and wait.
 */
import { errno as E, SysError } from '../sys/errno.js';
import {
  encodeNotifyDelete, encodeNotifyInvalEntry, encodeNotifyInvalInode, encodeNotifyRetrieve, encodeNotifyStore,
} from './codec.js';

/** Where notifications go: a transport that can send the kernel unsolicited messages (/dev/fuse can; a virtio-fs device without a notification queue cannot). */
export interface NotifyChannel {
  /** One message; 0 or a negative errno. */
  write(buf: Buffer, len: number): number;
}

export class Notifier {
  private readonly buf: Buffer;
  private nextUnique = 1n;
  private readonly retrieves = new Map<bigint, (data: Buffer) => void>();

  constructor(private readonly chan: NotifyChannel, bufSize: number) {
    this.buf = Buffer.allocUnsafe(bufSize);
  }

  private write(len: number, what: string): void {
    const r = this.chan.write(this.buf, len);
    if (r < 0) throw new SysError(-r, `notify ${what}`);
  }

  /** Drop cached attributes, and cached data in [offset, offset+len) (len 0: to the end; offset -1: data too but no attributes). */
  invalInode(node: bigint, offset = 0n, len = 0n): void {
    this.write(encodeNotifyInvalInode(this.buf, node, offset, len), 'inval_inode');
  }

  /** Drop the dentry `name` in `parent` (flags: FUSE_EXPIRE_ONLY to only expire it). */
  invalEntry(parent: bigint, name: Buffer | string, flags = 0): void {
    const n = typeof name === 'string' ? Buffer.from(name) : name;
    this.write(encodeNotifyInvalEntry(this.buf, parent, n, flags), 'inval_entry');
  }

  /** Tell the kernel `name` in `parent`, which was `child`, was deleted. */
  delete(parent: bigint, child: bigint, name: Buffer | string): void {
    const n = typeof name === 'string' ? Buffer.from(name) : name;
    this.write(encodeNotifyDelete(this.buf, parent, child, n), 'delete');
  }

  /** Put data into the kernel's page cache for `node` at `offset`. */
  store(node: bigint, offset: bigint, data: Buffer): void {
    if (data.length + 64 > this.buf.length) throw new SysError(E.EINVAL!, 'notify store');
    this.write(encodeNotifyStore(this.buf, node, offset, data), 'store');
  }

  /** Ask the kernel for what it caches of `node`; resolves with the bytes it had. */
  retrieve(node: bigint, offset: bigint, size: number): Promise<Buffer> {
    const unique = this.nextUnique++;
    return new Promise((resolve, reject) => {
      this.retrieves.set(unique, resolve);
      try {
        this.write(encodeNotifyRetrieve(this.buf, unique, node, offset, size), 'retrieve');
      } catch (e) {
        this.retrieves.delete(unique);
        reject(e);
      }
    });
  }

  /** FUSE_NOTIFY_REPLY from the kernel, answering a retrieve. */
  onReply(unique: bigint, _node: bigint, _offset: bigint, data: Buffer): void {
    const r = this.retrieves.get(unique);
    if (!r) return;
    this.retrieves.delete(unique);
    r(Buffer.from(data));
  }
}
