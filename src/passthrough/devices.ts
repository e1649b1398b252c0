/**
 * What a lookup must know about the device a name leads to.
 *
 * Our own mount. If the daemon's mount (or a bind mount of it) sits inside
 * the source, a name there leads into it. A path walk that merely crosses
 * into a FUSE mount root sends no request, and neither does an O_PATH open,
 * but a statx that wants fresh attributes makes the kernel send GETATTR to
 * this daemon, which is blocked in that statx: every request would hang for
 * good. So lookups stat names with AT_STATX_DONT_SYNC, which FUSE answers
 * from its cache, and refuse a result on our own device with ELOOP.
 *
 * Filesystems that cache attributes. NFS, CIFS, FUSE, Ceph, AFS, 9p (and
 * overlayfs on top of them) honour DONT_SYNC by returning what they cached,
 * so an inode there is stat'ed again through its own fd, which is known not
 * to be on our device. Local filesystems ignore the flag: for them the one
 * DONT_SYNC statx is the fresh one and a lookup costs what it always did.
 * Unknown filesystems count as caching (a second statx rather than stale
 * attributes).
 */
import { StatxOff, fstatfs } from '../sys/index.js';
import type { DeviceNumber } from '../fs/filesystem.js';

/** statfs f_type of local filesystems whose getattr ignores AT_STATX_DONT_SYNC (linux/magic.h). */
const FRESH_WITHOUT_SYNC = new Set<number>([
  0xef53, // ext2/3/4
  0x58465342, // xfs
  0x9123683e, // btrfs
  0x01021994, // tmpfs
  0x858458f6, // ramfs
  0xf2f52010, // f2fs
  0xca451a4e, // bcachefs
  0x2fc12fc1, // zfs
  0x4d44, // vfat/msdos
  0x2011bab0, // exfat
  0x7366746e, // ntfs3
  0x73717368, // squashfs
  0xe0f5e1e2, // erofs
  0x9660, // iso9660
]);

export class Devices {
  private ownMajor = -1;
  private ownMinor = -1;
  /** The session's own mount (none for transports without a local mount). */
  setOwn(dev: DeviceNumber | undefined): void {
    this.ownMajor = dev?.major ?? -1;
    this.ownMinor = dev?.minor ?? -1;
  }

  /** Is the inode a statx buffer describes on our own mount? */
  isOwn(sx: Buffer): boolean {
    return sx.readUInt32LE(StatxOff.devMinor) === this.ownMinor && sx.readUInt32LE(StatxOff.devMajor) === this.ownMajor;
  }
}

/**
 * Whether a DONT_SYNC statx on the filesystem of `fd` may return cached
 * attributes (asked once per mount, see mounts.ts).
 */
export function cachesAttrs(fd: number): boolean {
  return !FRESH_WITHOUT_SYNC.has(fstatfs(fd).type);
}
