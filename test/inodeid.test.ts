/**
 * Inode identity with file handles: an inode that holds no fd does not pin
 * its host inode, so once the file is deleted its (dev, ino) can be given to
 * a new file. The handle tells them apart: a lookup of the new file is a new
 * node, and the old node answers ESTALE, never the new file's data.
 *
 * ext4 (on a loop device) reuses a freed inode number for the next file made
 * in the same directory, which is what this needs; tmpfs never reuses one.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { join } from 'node:path';
import type { Context } from '../src/fs/context.js';
import { PassthroughFs } from '../src/passthrough/passthrough.js';
import { defaultOptions } from '../src/passthrough/options.js';
import { O_RDONLY } from '../src/sys/index.js';
import { errnoOf, readResult } from './helpers.js';
import { withExt4 } from './loopfs.js';

const ctx: Context = { unique: 1n, uid: 0, gid: 0, pid: process.pid, umask: 0 };
const name = (s: string) => Buffer.from(s);

describe('inode identity', () => {
  it('a reused inode number is a new node; the old one is ESTALE', async (t) => {
    await withExt4({ sizeMiB: 64 }, async (dir) => {
      fs.writeFileSync(join(dir, 'a'), 'old file');
      const inoA = fs.statSync(join(dir, 'a')).ino;
      const pfs = new PassthroughFs(defaultOptions(dir));
      try {
        const a = pfs.lookup(ctx, 1n, name('a'));
        assert.equal(a.attr.ino, BigInt(inoA));
        assert.equal(pfs.mounts.size, 1);
        // More lookups than the fd cache holds: a's fd is closed, only its handle is left.
        const others = pfs.budget.cacheMax + 20;
        for (let i = 0; i < others; i++) fs.writeFileSync(join(dir, `o${i}`), '');
        for (let i = 0; i < others; i++) pfs.lookup(ctx, 1n, name(`o${i}`));
        assert.equal(pfs.inodes.get(a.nodeid)!.fd, -1, 'evicted');
        assert.ok(pfs.inodes.cachedFds <= pfs.budget.cacheMax);

        fs.unlinkSync(join(dir, 'a'));
        fs.writeFileSync(join(dir, 'b'), 'new file');
        if (fs.statSync(join(dir, 'b')).ino !== inoA) return t.skip('ext4 did not reuse the inode number here');

        const b = pfs.lookup(ctx, 1n, name('b'));
        assert.equal(b.attr.ino, BigInt(inoA));
        assert.notEqual(b.nodeid, a.nodeid, 'the new file is a new node');
        assert.equal(errnoOf(() => pfs.getattr(ctx, a.nodeid)), 'ESTALE');
        assert.equal(errnoOf(() => pfs.open(ctx, a.nodeid, O_RDONLY)), 'ESTALE');
        const h = pfs.open(ctx, b.nodeid, O_RDONLY);
        const buf = Buffer.alloc(64);
        assert.equal(readResult(pfs.read(ctx, b.nodeid, h.fh, 0, 64, buf), buf).toString(), 'new file');
        pfs.release(ctx, b.nodeid, h.fh);
        // Forgetting both leaves the store as it was: the root alone.
        pfs.forget(a.nodeid, 1n);
        pfs.forget(b.nodeid, 1n);
        for (let i = 2; i < others + 4; i++) pfs.forget(BigInt(i), 1n);
        assert.equal(pfs.inodes.size, 1);
        assert.equal(pfs.budget.held, (pfs.inodes.get(1n)!.fd >= 0 ? 1 : 0) + 1, 'the root and the mount fd');
      } finally {
        pfs.destroy();
      }
    });
  });
});
