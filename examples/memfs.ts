/**
 * An in-memory filesystem in under 200 lines: files, directories, symlinks,
 * rename, truncate, timestamps. Run: node dist/examples/memfs.js MOUNTPOINT
 */
import {
  FsError, FuseSession, ROOT_ID, type Attr, type Context, type DirSink, type Entry, type FileSystem,
  type SetAttrIn,
} from '../src/index.js';

const S_IFDIR = 0o040000, S_IFREG = 0o100000, S_IFLNK = 0o120000, S_IFMT = 0o170000;

interface Node {
  attr: Attr;
  data: Buffer; // file contents or symlink target
  children?: Map<string, bigint>; // directories only
  lookups: bigint;
}

function now(): [number, number] {
  const t = Date.now();
  return [Math.floor(t / 1000), (t % 1000) * 1e6];
}

export class MemFs implements FileSystem {
  private nodes = new Map<bigint, Node>();
  private next = 2n;
  private timeout = 1;
  constructor() {
    this.nodes.set(ROOT_ID, this.make(ROOT_ID, S_IFDIR | 0o755, 0, 0));
  }

  private make(ino: bigint, mode: number, uid: number, gid: number): Node {
    const [s, ns] = now();
    const attr: Attr = {
      ino, size: 0, blocks: 0, atime: s, atimeNsec: ns, mtime: s, mtimeNsec: ns, ctime: s, ctimeNsec: ns,
      mode, nlink: (mode & S_IFMT) === S_IFDIR ? 2 : 1, uid, gid, rdev: 0, blksize: 4096, flags: 0,
    };
    return { attr, data: Buffer.alloc(0), lookups: 0n, ...((mode & S_IFMT) === S_IFDIR ? { children: new Map() } : {}) };
  }
  private get(ino: bigint): Node {
    const n = this.nodes.get(ino);
    if (!n) throw new FsError('ENOENT');
    return n;
  }
  private dir(ino: bigint): Map<string, bigint> {
    const c = this.get(ino).children;
    if (!c) throw new FsError('ENOTDIR');
    return c;
  }
  private entry(ino: bigint): Entry {
    const n = this.get(ino);
    n.lookups++;
    return { nodeid: ino, generation: 0n, attr: n.attr, entryTimeout: this.timeout, attrTimeout: this.timeout };
  }
  private touch(n: Node, what: 'm' | 'c' = 'm'): void {
    const [s, ns] = now();
    n.attr.ctime = s; n.attr.ctimeNsec = ns;
    if (what === 'm') { n.attr.mtime = s; n.attr.mtimeNsec = ns; }
  }
  private add(ctx: Context, parent: bigint, name: Buffer, mode: number): Node {
    const dir = this.dir(parent);
    const key = name.toString();
    if (dir.has(key)) throw new FsError('EEXIST');
    const ino = this.next++;
    const n = this.make(ino, mode & ~ctx.umask, ctx.uid, ctx.gid);
    this.nodes.set(ino, n);
    dir.set(key, ino);
    const p = this.get(parent);
    if (n.children) p.attr.nlink++;
    this.touch(p);
    return n;
  }
  private drop(n: Node): void {
    if (n.attr.nlink === 0 && n.lookups === 0n) this.nodes.delete(n.attr.ino);
  }

  lookup(_ctx: Context, parent: bigint, name: Buffer): Entry {
    const ino = this.dir(parent).get(name.toString());
    if (ino === undefined) throw new FsError('ENOENT');
    return this.entry(ino);
  }
  forget(node: bigint, nlookup: bigint): void {
    const n = this.nodes.get(node);
    if (!n || node === ROOT_ID) return;
    n.lookups -= nlookup;
    this.drop(n);
  }

  getattr(_ctx: Context, node: bigint) {
    return { attr: this.get(node).attr, timeout: this.timeout };
  }
  setattr(_ctx: Context, node: bigint, set: SetAttrIn) {
    const n = this.get(node), a = n.attr;
    if (set.mode !== undefined) a.mode = (a.mode & S_IFMT) | (set.mode & 0o7777);
    if (set.uid !== undefined) a.uid = set.uid;
    if (set.gid !== undefined) a.gid = set.gid;
    if (set.size !== undefined) {
      const d = Buffer.alloc(set.size);
      n.data.copy(d, 0, 0, Math.min(set.size, n.data.length));
      n.data = d; a.size = set.size; a.blocks = Math.ceil(set.size / 512);
      this.touch(n);
    }
    const [s, ns] = now();
    if (set.atime) [a.atime, a.atimeNsec] = set.atime === 'now' ? [s, ns] : [set.atime.sec, set.atime.nsec];
    if (set.mtime) [a.mtime, a.mtimeNsec] = set.mtime === 'now' ? [s, ns] : [set.mtime.sec, set.mtime.nsec];
    this.touch(n, 'c');
    return { attr: a, timeout: this.timeout };
  }

  mkdir(ctx: Context, parent: bigint, name: Buffer, mode: number): Entry {
    return this.entry(this.add(ctx, parent, name, S_IFDIR | mode).attr.ino);
  }
  create(ctx: Context, parent: bigint, name: Buffer, mode: number) {
    const n = this.add(ctx, parent, name, S_IFREG | (mode & 0o7777));
    return { entry: this.entry(n.attr.ino), open: { fh: 0n, openFlags: 0 } };
  }
  symlink(ctx: Context, parent: bigint, name: Buffer, target: Buffer): Entry {
    const n = this.add({ ...ctx, umask: 0 }, parent, name, S_IFLNK | 0o777);
    n.data = Buffer.from(target); n.attr.size = target.length;
    return this.entry(n.attr.ino);
  }
  readlink(_ctx: Context, node: bigint): Buffer {
    return this.get(node).data;
  }
  link(_ctx: Context, node: bigint, newParent: bigint, newName: Buffer): Entry {
    const dir = this.dir(newParent), n = this.get(node);
    if (n.children) throw new FsError('EPERM');
    if (dir.has(newName.toString())) throw new FsError('EEXIST');
    dir.set(newName.toString(), node);
    n.attr.nlink++; this.touch(n, 'c'); this.touch(this.get(newParent));
    return this.entry(node);
  }
  private remove(parent: bigint, name: Buffer, wantDir: boolean): void {
    const dir = this.dir(parent), key = name.toString();
    const ino = dir.get(key);
    if (ino === undefined) throw new FsError('ENOENT');
    const n = this.get(ino);
    if (wantDir && !n.children) throw new FsError('ENOTDIR');
    if (!wantDir && n.children) throw new FsError('EISDIR');
    if (n.children?.size) throw new FsError('ENOTEMPTY');
    dir.delete(key);
    const p = this.get(parent);
    if (n.children) { p.attr.nlink--; n.attr.nlink = 0; } else n.attr.nlink--;
    this.touch(p); this.touch(n, 'c');
    this.drop(n);
  }
  unlink(_ctx: Context, parent: bigint, name: Buffer): void { this.remove(parent, name, false); }
  rmdir(_ctx: Context, parent: bigint, name: Buffer): void { this.remove(parent, name, true); }
  rename(_ctx: Context, parent: bigint, name: Buffer, newParent: bigint, newName: Buffer, flags: number): void {
    if (flags !== 0) throw new FsError('EINVAL');
    const from = this.dir(parent), to = this.dir(newParent);
    const ino = from.get(name.toString());
    if (ino === undefined) throw new FsError('ENOENT');
    const existing = to.get(newName.toString());
    if (existing === ino) return;
    if (existing !== undefined) this.remove(newParent, newName, !!this.get(existing).children);
    from.delete(name.toString());
    to.set(newName.toString(), ino);
    if (this.get(ino).children && parent !== newParent) { this.get(parent).attr.nlink--; this.get(newParent).attr.nlink++; }
    this.touch(this.get(parent)); this.touch(this.get(newParent)); this.touch(this.get(ino), 'c');
  }

  read(_ctx: Context, node: bigint, _fh: bigint, offset: number, size: number, buf: Buffer): number {
    const d = this.get(node).data;
    return offset >= d.length ? 0 : d.copy(buf, 0, offset, Math.min(d.length, offset + size));
  }
  write(_ctx: Context, node: bigint, _fh: bigint, offset: number, data: Buffer): number {
    const n = this.get(node), end = offset + data.length;
    if (end > n.data.length) {
      const grown = Buffer.alloc(Math.max(end, n.data.length * 2));
      n.data.copy(grown);
      n.data = grown.subarray(0, end);
    }
    data.copy(n.data, offset);
    n.attr.size = n.data.length; n.attr.blocks = Math.ceil(n.data.length / 512);
    this.touch(n);
    return data.length;
  }

  readdir(_ctx: Context, node: bigint, _fh: bigint, offset: bigint, out: DirSink): void {
    const entries: [string, bigint][] = [['.', node], ['..', node], ...this.dir(node)];
    for (let i = Number(offset); i < entries.length; i++) {
      const [name, ino] = entries[i]!;
      const type = (this.nodes.get(ino)?.attr.mode ?? S_IFREG) >>> 12 & 0o17;
      if (!out.add(name, ino, type, BigInt(i + 1))) break;
    }
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const mnt = process.argv[2];
  if (!mnt) {
    process.stderr.write('usage: memfs MOUNTPOINT\n');
    process.exit(2);
  }
  const session = FuseSession.mount(new MemFs(), mnt, { mount: { fsname: 'memfs', subtype: 'memfs' } });
  session.unmountOnSignals();
  await session.serve();
}
