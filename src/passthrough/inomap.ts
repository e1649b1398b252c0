/**
 * The inode numbers clients see.
 *
 * Everything under a /dev/fuse mount has the mount's one st_dev, so st_ino
 * alone must tell files apart there: cp -a, tar, rsync and du take two names
 * with equal (st_dev, st_ino) for hard links of one file, and find and du
 * take a directory with the (st_dev, st_ino) of one of its ancestors for a
 * loop. Host inode numbers are unique per device only, and every filesystem
 * mounted inside the source (two tmpfs mounts number their inodes alike)
 * would reuse them. The kernel's FUSE_ATTR_SUBMOUNT, which gives each nested
 * mount its own st_dev, is honoured only on virtio-fs connections. So the
 * number the client sees is made from the host's (device, inode):
 *
 *  - the source's own device (the root's) keeps its inode numbers, when they
 *    are below 2^48: a mount of one plain filesystem shows the numbers the
 *    host shows;
 *  - every other device gets an index 1..65534, in the order first seen, and
 *    its inode `ino` (below 2^48) becomes (index << 48) | ino;
 *  - anything else (an inode number of 2^48 or more, on any device, or a
 *    device past the 65534th) gets the next number of a table in the
 *    0xFFFF << 48 space, remembered for the session.
 *
 * What must stay true: one host (device, inode) has one number for the whole
 * session (the kernel and tools compare numbers taken at different times), and
 * two different host inodes never share one. The three ranges are disjoint by
 * their top 16 bits (0; 1..0xFFFE; 0xFFFF), which is why the table is
 * consulted for every large number, the source's own included, and why
 * nothing is ever forgotten: an index or table number given up could be given
 * to another inode while the kernel or a tool still holds the first.
 *
 * Devices are keyed by (major, minor) alone, not by mount: two bind mounts of
 * one filesystem show the same inodes, as they do natively, and one host
 * inode must keep one number whichever mount it is reached through. A device
 * number is freed only when its filesystem's superblock goes away, which
 * cannot happen while the inode store holds an inode of it (and with it an
 * fd on its mount, see mounts.ts).
 *
 * Lookups and getattr map a number per request, so the common case costs two
 * Map lookups by a number key and one BigInt OR; no strings are built.
 */

/** Inode numbers below this pass through (the source's device) or are prefixed with a device index. */
const INO_LIMIT = 1n << 48n;
const INDEX_SHIFT = 48n;
/** Device indexes 1..MAX_INDEX; 0 is the source's device and 0xFFFF the table. */
export const MAX_INDEX = 0xfffe;
/** Where the table's numbers start. */
export const TABLE_BASE = 0xffffn << 48n;
/** A device's entry in `prefixes` when it has no index: all its inodes go to the table. */
const NO_INDEX = -1n;

/**
 * One number per device. Linux device numbers have a 12-bit major and a
 * 20-bit minor (statx reports them as u32 each), so major * 2^32 + minor is
 * an exact, distinct safe integer for every device the kernel can report.
 */
function deviceKey(major: number, minor: number): number {
  return major * 0x1_0000_0000 + minor;
}

export class InoMap {
  /** Device key → index << 48 (0n for the source's device), or NO_INDEX. */
  private readonly prefixes = new Map<number, bigint>();
  private indexes = 0;
  /** Device key → host inode → number, for what has no prefix. */
  private readonly table = new Map<number, Map<bigint, bigint>>();
  private tableNext = TABLE_BASE;

  /** `rootMajor:rootMinor` is the source's own device (the root inode's st_dev), fixed for the session. */
  constructor(rootMajor: number, rootMinor: number) {
    this.prefixes.set(deviceKey(rootMajor, rootMinor), 0n);
  }

  /** The inode number the client sees for host inode `ino` on device `major:minor`. */
  map(major: number, minor: number, ino: bigint): bigint {
    const dev = deviceKey(major, minor);
    const prefix = this.prefixes.get(dev) ?? this.addDevice(dev);
    if (ino < INO_LIMIT) {
      if (prefix === 0n) return ino;
      if (prefix !== NO_INDEX) return prefix | ino;
    }
    return this.fromTable(dev, ino);
  }

  /** Number of devices given an index (the source's not counted). */
  get devices(): number {
    return this.indexes;
  }

  /** Number of inodes numbered from the table. */
  get tableSize(): number {
    return Number(this.tableNext - TABLE_BASE);
  }

  private addDevice(dev: number): bigint {
    const prefix = this.indexes < MAX_INDEX ? BigInt(++this.indexes) << INDEX_SHIFT : NO_INDEX;
    this.prefixes.set(dev, prefix);
    return prefix;
  }

  private fromTable(dev: number, ino: bigint): bigint {
    let inos = this.table.get(dev);
    if (!inos) this.table.set(dev, (inos = new Map()));
    let n = inos.get(ino);
    if (n === undefined) {
      // 2^48 numbers: memory runs out long before; but never wrap onto a number in use.
      if (this.tableNext > 0xffff_ffff_ffff_ffffn) throw new RangeError('inode number table exhausted');
      n = this.tableNext++;
      inos.set(ino, n);
    }
    return n;
  }
}
