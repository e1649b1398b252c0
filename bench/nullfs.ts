/**
 * The smallest useful filesystem: an empty root directory whose attributes may
 * not be cached (timeout 0), so every stat of the mount root is one GETATTR
 * round trip. Measures the request loop itself, not a filesystem.
 */
import { FsError, ROOT_ID, type Attr, type AttrReply, type Context, type Entry, type FileSystem, type NodeId } from '../src/index.js';

const t = Math.floor(Date.now() / 1000);
const ROOT_ATTR: Attr = {
  ino: ROOT_ID, size: 0, blocks: 0, atime: t, atimeNsec: 0, mtime: t, mtimeNsec: 0, ctime: t, ctimeNsec: 0,
  mode: 0o040755, nlink: 2, uid: 0, gid: 0, rdev: 0, blksize: 4096, flags: 0,
};
const ROOT_REPLY: AttrReply = { attr: ROOT_ATTR, timeout: 0 };

export class NullFs implements FileSystem {
  getattr(_ctx: Context, node: NodeId): AttrReply {
    if (node !== ROOT_ID) throw new FsError('ENOENT');
    return ROOT_REPLY;
  }

  lookup(_ctx: Context, _parent: NodeId, _name: Buffer): Entry {
    throw new FsError('ENOENT');
  }
}

/** Factory for serveInWorker (functions cannot cross threads). */
export function createNullFs(): NullFs {
  return new NullFs();
}
