/**
 * PassthroughFs against a hostile client, called directly (no mount): bad
 * names, symlinks and magic links pointing out of the shared directory, host
 * renames racing with held nodes, forged handles, caller credentials. Nothing
 * outside SRC may be reached or changed, and destroy() must close every fd.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { join } from 'node:path';
import type { Context } from '../src/fs/context.js';
import type { FileSystem, FileSystemMethod } from '../src/fs/filesystem.js';
import type { DirPlusSink, Entry } from '../src/fs/types.js';
import { PassthroughFs } from '../src/passthrough/passthrough.js';
import { defaultOptions } from '../src/passthrough/options.js';
import {
  O_CREAT, O_PATH, O_RDONLY, O_RDWR, O_TRUNC, O_WRONLY, RESOLVE_BENEATH, RESOLVE_NO_MAGICLINKS, S_IFCHR, S_IFDIR,
  S_IFLNK, S_IFMT, S_IFREG, AT_FDCWD, close, lgetxattr, llistxattr, openat, openat2,
} from '../src/sys/index.js';
import { errnoOf, makeTempDir, readResult, removeTempDir } from './helpers.js';

/** PassthroughFs called with the FileSystem interface's full argument lists (as the session calls it), its results synchronous. */
type Api = {
  [K in FileSystemMethod & keyof PassthroughFs]: (...args: Parameters<NonNullable<FileSystem[K]>>) =>
    NonNullable<PassthroughFs[K]> extends (...a: never[]) => infer R ? R : never;
};

const ROOT = 1n;
const ctx: Context = { unique: 1n, uid: 0, gid: 0, pid: process.pid, umask: 0 };
const nobody: Context = { unique: 2n, uid: 65534, gid: 65534, pid: process.pid, umask: 0 };
const SECRET = 'TOP SECRET: must never be read or changed\n';

const fdCount = () => fs.readdirSync('/proc/self/fd').length;
const typeOf = (mode: number) => mode & S_IFMT;

/** Everything observable about a tree, by relative path (atime excluded: the snapshot itself reads files). */
function snapshot(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (rel: string) => {
    const p = join(dir, rel);
    const st = fs.lstatSync(p, { bigint: true });
    const xattrs = (() => {
      const n = llistxattr(p, null);
      const b = Buffer.alloc(n);
      return n ? b.subarray(0, llistxattr(p, b)).toString('latin1') : '';
    })();
    const rec: Record<string, string> = {
      mode: st.mode.toString(8), uid: String(st.uid), gid: String(st.gid), size: String(st.size),
      nlink: String(st.nlink), ino: String(st.ino), mtime: String(st.mtimeNs), ctime: String(st.ctimeNs), xattrs,
    };
    if (st.isFile()) rec.content = fs.readFileSync(p).toString('hex');
    if (st.isSymbolicLink()) rec.target = fs.readlinkSync(p);
    if (st.isDirectory()) {
      const names = fs.readdirSync(p).sort();
      rec.entries = names.join('/');
      for (const n of names) walk(rel === '.' ? n : join(rel, n));
    }
    out.set(rel, JSON.stringify(rec));
  };
  walk('.');
  return out;
}

describe('containment: a hostile client cannot reach outside the shared directory', () => {
  let tmp: string;
  let src: string;
  let outside: string;
  let secret: string;
  let secretFd: number;
  let fdsBefore: number;
  let before0: Map<string, string>;
  let pfs: PassthroughFs;
  let api: Api;
  let destroyed = false;
  const nameOf = (s: string) => Buffer.from(s);

  before(() => {
    fdsBefore = fdCount();
    tmp = makeTempDir('ptfs-contain-');
    outside = join(tmp, 'outside');
    src = join(tmp, 'src');
    secret = join(outside, 'secret');
    fs.mkdirSync(join(outside, 'sub'), { recursive: true });
    fs.writeFileSync(secret, SECRET, { mode: 0o600 });
    fs.writeFileSync(join(outside, 'sub', 'inner'), 'inner outside');
    fs.mkdirSync(src, { mode: 0o755 });
    fs.chmodSync(src, 0o755);
    fs.writeFileSync(join(src, 'victim'), 'victim');
    fs.mkdirSync(join(src, 'sub'));
    secretFd = fs.openSync(secret, 'r');
    before0 = snapshot(outside);
    pfs = new PassthroughFs({ ...defaultOptions(src), xattr: true, statx: true });
    api = pfs as unknown as Api;
  });

  after(() => {
    try {
      if (!destroyed) pfs?.destroy();
    } finally {
      try { fs.closeSync(secretFd); } catch { /* closed by the test already */ }
      if (tmp) removeTempDir(tmp);
    }
  });

  const lookup = (parent: bigint, name: string): Entry => api.lookup(ctx, parent, nameOf(name));

  describe('names that are not one component', () => {
    const bad: [string, Buffer, string][] = [
      ['empty', Buffer.alloc(0), 'EINVAL'],
      ['"."', nameOf('.'), 'EINVAL'],
      ['".."', nameOf('..'), 'EINVAL'],
      ['"a/b"', nameOf('a/b'), 'EINVAL'],
      ['"../outside"', nameOf('../outside'), 'EINVAL'],
      ['"../outside/secret"', nameOf('../outside/secret'), 'EINVAL'],
      ['"/etc/passwd"', nameOf('/etc/passwd'), 'EINVAL'],
      ['"a\\0b"', Buffer.from('a\0b'), 'EINVAL'],
      ['256 bytes', Buffer.alloc(256, 0x78), 'ENAMETOOLONG'],
    ];

    it('every name-taking operation refuses them, in the root and in a subdirectory', () => {
      const victim = lookup(ROOT, 'victim').nodeid;
      const sub = lookup(ROOT, 'sub').nodeid;
      const listing = () => [fs.readdirSync(src).sort(), fs.readdirSync(join(src, 'sub')).sort()];
      const listed = listing();
      for (const parent of [ROOT, sub]) {
        for (const [label, n, want] of bad) {
          const ops: [string, () => unknown][] = [
            ['lookup', () => api.lookup(ctx, parent, n)],
            ['mkdir', () => api.mkdir(ctx, parent, n, 0o755)],
            ['mknod', () => api.mknod(ctx, parent, n, S_IFREG | 0o644, 0)],
            ['symlink', () => api.symlink(ctx, parent, n, nameOf('target'))],
            ['create', () => api.create(ctx, parent, n, 0o644, O_CREAT | O_RDWR)],
            ['unlink', () => api.unlink(ctx, parent, n)],
            ['rmdir', () => api.rmdir(ctx, parent, n)],
            ['rename from', () => api.rename(ctx, parent, n, ROOT, nameOf('renamed'), 0)],
            ['rename to', () => api.rename(ctx, ROOT, nameOf('victim'), parent, n, 0)],
            ['link', () => api.link(ctx, victim, parent, n)],
          ];
          for (const [op, fn] of ops) {
            if (op === 'lookup' && parent === ROOT && label === '".."') continue;
            assert.equal(errnoOf(fn), want, `${op}(${parent === ROOT ? 'root' : 'sub'}, ${label})`);
          }
        }
      }
      assert.deepEqual(listing(), listed, 'no entry appeared or vanished');
      assert.equal(fs.readFileSync(join(src, 'victim'), 'utf8'), 'victim');
    });

    it('a 255-byte name is still fine (the limit is not off by one)', () => {
      const n = Buffer.alloc(255, 0x79);
      const c = api.create(ctx, ROOT, n, 0o644, O_CREAT | O_RDWR);
      api.release(ctx, c.entry.nodeid, c.open.fh, 0, 0, 0n);
      assert.ok(fs.existsSync(join(src, n.toString())));
      api.unlink(ctx, ROOT, n);
    });

    it('lookup(root, "..") is the root itself; lookup(other dir, "..") is refused', () => {
      const e = lookup(ROOT, '..');
      assert.equal(e.nodeid, ROOT);
      assert.equal(e.attr.ino, BigInt(fs.statSync(src).ino));
      assert.equal(errnoOf(() => lookup(lookup(ROOT, 'sub').nodeid, '..')), 'EINVAL');
    });

    it('a symlink target with a NUL is refused', () => {
      assert.equal(errnoOf(() => api.symlink(ctx, ROOT, nameOf('nul-target'), Buffer.from('x\0y'))), 'EINVAL');
      assert.equal(fs.existsSync(join(src, 'nul-target')), false);
    });
  });

  describe('symlinks pointing outside', () => {
    let targets: Record<string, string>;
    before(() => {
      targets = {
        abs: secret,
        rel: '../outside/secret',
        procroot: `/proc/self/root${secret}`,
        fdlink: `/proc/self/fd/${secretFd}`,
      };
      for (const [n, t] of Object.entries(targets)) fs.symlinkSync(t, join(src, n));
      fs.symlinkSync('../outside', join(src, 'outdir'));
      fs.symlinkSync('/proc/self', join(src, 'procself'));
    });

    it('lookup, getattr and readlink show the link, open refuses it', () => {
      const secretIno = BigInt(fs.statSync(secret).ino);
      for (const [n, t] of Object.entries(targets)) {
        const e = lookup(ROOT, n);
        assert.equal(typeOf(e.attr.mode), S_IFLNK, `${n}: lookup mode`);
        assert.equal(e.attr.ino, BigInt(fs.lstatSync(join(src, n)).ino), `${n}: lookup ino`);
        assert.notEqual(e.attr.ino, secretIno);
        const a = api.getattr(ctx, e.nodeid, undefined).attr;
        assert.equal(typeOf(a.mode), S_IFLNK, `${n}: getattr mode`);
        assert.equal(a.size, Buffer.byteLength(t), `${n}: getattr size is the link's`);
        assert.equal(api.readlink(ctx, e.nodeid).toString(), t, `${n}: readlink`);
        for (const flags of [O_RDONLY, O_RDWR, O_WRONLY | O_TRUNC]) {
          assert.equal(errnoOf(() => api.open(ctx, e.nodeid, flags)), 'EBADF', `${n}: open(${flags.toString(8)})`);
        }
        assert.equal(errnoOf(() => api.opendir(ctx, e.nodeid, O_RDONLY)), 'ENOTDIR', `${n}: opendir`);
        assert.equal(api.statx(ctx, e.nodeid, undefined, 0, 0x7ff).attr.ino, e.attr.ino, `${n}: statx`);
      }
    });

    it('setattr on a link changes the link or fails, never the target', () => {
      for (const n of Object.keys(targets)) {
        const node = lookup(ROOT, n).nodeid;
        const link = join(src, n);
        // chmod of a symlink itself is not supported by Linux filesystems.
        assert.match(errnoOf(() => api.setattr(ctx, node, { mode: 0o777, killSuidgid: false })), /^E(OPNOTSUPP|NOTSUP)$/, `${n}: chmod`);
        api.setattr(ctx, node, { uid: 65534, gid: 65534, killSuidgid: false });
        assert.equal(fs.lstatSync(link).uid, 65534, `${n}: chown reached the link`);
        assert.equal(errnoOf(() => api.setattr(ctx, node, { size: 0, killSuidgid: false })), 'EBADF', `${n}: truncate`);
        api.setattr(ctx, node, { atime: { sec: 1000, nsec: 0 }, mtime: { sec: 2000, nsec: 0 }, killSuidgid: false });
        assert.equal(fs.lstatSync(link).mtimeMs, 2000_000, `${n}: utimes reached the link`);
        assert.equal(errnoOf(() => api.setxattr(ctx, node, nameOf('user.ptfs'), nameOf('v'), 0, 0)), 'EPERM', `${n}: user xattr on a link`);
        api.setxattr(ctx, node, nameOf('trusted.ptfs'), nameOf('v'), 0, 0);
        const b = Buffer.alloc(16);
        assert.equal(b.subarray(0, lgetxattr(link, 'trusted.ptfs', b)).toString(), 'v', `${n}: xattr on the link`);
        assert.equal(api.getxattr(ctx, node, nameOf('trusted.ptfs')).toString(), 'v');
        api.removexattr(ctx, node, nameOf('trusted.ptfs'));
      }
      assert.deepEqual(snapshot(outside), before0);
    });

    it('link() of a link node links the symlink, not its target', () => {
      const nlink = fs.statSync(secret).nlink;
      for (const n of Object.keys(targets)) {
        const e = api.link(ctx, lookup(ROOT, n).nodeid, ROOT, nameOf(`hl-${n}`));
        assert.equal(typeOf(e.attr.mode), S_IFLNK);
        assert.ok(fs.lstatSync(join(src, `hl-${n}`)).isSymbolicLink());
        assert.equal(fs.lstatSync(join(src, `hl-${n}`)).ino, fs.lstatSync(join(src, n)).ino);
      }
      assert.equal(fs.statSync(secret).nlink, nlink);
    });

    it('a directory symlink is not a directory: no lookup, create, mkdir or mknod through it', () => {
      for (const n of ['outdir', 'procself']) {
        const node = lookup(ROOT, n).nodeid;
        for (const inner of ['secret', 'sub', 'fd', 'root', 'x']) {
          assert.equal(errnoOf(() => lookup(node, inner)), 'ENOTDIR', `lookup(${n}, ${inner})`);
        }
        assert.equal(errnoOf(() => api.create(ctx, node, nameOf('x'), 0o644, O_CREAT | O_RDWR)), 'ENOTDIR', `create in ${n}`);
        assert.equal(errnoOf(() => api.mkdir(ctx, node, nameOf('x'), 0o755)), 'ENOTDIR', `mkdir in ${n}`);
        assert.equal(errnoOf(() => api.mknod(ctx, node, nameOf('x'), S_IFREG | 0o644, 0)), 'ENOTDIR', `mknod in ${n}`);
        assert.equal(errnoOf(() => api.symlink(ctx, node, nameOf('x'), nameOf('y'))), 'ENOTDIR', `symlink in ${n}`);
        assert.equal(errnoOf(() => api.unlink(ctx, node, nameOf('secret'))), 'ENOTDIR', `unlink in ${n}`);
        assert.equal(errnoOf(() => api.rename(ctx, ROOT, nameOf('victim'), node, nameOf('x'), 0)), 'ENOTDIR', `rename into ${n}`);
      }
      assert.equal(fs.existsSync(join(outside, 'x')), false);
    });

    it('magic links: the kernel refuses them under the lookup resolve flags, and lookup never follows one', () => {
      // The flags lookups open new nodes with: an absolute or magic link cannot be followed.
      const srcFd = openat(AT_FDCWD, src, O_PATH);
      const procFd = openat(AT_FDCWD, '/proc/self/fd', O_PATH);
      try {
        for (const n of Object.keys(targets)) {
          assert.match(errnoOf(() => close(openat2(srcFd, n, O_RDONLY, 0, RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS))), /^(EXDEV|ELOOP)$/, n);
        }
        assert.equal(errnoOf(() => close(openat2(procFd, String(secretFd), O_RDONLY, 0, RESOLVE_NO_MAGICLINKS))), 'ELOOP');
      } finally {
        close(srcFd);
        close(procFd);
      }
      const e = lookup(ROOT, 'fdlink');
      assert.equal(typeOf(e.attr.mode), S_IFLNK);
      assert.equal(errnoOf(() => api.open(ctx, e.nodeid, O_RDONLY)), 'EBADF');
      assert.equal(errnoOf(() => api.setattr(ctx, e.nodeid, { size: 0, killSuidgid: false })), 'EBADF');
    });

    it('a client-made symlink to the outside is just text', () => {
      const e = api.symlink(ctx, ROOT, nameOf('evil'), Buffer.from(secret));
      assert.equal(typeOf(e.attr.mode), S_IFLNK);
      assert.equal(fs.readlinkSync(join(src, 'evil')), secret);
      assert.equal(errnoOf(() => api.open(ctx, e.nodeid, O_RDWR)), 'EBADF');
      assert.equal(errnoOf(() => api.create(ctx, ROOT, nameOf('evil'), 0o644, O_CREAT | O_RDWR | O_TRUNC)), 'ELOOP',
        'create over an existing symlink name must not follow it');
    });

    it('readdirplus reports the links themselves', () => {
      const got = new Map<string, Entry>();
      const sink: DirPlusSink = {
        fits: () => true,
        addPlus: (n, e) => { got.set(n.toString(), e); return true; },
      };
      const fh = api.opendir(ctx, ROOT, O_RDONLY).fh;
      api.readdirplus(ctx, ROOT, fh, 0n, sink);
      api.releasedir(ctx, ROOT, fh, 0);
      for (const n of [...Object.keys(targets), 'outdir', 'procself']) {
        assert.equal(typeOf(got.get(n)!.attr.mode), S_IFLNK, n);
      }
    });
  });

  describe('host renames racing with held nodes', () => {
    it('a directory node replaced by a symlink to outside keeps addressing the moved directory', () => {
      fs.mkdirSync(join(src, 'd'));
      fs.writeFileSync(join(src, 'd', 'inner'), 'in d');
      const d = lookup(ROOT, 'd').nodeid;
      fs.renameSync(join(src, 'd'), join(src, 'd.old'));
      fs.symlinkSync('../outside', join(src, 'd'));

      const fresh = lookup(ROOT, 'd');
      assert.equal(typeOf(fresh.attr.mode), S_IFLNK);
      assert.notEqual(fresh.nodeid, d);
      assert.equal(errnoOf(() => lookup(fresh.nodeid, 'secret')), 'ENOTDIR');
      assert.equal(errnoOf(() => api.create(ctx, ROOT, nameOf('d/x'), 0o644, O_CREAT | O_RDWR)), 'EINVAL');

      const c = api.create(ctx, d, nameOf('x'), 0o644, O_CREAT | O_RDWR);
      api.write(ctx, c.entry.nodeid, c.open.fh, 0, Buffer.from('new'), 0, O_RDWR);
      api.release(ctx, c.entry.nodeid, c.open.fh, 0, 0, 0n);
      api.mkdir(ctx, d, nameOf('y'), 0o755);
      api.mknod(ctx, d, nameOf('z'), S_IFREG | 0o644, 0);
      api.symlink(ctx, d, nameOf('w'), nameOf('x'));
      assert.equal(fs.readFileSync(join(src, 'd.old', 'x'), 'utf8'), 'new');
      assert.deepEqual(fs.readdirSync(join(src, 'd.old')).sort(), ['inner', 'w', 'x', 'y', 'z']);
      assert.equal(lookup(d, 'secret').nodeid, 0n, 'a negative entry: no such name in the moved directory');
      assert.equal(typeOf(lookup(d, 'inner').attr.mode), S_IFREG);

      const names: string[] = [];
      const fh = api.opendir(ctx, d, O_RDONLY).fh;
      api.readdir(ctx, d, fh, 0n, { add: (n) => { names.push(n.toString()); return true; } });
      api.releasedir(ctx, d, fh, 0);
      assert.deepEqual(names.filter((n) => n !== '.' && n !== '..').sort(), ['inner', 'w', 'x', 'y', 'z']);

      api.unlink(ctx, d, nameOf('z'));
      api.rmdir(ctx, d, nameOf('y'));
      api.rename(ctx, d, nameOf('w'), ROOT, nameOf('w-moved'), 0);
      assert.ok(fs.lstatSync(join(src, 'w-moved')).isSymbolicLink());
      // Removing the name "d" now removes the symlink, not what it points to.
      api.unlink(ctx, ROOT, nameOf('d'));
      assert.ok(fs.statSync(outside).isDirectory());
      assert.deepEqual(snapshot(outside), before0);
    });

    it('a file node replaced by a symlink to the secret keeps addressing the old inode', () => {
      fs.writeFileSync(join(src, 'f'), 'original');
      const f = lookup(ROOT, 'f').nodeid;
      fs.renameSync(join(src, 'f'), join(src, 'f.old'));
      fs.symlinkSync('../outside/secret', join(src, 'f'));

      const o = api.open(ctx, f, O_RDWR);
      const buf = Buffer.alloc(64);
      assert.equal(readResult(api.read(ctx, f, o.fh, 0, 64, buf), buf).toString(), 'original');
      api.write(ctx, f, o.fh, 0, Buffer.from('ORIGINAL'), 0, O_RDWR);
      api.release(ctx, f, o.fh, 0, 0, 0n);
      assert.equal(fs.readFileSync(join(src, 'f.old'), 'utf8'), 'ORIGINAL');

      api.setattr(ctx, f, { size: 3, mode: 0o600, killSuidgid: false });
      assert.equal(fs.readFileSync(join(src, 'f.old'), 'utf8'), 'ORI');
      assert.equal(api.link(ctx, f, ROOT, nameOf('f.hard')).attr.ino, BigInt(fs.statSync(join(src, 'f.old')).ino));

      assert.equal(typeOf(lookup(ROOT, 'f').attr.mode), S_IFLNK);
      // Even with the name gone entirely, the node is the old (now unlinked) inode.
      fs.unlinkSync(join(src, 'f.old'));
      fs.unlinkSync(join(src, 'f.hard'));
      const o2 = api.open(ctx, f, O_RDONLY);
      assert.equal(readResult(api.read(ctx, f, o2.fh, 0, 64, buf), buf).toString(), 'ORI');
      api.release(ctx, f, o2.fh, 0, 0, 0n);
      assert.deepEqual(snapshot(outside), before0);
    });

    it('a directory moved out of SRC by the host cannot be climbed out of with ".."', () => {
      fs.mkdirSync(join(src, 'm'));
      const m = lookup(ROOT, 'm').nodeid;
      fs.renameSync(join(src, 'm'), join(tmp, 'moved'));
      assert.equal(errnoOf(() => lookup(m, '..')), 'EINVAL');
      assert.equal(errnoOf(() => api.rename(ctx, m, nameOf('..'), ROOT, nameOf('x'), 0)), 'EINVAL');
    });
  });

  describe('handles and node ids', () => {
    it('a handle only works with its own node; unknown and forgotten nodes are EBADF', () => {
      const a = api.create(ctx, ROOT, nameOf('ha'), 0o644, O_CREAT | O_RDWR);
      const b = api.create(ctx, ROOT, nameOf('hb'), 0o644, O_CREAT | O_RDWR);
      const [na, nb] = [a.entry.nodeid, b.entry.nodeid];
      const buf = Buffer.alloc(8);
      assert.equal(errnoOf(() => api.read(ctx, na, b.open.fh, 0, 8, buf)), 'EBADF');
      assert.equal(errnoOf(() => api.write(ctx, na, b.open.fh, 0, Buffer.from('x'), 0, O_RDWR)), 'EBADF');
      assert.equal(errnoOf(() => api.fsync(ctx, na, b.open.fh, false)), 'EBADF');
      assert.equal(errnoOf(() => api.release(ctx, na, b.open.fh, 0, 0, 0n)), 'EBADF');
      assert.equal(errnoOf(() => api.read(ctx, na, 987654321n, 0, 8, buf)), 'EBADF');
      assert.match(errnoOf(() => api.readdir(ctx, na, a.open.fh, 0n, { add: () => true })), /^(EBADF|ENOTDIR)$/,
        'a file handle is no directory handle');
      // The refused release did not close b's handle.
      assert.equal(api.write(ctx, nb, b.open.fh, 0, Buffer.from('b'), 0, O_RDWR), 1);
      api.release(ctx, na, a.open.fh, 0, 0, 0n);
      api.release(ctx, nb, b.open.fh, 0, 0, 0n);
      assert.equal(errnoOf(() => api.read(ctx, nb, b.open.fh, 0, 8, buf)), 'EBADF', 'released handle');

      for (const bogus of [0n, 999999n, 1n << 40n, -1n]) {
        assert.equal(errnoOf(() => api.getattr(ctx, bogus, undefined)), 'EBADF', `getattr(${bogus})`);
        assert.equal(errnoOf(() => api.lookup(ctx, bogus, nameOf('x'))), 'EBADF', `lookup(${bogus})`);
        assert.equal(errnoOf(() => api.open(ctx, bogus, O_RDONLY)), 'EBADF', `open(${bogus})`);
        assert.equal(errnoOf(() => api.create(ctx, bogus, nameOf('x'), 0o644, O_CREAT | O_RDWR)), 'EBADF', `create(${bogus})`);
        assert.equal(errnoOf(() => api.link(ctx, na, bogus, nameOf('x'))), 'EBADF', `link into ${bogus}`);
      }

      // Each create counted one lookup; a lookup adds one more.
      lookup(ROOT, 'ha');
      api.forget(na, 2n);
      for (const op of [
        () => api.getattr(ctx, na, undefined), () => api.open(ctx, na, O_RDONLY),
        () => api.setattr(ctx, na, { mode: 0o777, killSuidgid: false }), () => api.link(ctx, na, ROOT, nameOf('hl')),
      ]) assert.equal(errnoOf(op), 'EBADF');
      assert.equal(fs.statSync(join(src, 'ha')).mode & 0o777, 0o644);
      // The root cannot be forgotten.
      api.forget(ROOT, 1000n);
      assert.equal(typeOf(api.getattr(ctx, ROOT, undefined).attr.mode), S_IFDIR);
      api.forget(nb, 1n);
    });
  });

  describe('caller credentials', () => {
    let pub: bigint;
    before(() => {
      fs.mkdirSync(join(src, 'pub'), { mode: 0o777 });
      fs.chmodSync(join(src, 'pub'), 0o777);
      pub = lookup(ROOT, 'pub').nodeid;
    });

    it('a non-root caller cannot make a device node; root can, and it is never opened', () => {
      const null_ = (1 << 8) | 3; // FUSE encoding of 1:3 (/dev/null)
      assert.equal(errnoOf(() => api.mknod(nobody, pub, nameOf('cdev'), S_IFCHR | 0o666, null_)), 'EPERM');
      assert.equal(fs.existsSync(join(src, 'pub', 'cdev')), false);
      const e = api.mknod(ctx, pub, nameOf('cdev-root'), S_IFCHR | 0o666, null_);
      assert.equal(typeOf(e.attr.mode), S_IFCHR);
      assert.equal(e.attr.rdev, null_);
      assert.ok(fs.lstatSync(join(src, 'pub', 'cdev-root')).isCharacterDevice());
      assert.equal(errnoOf(() => api.open(ctx, e.nodeid, O_RDWR)), 'EBADF');
    });

    it('objects created for uid 65534 belong to 65534 on the host, and the host checks its rights', () => {
      const c = api.create(nobody, pub, nameOf('owned'), 0o644, O_CREAT | O_RDWR);
      api.release(nobody, c.entry.nodeid, c.open.fh, 0, 0, 0n);
      api.mkdir(nobody, pub, nameOf('owned-dir'), 0o755);
      api.symlink(nobody, pub, nameOf('owned-link'), nameOf('owned'));
      api.mknod(nobody, pub, nameOf('owned-fifo'), 0o010644, 0);
      for (const n of ['owned', 'owned-dir', 'owned-link', 'owned-fifo']) {
        const st = fs.lstatSync(join(src, 'pub', n));
        assert.deepEqual([st.uid, st.gid], [65534, 65534], n);
      }
      assert.equal(c.entry.attr.uid, 65534);
      // SRC itself is root's 0755: the host refuses the caller.
      assert.equal(errnoOf(() => api.create(nobody, ROOT, nameOf('denied'), 0o644, O_CREAT | O_RDWR)), 'EACCES');
      assert.equal(errnoOf(() => api.mkdir(nobody, ROOT, nameOf('denied'), 0o755)), 'EACCES');
      assert.equal(fs.existsSync(join(src, 'denied')), false);
      // And the daemon's own identity is back afterwards.
      const r = api.create(ctx, ROOT, nameOf('root-owned'), 0o600, O_CREAT | O_RDWR);
      api.release(ctx, r.entry.nodeid, r.open.fh, 0, 0, 0n);
      assert.equal(fs.lstatSync(join(src, 'root-owned')).uid, 0);
    });
  });

  describe('at the end', () => {
    it('outside/ is unchanged: content, mode, owner, times, xattrs, no new entries', () => {
      assert.deepEqual(snapshot(outside), before0);
      assert.equal(fs.readFileSync(secret, 'utf8'), SECRET);
    });

    it('destroy() closes every fd the filesystem opened', () => {
      // Leave some handles open on purpose: destroy must close them too.
      api.open(ctx, lookup(ROOT, 'victim').nodeid, O_RDONLY);
      api.opendir(ctx, ROOT, O_RDONLY);
      fs.closeSync(secretFd);
      pfs.destroy();
      destroyed = true;
      const now = fdCount();
      const open = fs.readdirSync('/proc/self/fd').map((n) => { try { return `${n} -> ${fs.readlinkSync(`/proc/self/fd/${n}`)}`; } catch { return n; } });
      assert.equal(now, fdsBefore, `fds before ${fdsBefore}, after ${now}:\n${open.join('\n')}`);
    });
  });
});
