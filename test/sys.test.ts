import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as sys from '../src/sys/index.js';
import {
  AT_FDCWD, AT_EMPTY_PATH, AT_SYMLINK_NOFOLLOW, AT_REMOVEDIR, AT_HANDLE_MNT_ID_UNIQUE,
  O_RDONLY, O_WRONLY, O_RDWR, O_CREAT, O_EXCL, O_TRUNC, O_PATH, O_NOFOLLOW, O_DIRECTORY, O_CLOEXEC,
  RESOLVE_BENEATH, RESOLVE_NO_MAGICLINKS, RENAME_NOREPLACE, RENAME_EXCHANGE,
  S_IFMT, S_IFIFO, S_IFREG, S_IFLNK, S_IFDIR, DT_DIR, DT_REG, DT_LNK,
  STATX_BASIC_STATS, STATX_BTIME, STATX_MNT_ID, STATX_MNT_ID_UNIQUE,
  SEEK_SET, SEEK_DATA, SEEK_HOLE, FALLOC_FL_PUNCH_HOLE, FALLOC_FL_KEEP_SIZE,
  F_OFD_SETLK, F_OFD_SETLKW, F_OFD_GETLK, F_WRLCK, F_RDLCK, F_UNLCK, F_GETFL, F_SETFL,
  LOCK_EX, LOCK_NB, LOCK_UN, XATTR_CREATE, XATTR_REPLACE, UTIME_OMIT,
  AF_UNIX, SOCK_STREAM, SOCK_CLOEXEC, POLLIN, FIONREAD, MS_NOSUID, MNT_DETACH,
} from '../src/sys/index.js';

let tmp: string;
let dfd: number;

function expectErr(fn: () => unknown, code: string, syscall?: string): sys.SysError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof sys.SysError, `expected SysError, got ${String(e)}`);
    assert.equal(e.code, code, `${e.message}`);
    assert.equal(e.errno, os.constants.errno[code as keyof typeof os.constants.errno]);
    if (syscall) assert.equal(e.syscall, syscall);
    return e;
  }
  assert.fail(`expected ${code}`);
}

function tsNs(sec: number, nsec: number): bigint {
  return BigInt(sec) * 1_000_000_000n + BigInt(nsec);
}

before(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ptfs-sys-'));
  dfd = sys.openat(AT_FDCWD, tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
});

after(() => {
  sys.close(dfd);
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('open/read/write', () => {
  test('round trip with read, write, pread, pwrite, readv, writev', () => {
    const fd = sys.openat(dfd, 'rw', O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o644);
    try {
      assert.equal(sys.write(fd, Buffer.from('hello world')), 11);
      assert.equal(sys.pwrite(fd, Buffer.from('WORLD'), 6), 5);
      const b = Buffer.alloc(32);
      assert.equal(sys.pread(fd, b, 0), 11);
      assert.equal(b.toString('utf8', 0, 11), 'hello WORLD');
      // subarray views go to the kernel in place
      assert.equal(sys.pread(fd, b.subarray(20, 23), 6), 3);
      assert.equal(b.toString('utf8', 20, 23), 'WOR');
      assert.equal(sys.lseek(fd, 0, SEEK_SET), 0);
      assert.equal(sys.read(fd, b.subarray(0, 5)), 5);
      assert.equal(b.toString('utf8', 0, 5), 'hello');
      // gather write: header + payload in one syscall
      assert.equal(sys.lseek(fd, 0, SEEK_SET), 0);
      assert.equal(sys.writev(fd, [Buffer.from('head:'), new Uint8Array([0x70, 0x61, 0x79]), Buffer.alloc(0)]), 8);
      const p1 = Buffer.alloc(3);
      const p2 = Buffer.alloc(5);
      assert.equal(sys.lseek(fd, 0, SEEK_SET), 0);
      assert.equal(sys.readv(fd, [p1, p2]), 8);
      assert.equal(p1.toString() + p2.toString(), 'head:pay');
      assert.equal(sys.pwritev(fd, [Buffer.from('ab'), Buffer.from('cd')], 100), 4);
      const q = [Buffer.alloc(1), Buffer.alloc(3)];
      assert.equal(sys.preadv(fd, q, 100), 4);
      assert.equal(Buffer.concat(q).toString(), 'abcd');
      assert.equal(fs.readFileSync(path.join(tmp, 'rw'), 'latin1').slice(0, 11), 'head:payRLD');
      const fl = sys.fcntl(fd, F_GETFL);
      assert.equal(fl & 3, O_RDWR);
      sys.fcntl(fd, F_SETFL, fl | 0o2000);
      assert.ok(sys.fcntl(fd, F_GETFL) & 0o2000);
      sys.ftruncate(fd, 3);
      assert.equal(sys.fstat(fd).size, 3);
      sys.fsync(fd);
      sys.fdatasync(fd);
      sys.syncfs(fd);
      const fd2 = sys.dup(fd);
      const fd3 = sys.dup3(fd2, fd2 + 10, O_CLOEXEC);
      sys.close(fd2);
      sys.close(fd3);
    } finally {
      sys.close(fd);
    }
    sys.truncate(path.join(tmp, 'rw'), 1);
    assert.throws(() => sys.statx(dfd, 'rw', 0, STATX_BASIC_STATS, Buffer.alloc(100)), RangeError);
    // close_range: set close-on-exec on a range
    const plain = sys.openat(dfd, 'rw', O_RDONLY);
    assert.equal(sys.fcntl(plain, sys.F_GETFD) & sys.FD_CLOEXEC, 0);
    sys.closeRange(plain, plain, sys.CLOSE_RANGE_CLOEXEC);
    assert.equal(sys.fcntl(plain, sys.F_GETFD) & sys.FD_CLOEXEC, sys.FD_CLOEXEC);
    sys.closeRange(plain, plain);
    expectErr(() => sys.close(plain), 'EBADF');
    assert.equal(fs.statSync(path.join(tmp, 'rw')).size, 1);
  });

  test('Buffer paths: NUL after the view is used in place, others are copied', () => {
    fs.writeFileSync(path.join(tmp, 'bufpath'), 'x');
    const big = Buffer.from('xxbufpath\0yy');
    const view = big.subarray(2, 9); // followed by NUL
    assert.equal(sys.cstr(view), view);
    const fd = sys.openat(dfd, view, O_RDONLY | O_CLOEXEC);
    sys.close(fd);
    const noNul = Buffer.from('bufpathZZ').subarray(0, 7);
    assert.notEqual(sys.cstr(noNul), noNul);
    const fd2 = sys.openat(dfd, noNul, O_RDONLY | O_CLOEXEC);
    sys.close(fd2);
    // two path arguments in one call use separate scratch buffers
    sys.linkat(dfd, Buffer.from('bufpath!').subarray(0, 7), dfd, Buffer.from('bufpath2?').subarray(0, 8));
    assert.equal(fs.statSync(path.join(tmp, 'bufpath2')).nlink, 2);
  });
});

describe('stat', () => {
  test('statx fields match fs.statSync', () => {
    const p = path.join(tmp, 'st');
    fs.writeFileSync(p, 'some content');
    const s = sys.statx(dfd, 'st', AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS | STATX_BTIME | STATX_MNT_ID);
    const n = fs.statSync(p, { bigint: true });
    assert.equal(s.ino, n.ino);
    assert.equal(s.size, Number(n.size));
    assert.equal(s.mode, Number(n.mode));
    assert.equal(s.mode & S_IFMT, S_IFREG);
    assert.equal(s.nlink, Number(n.nlink));
    assert.equal(s.uid, Number(n.uid));
    assert.equal(s.gid, Number(n.gid));
    assert.equal(s.blocks, Number(n.blocks));
    assert.equal(tsNs(s.mtime, s.mtimeNsec), n.mtimeNs);
    assert.equal(tsNs(s.atime, s.atimeNsec), n.atimeNs);
    assert.equal(tsNs(s.ctime, s.ctimeNsec), n.ctimeNs);
    if (s.mask & STATX_BTIME) assert.equal(tsNs(s.btime, s.btimeNsec), n.birthtimeNs);
    assert.equal(sys.makedev(s.devMajor, s.devMinor), n.dev);
    assert.ok(s.mask & STATX_MNT_ID);
    assert.ok(s.mntId > 0n);

    // caller-supplied buffer, raw fields readable from it
    const out = Buffer.alloc(sys.SIZEOF_STATX);
    sys.statx(dfd, 'st', 0, STATX_BASIC_STATS, out);
    assert.equal(out.readBigUInt64LE(sys.StatxOff.ino), n.ino);
    assert.equal(sys.statxInto(dfd, 'st', 0, STATX_BASIC_STATS, out), 0);
    assert.equal(sys.statxInto(dfd, 'nope', 0, STATX_BASIC_STATS, out), -os.constants.errno.ENOENT);

    const st = sys.fstatat(dfd, 'st', AT_SYMLINK_NOFOLLOW);
    assert.equal(st.ino, n.ino);
    assert.equal(st.dev, n.dev);
    assert.equal(st.mode, Number(n.mode));
    assert.equal(st.size, Number(n.size));
    assert.equal(st.blksize, Number(n.blksize));
    assert.equal(tsNs(st.mtime, st.mtimeNsec), n.mtimeNs);
    const fd = sys.openat(dfd, 'st', O_RDONLY | O_CLOEXEC);
    assert.deepEqual(sys.fstat(fd), st);
    const sf = sys.fstatfs(fd);
    assert.deepEqual(sys.statfs(p), sf);
    const nsf = fs.statfsSync(p);
    assert.equal(sf.type, nsf.type);
    assert.equal(sf.bsize, nsf.bsize);
    assert.equal(sf.files, nsf.files);
    const sv = sys.fstatvfs(fd);
    assert.equal(sv.namemax, sf.namelen);
    assert.equal(sv.blocks, sf.blocks);
    sys.close(fd);
  });

  test('STATX_MNT_ID_UNIQUE matches name_to_handle_at AT_HANDLE_MNT_ID_UNIQUE', () => {
    const s = sys.statx(dfd, 'st', 0, STATX_MNT_ID_UNIQUE);
    assert.ok(s.mask & STATX_MNT_ID_UNIQUE);
    const h = sys.nameToHandleAt(dfd, 'st', AT_HANDLE_MNT_ID_UNIQUE);
    assert.equal(h.mountId, s.mntId);
    const legacy = sys.nameToHandleAt(dfd, 'st', 0);
    assert.equal(legacy.mountId, sys.statx(dfd, 'st', 0, STATX_MNT_ID).mntId);
  });
});

describe('errors', () => {
  test('errno names from real failures', () => {
    expectErr(() => sys.openat(dfd, 'missing', O_RDONLY), 'ENOENT', 'openat');
    fs.mkdirSync(path.join(tmp, 'edir'));
    expectErr(() => sys.mkdirat(dfd, 'edir', 0o755), 'EEXIST', 'mkdirat');
    fs.writeFileSync(path.join(tmp, 'efile'), '');
    expectErr(() => sys.openat(dfd, 'efile/x', O_RDONLY), 'ENOTDIR');
    fs.symlinkSync('efile', path.join(tmp, 'elink'));
    expectErr(() => sys.openat(dfd, 'elink', O_RDONLY | O_NOFOLLOW), 'ELOOP');
    expectErr(() => sys.lseek(dfd, 0, 99), 'EINVAL', 'lseek');
    expectErr(() => sys.openat2(dfd, 'efile', O_RDONLY, 0, 0x1000), 'EINVAL', 'openat2');
    expectErr(() => sys.openat2(dfd, '../x', O_RDONLY, 0, RESOLVE_BENEATH), 'EXDEV', 'openat2');
    expectErr(() => sys.close(987654), 'EBADF', 'close');
    const e = expectErr(() => sys.unlinkat(dfd, 'edir', 0), 'EISDIR');
    assert.match(e.message, /unlinkat: EISDIR/);
  });

  test('openat2 RESOLVE_BENEATH and RESOLVE_NO_MAGICLINKS', () => {
    const fd = sys.openat2(dfd, 'efile', O_RDONLY | O_CLOEXEC, 0, RESOLVE_BENEATH);
    const magic = `/proc/self/fd/${fd}`;
    const fd2 = sys.openat2(AT_FDCWD, magic, O_RDONLY | O_CLOEXEC, 0, 0);
    sys.close(fd2);
    expectErr(() => sys.openat2(AT_FDCWD, magic, O_RDONLY | O_CLOEXEC, 0, RESOLVE_NO_MAGICLINKS), 'ELOOP');
    sys.close(fd);
  });
});

describe('names', () => {
  test('renameat2 RENAME_NOREPLACE and RENAME_EXCHANGE', () => {
    fs.writeFileSync(path.join(tmp, 'ra'), 'A');
    fs.writeFileSync(path.join(tmp, 'rb'), 'B');
    expectErr(() => sys.renameat2(dfd, 'ra', dfd, 'rb', RENAME_NOREPLACE), 'EEXIST', 'renameat2');
    sys.renameat2(dfd, 'ra', dfd, 'rb', RENAME_EXCHANGE);
    assert.equal(fs.readFileSync(path.join(tmp, 'ra'), 'utf8'), 'B');
    assert.equal(fs.readFileSync(path.join(tmp, 'rb'), 'utf8'), 'A');
    sys.renameat2(dfd, 'ra', dfd, 'rc', RENAME_NOREPLACE);
    assert.ok(!fs.existsSync(path.join(tmp, 'ra')));
    assert.equal(fs.readFileSync(path.join(tmp, 'rc'), 'utf8'), 'B');
  });

  test('linkat, including AT_EMPTY_PATH on an O_PATH fd', () => {
    fs.writeFileSync(path.join(tmp, 'la'), 'L');
    sys.linkat(dfd, 'la', dfd, 'lb', 0);
    assert.equal(fs.statSync(path.join(tmp, 'la')).nlink, 2);
    const pfd = sys.openat(dfd, 'la', O_PATH | O_CLOEXEC);
    sys.linkat(pfd, '', dfd, 'lc', AT_EMPTY_PATH);
    sys.close(pfd);
    assert.equal(fs.statSync(path.join(tmp, 'la')).nlink, 3);
    sys.unlinkat(dfd, 'lc');
    sys.mkdirat(dfd, 'ldir', 0o700);
    assert.equal(fs.statSync(path.join(tmp, 'ldir')).mode & 0o7777, 0o700 & ~process.umask());
    sys.unlinkat(dfd, 'ldir', AT_REMOVEDIR);
    assert.ok(!fs.existsSync(path.join(tmp, 'ldir')));
  });

  test('mknodat fifo', () => {
    sys.mknodat(dfd, 'fifo', S_IFIFO | 0o644, 0);
    const s = sys.statx(dfd, 'fifo', AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS);
    assert.equal(s.mode & S_IFMT, S_IFIFO);
    assert.ok(fs.statSync(path.join(tmp, 'fifo')).isFIFO());
  });

  test('symlinkat/readlinkat, also through an O_PATH fd', () => {
    const target = Buffer.from([0x74, 0xff, 0x2f, 0x78]); // not valid UTF-8
    sys.symlinkat(target, dfd, 'sl');
    assert.deepEqual(sys.readlinkat(dfd, 'sl'), target);
    const pfd = sys.openat(dfd, 'sl', O_PATH | O_NOFOLLOW | O_CLOEXEC);
    assert.deepEqual(sys.readlinkat(pfd, ''), target);
    assert.equal(sys.statx(pfd, '', AT_EMPTY_PATH, STATX_BASIC_STATS).mode & S_IFMT, S_IFLNK);
    sys.close(pfd);
    const small = Buffer.alloc(2);
    assert.equal(sys.readlinkatInto(dfd, 'sl', small), 2);
  });

  test('faccessat', () => {
    sys.faccessat(dfd, 'rw', 4, 0);
    expectErr(() => sys.faccessat(dfd, 'nothing', 0, 0), 'ENOENT');
  });
});

describe('getdents64', () => {
  test('lists exactly the created names, with stable d_off cookies', () => {
    const dir = path.join(tmp, 'dents');
    fs.mkdirSync(dir);
    const names = new Set<string>();
    for (let i = 0; i < 60; i++) names.add(`entry-${i}-${'x'.repeat(i % 13)}`);
    for (const n of names) fs.writeFileSync(path.join(dir, n), '');
    fs.mkdirSync(path.join(dir, 'sub'));
    fs.symlinkSync('x', path.join(dir, 'lnk'));
    names.add('sub');
    names.add('lnk');

    const fd = sys.openat(AT_FDCWD, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    const buf = Buffer.alloc(512); // small: several calls
    const all: sys.Dirent[] = [];
    for (;;) {
      const n = sys.getdents64(fd, buf);
      if (n === 0) break;
      for (const d of sys.dirents(buf, n)) all.push({ ...d, name: Buffer.from(d.name) });
    }
    const got = all.map((d) => d.name.toString());
    assert.deepEqual(new Set(got.filter((n) => n !== '.' && n !== '..')), names);
    assert.equal(got.length, names.size + 2);
    const byName = new Map(all.map((d) => [d.name.toString(), d]));
    assert.equal(byName.get('sub')!.type, DT_DIR);
    assert.equal(byName.get('lnk')!.type, DT_LNK);
    assert.equal(byName.get('entry-1-x')!.type, DT_REG);
    assert.equal(byName.get('entry-1-x')!.ino, fs.statSync(path.join(dir, 'entry-1-x'), { bigint: true }).ino);

    // resume from each of a few cookies: the rest of the listing follows
    for (const k of [0, 7, 31, all.length - 2]) {
      const cookie = all[k]!.off;
      assert.equal(sys.lseekBig(fd, cookie, SEEK_SET), cookie);
      const rest: string[] = [];
      const c = new sys.DirentCursor();
      for (;;) {
        const n = sys.getdents64(fd, buf);
        if (n === 0) break;
        c.reset(buf, n);
        while (c.next()) rest.push(c.name.toString());
      }
      assert.deepEqual(rest, got.slice(k + 1));
    }

    // names are views followed by their NUL: usable as paths without a copy
    sys.lseek(fd, 0, SEEK_SET);
    const n = sys.getdents64(fd, buf);
    const c = new sys.DirentCursor(buf, n);
    let checked = 0;
    while (c.next()) {
      if (c.isDots) continue;
      const nm = c.name;
      assert.equal(sys.cstr(nm), nm);
      assert.equal(sys.statx(fd, nm, AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS).ino, c.ino);
      assert.equal(c.inoNumber, Number(c.ino));
      checked++;
    }
    assert.ok(checked > 0);
    sys.close(fd);
  });
});

describe('xattrs', () => {
  test('regular file: fd, path and *at forms, size probe, flags', () => {
    const p = path.join(tmp, 'xf');
    fs.writeFileSync(p, '');
    const fd = sys.openat(dfd, 'xf', O_RDWR | O_CLOEXEC);
    sys.fsetxattr(fd, 'user.one', Buffer.from('value-1'), XATTR_CREATE);
    expectErr(() => sys.fsetxattr(fd, 'user.one', Buffer.from('v'), XATTR_CREATE), 'EEXIST', 'fsetxattr');
    expectErr(() => sys.fsetxattr(fd, 'user.none', Buffer.from('v'), XATTR_REPLACE), 'ENODATA');
    assert.equal(sys.fgetxattr(fd, 'user.one', null), 7);
    const b = Buffer.alloc(64);
    assert.equal(sys.fgetxattr(fd, 'user.one', b), 7);
    assert.equal(b.toString('utf8', 0, 7), 'value-1');
    assert.equal(sys.xattrBuffer((x) => sys.fgetxattr(fd, 'user.one', x)).toString(), 'value-1');
    expectErr(() => sys.fgetxattr(fd, 'user.one', Buffer.alloc(3)), 'ERANGE');
    expectErr(() => sys.fgetxattr(fd, 'user.nope', b), 'ENODATA');

    sys.setxattr(p, 'user.two', Buffer.from('2'));
    sys.lsetxattr(p, 'user.three', Buffer.from(''));
    assert.equal(sys.getxattr(p, 'user.two', b), 1);
    assert.equal(sys.lgetxattr(p, 'user.three', null), 0);
    const n = sys.flistxattr(fd, null);
    const lb = Buffer.alloc(n);
    assert.equal(sys.flistxattr(fd, lb), n);
    const names = sys.splitXattrList(lb).map(String).sort();
    assert.deepEqual(names.filter((x) => x.startsWith('user.')), ['user.one', 'user.three', 'user.two']);
    assert.equal(sys.listxattr(p, null), n);
    assert.equal(sys.llistxattr(p, null), n);
    sys.removexattr(p, 'user.two');
    sys.lremovexattr(p, 'user.three');
    sys.fremovexattr(fd, 'user.one');
    assert.equal(sys.flistxattr(fd, null), sys.listxattr(p, null));
    expectErr(() => sys.fgetxattr(fd, 'user.one', null), 'ENODATA');
    sys.close(fd);

    if (sys.xattrAtSupport().syscalls) {
      sys.setxattrat(dfd, 'xf', 0, 'user.at', Buffer.from('at-value'), XATTR_CREATE);
      assert.equal(sys.getxattrat(dfd, 'xf', 0, 'user.at', null), 8);
      assert.equal(sys.getxattrat(dfd, 'xf', 0, 'user.at', b), 8);
      assert.equal(b.toString('utf8', 0, 8), 'at-value');
      assert.ok(sys.listxattrat(dfd, 'xf', 0, null) >= 8);
      sys.removexattrat(dfd, 'xf', 0, 'user.at');
      expectErr(() => sys.getxattrat(dfd, 'xf', 0, 'user.at', b), 'ENODATA', 'getxattrat');
    }
  });

  test('symlink: trusted.* through parent+name, O_PATH fd and /proc/self/fd fallback', () => {
    fs.writeFileSync(path.join(tmp, 'xtarget'), '');
    fs.symlinkSync('xtarget', path.join(tmp, 'xl'));
    const lp = path.join(tmp, 'xl');
    // user.* is refused on symlinks
    expectErr(() => sys.lsetxattr(lp, 'user.x', Buffer.from('v')), 'EPERM');
    sys.lsetxattr(lp, 'trusted.t', Buffer.from('on-link'));
    const b = Buffer.alloc(64);
    assert.equal(sys.lgetxattr(lp, 'trusted.t', b), 7);
    expectErr(() => sys.getxattr(lp, 'trusted.t', b), 'ENODATA'); // follows to the target

    const sup = sys.xattrAtSupport();
    const pfd = sys.openat(dfd, 'xl', O_PATH | O_NOFOLLOW | O_CLOEXEC);
    try {
      if (sup.syscalls) {
        // parent dirfd + name + AT_SYMLINK_NOFOLLOW: no /proc needed
        assert.equal(sys.getxattrat(dfd, 'xl', AT_SYMLINK_NOFOLLOW, 'trusted.t', b), 7);
        if (sup.opathEmptyPath) {
          assert.equal(sys.getxattrat(pfd, '', AT_EMPTY_PATH, 'trusted.t', b), 7);
        } else {
          // 6.13–6.18: the empty-path case uses fdget(), which refuses O_PATH fds
          expectErr(() => sys.getxattrat(pfd, '', AT_EMPTY_PATH, 'trusted.t', b), 'EBADF', 'getxattrat');
        }
      }
      // the helpers pick a working method either way
      b.fill(0);
      assert.equal(sys.getxattrFd(pfd, true, 'trusted.t', b), 7);
      assert.equal(b.toString('utf8', 0, 7), 'on-link');
      sys.setxattrFd(pfd, true, 'trusted.u', Buffer.from('uu'), XATTR_CREATE);
      assert.equal(sys.lgetxattr(lp, 'trusted.u', b), 2);
      const n = sys.listxattrFd(pfd, true, b);
      assert.deepEqual(sys.splitXattrList(b, n).map(String).sort(), ['trusted.t', 'trusted.u']);
      sys.removexattrFd(pfd, true, 'trusted.u');
      expectErr(() => sys.lgetxattr(lp, 'trusted.u', b), 'ENODATA');
      // the target is untouched
      assert.equal(sys.listxattr(path.join(tmp, 'xtarget'), null), 0);
    } finally {
      sys.close(pfd);
    }
  });
});

describe('file handles', () => {
  test('name_to_handle_at + open_by_handle_at round trip', () => {
    fs.writeFileSync(path.join(tmp, 'hf'), 'handle-data');
    const { handle } = sys.nameToHandleAt(dfd, 'hf', 0);
    const fh = sys.decodeFileHandle(handle);
    assert.ok(fh.bytes.length > 0 && fh.bytes.length <= sys.MAX_HANDLE_SZ);
    const copy = sys.encodeFileHandle({ type: fh.type, bytes: Buffer.from(fh.bytes) });
    assert.deepEqual(copy, handle);
    const fd = sys.openByHandleAt(dfd, copy, O_RDONLY | O_CLOEXEC);
    const b = Buffer.alloc(32);
    assert.equal(sys.read(fd, b), 11);
    assert.equal(b.toString('utf8', 0, 11), 'handle-data');
    sys.close(fd);
    // O_PATH fd + AT_EMPTY_PATH gives the same handle
    const pfd = sys.openat(dfd, 'hf', O_PATH | O_CLOEXEC);
    assert.deepEqual(sys.nameToHandleAt(pfd, '', AT_EMPTY_PATH).handle, handle);
    sys.close(pfd);
    fs.unlinkSync(path.join(tmp, 'hf'));
    expectErr(() => sys.openByHandleAt(dfd, handle, O_RDONLY), 'ESTALE');
  });
});

describe('credentials', () => {
  test('setfsuid/setfsgid change the owner of new files, per thread', () => {
    const dir = path.join(tmp, 'cred');
    fs.mkdirSync(dir, { mode: 0o777 });
    fs.chmodSync(dir, 0o777);
    // a dirfd opened beforehand: the new fsuid cannot search the 0700 temp dir above
    const cfd = sys.openat(AT_FDCWD, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    const prevU = sys.setfsuid(12345);
    const prevG = sys.setfsgid(23456);
    let fd = -1;
    try {
      assert.equal(prevU, 0);
      assert.equal(sys.setfsuid(12345), 12345); // the return is the previous value
      fd = sys.openat(cfd, 'owned', O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600);
    } finally {
      sys.setfsuid(prevU);
      sys.setfsgid(prevG);
    }
    sys.close(fd);
    sys.close(cfd);
    const st = fs.statSync(path.join(dir, 'owned'));
    assert.equal(st.uid, 12345);
    assert.equal(st.gid, 23456);
    assert.equal(sys.setfsuid(0), 0);
    assert.equal(sys.getuid(), process.getuid!());
    assert.equal(sys.geteuid(), process.geteuid!());
    assert.equal(sys.getgid(), process.getgid!());
    assert.equal(sys.getegid(), process.getegid!());
    assert.equal(sys.getpid(), process.pid);
    assert.equal(sys.gettid(), process.pid); // main thread
  });

  test('raw setgroups/setresgid only change the calling thread', () => {
    const before = sys.getgroups();
    const others = fs.readdirSync('/proc/self/task').map(Number).filter((t) => t !== sys.gettid());
    assert.ok(others.length > 0);
    const groupsOf = (tid: number): string =>
      fs.readFileSync(`/proc/self/task/${tid}/status`, 'utf8').match(/^Groups:(.*)$/m)![1]!.trim();
    const gidOf = (tid: number): string => fs.readFileSync(`/proc/self/task/${tid}/status`, 'utf8').match(/^Gid:(.*)$/m)![1]!.trim();
    const otherBefore = groupsOf(others[0]!);
    const otherGid = gidOf(others[0]!);
    try {
      sys.setgroups([4242, 4343]);
      assert.deepEqual(sys.getgroups(), [4242, 4343]);
      assert.equal(groupsOf(sys.gettid()), '4242 4343');
      assert.equal(groupsOf(others[0]!), otherBefore);
      sys.setresgid(-1, 777, -1);
      assert.equal(sys.getegid(), 777);
      assert.equal(gidOf(others[0]!), otherGid);
      sys.setresuid(-1, 0, -1); // no-op change is allowed
    } finally {
      sys.setresgid(-1, 0, -1);
      sys.setgroups(before);
    }
    assert.deepEqual(sys.getgroups(), before);
    assert.equal(sys.getegid(), 0);
  });

  test('unshare(CLONE_FS) gives a thread its own umask', async () => {
    const { Worker } = await import('node:worker_threads');
    const url = new URL('../src/sys/index.js', import.meta.url).href;
    const code = `
      const { parentPort } = require('node:worker_threads');
      import(${JSON.stringify(url)}).then((sys) => {
        sys.unshare(sys.CLONE_FS);
        sys.umask(0o077);
        parentPort.postMessage({ tid: sys.gettid(), mask: sys.umask(0o077) });
      }).catch((e) => parentPort.postMessage({ error: String(e) }));
    `;
    const before = process.umask();
    const w = new Worker(code, { eval: true });
    const msg = await new Promise<{ tid?: number; mask?: number; error?: string }>((resolve, reject) => {
      w.once('message', resolve);
      w.once('error', reject);
    });
    await w.terminate();
    assert.equal(msg.error, undefined);
    assert.equal(msg.mask, 0o077);
    assert.notEqual(msg.tid, process.pid);
    assert.equal(process.umask(), before);
  });

  test('umask and prctl', () => {
    const old = sys.umask(0o027);
    assert.equal(sys.umask(old), 0o027);
    const name = Buffer.alloc(16);
    sys.prctl(sys.PR_GET_NAME, sys.addressOf(name));
    assert.ok(name.indexOf(0) > 0);
  });
});

describe('times and space', () => {
  test('utimensat on an O_PATH fd with AT_EMPTY_PATH, and the null-path form', () => {
    fs.writeFileSync(path.join(tmp, 'tf'), '');
    fs.symlinkSync('tf', path.join(tmp, 'tl'));
    const pfd = sys.openat(dfd, 'tl', O_PATH | O_NOFOLLOW | O_CLOEXEC);
    sys.utimensat(pfd, '', { atime: 1_000_000, atimeNsec: 5, mtime: 2_000_000, mtimeNsec: 123_456_789 }, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW);
    let st = fs.lstatSync(path.join(tmp, 'tl'), { bigint: true });
    assert.equal(st.mtimeNs, 2_000_000_123_456_789n);
    assert.equal(st.atimeNs, 1_000_000_000_000_005n);
    assert.notEqual(fs.statSync(path.join(tmp, 'tf'), { bigint: true }).mtimeNs, st.mtimeNs);
    sys.utimensat(pfd, null, { atime: 0, atimeNsec: UTIME_OMIT, mtime: 3_000_000, mtimeNsec: 0 }, AT_SYMLINK_NOFOLLOW);
    st = fs.lstatSync(path.join(tmp, 'tl'), { bigint: true });
    assert.equal(st.mtimeNs, 3_000_000_000_000_000n);
    assert.equal(st.atimeNs, 1_000_000_000_000_005n);
    sys.close(pfd);
    const fd = sys.openat(dfd, 'tf', O_RDONLY | O_CLOEXEC);
    sys.futimens(fd, { atime: -1, atimeNsec: 0, mtime: 86400, mtimeNsec: 1 });
    st = fs.statSync(path.join(tmp, 'tf'), { bigint: true });
    assert.equal(st.mtimeNs, 86_400_000_000_001n);
    assert.equal(st.atimeNs, -1_000_000_000n);
    sys.close(fd);
  });

  test('fchmodat/fchownat through an O_PATH fd', () => {
    fs.writeFileSync(path.join(tmp, 'cf'), '');
    const pfd = sys.openat(dfd, 'cf', O_PATH | O_CLOEXEC);
    sys.fchmodat(pfd, '', 0o640, AT_EMPTY_PATH);
    sys.fchownat(pfd, '', 1001, -1, AT_EMPTY_PATH);
    const st = fs.statSync(path.join(tmp, 'cf'));
    assert.equal(st.mode & 0o7777, 0o640);
    assert.equal(st.uid, 1001);
    assert.equal(st.gid, 0);
    expectErr(() => sys.fchmod(pfd, 0o600), 'EBADF');
    sys.close(pfd);
    const fd = sys.openat(dfd, 'cf', O_RDONLY | O_CLOEXEC);
    sys.fchmod(fd, 0o604);
    sys.fchown(fd, 0, 0);
    sys.close(fd);
    sys.fchmodat(dfd, 'cf', 0o600);
    assert.equal(fs.statSync(path.join(tmp, 'cf')).mode & 0o7777, 0o600);
  });

  test('fallocate and SEEK_DATA/SEEK_HOLE on a sparse file', () => {
    const fd = sys.openat(dfd, 'sparse', O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644);
    const MB = 1 << 20;
    sys.ftruncate(fd, 4 * MB);
    sys.pwrite(fd, Buffer.alloc(64 * 1024, 0xab), MB);
    assert.equal(sys.lseek(fd, 0, SEEK_DATA), MB);
    assert.equal(sys.lseek(fd, MB, SEEK_HOLE), MB + 64 * 1024);
    expectErr(() => sys.lseek(fd, 2 * MB, SEEK_DATA), 'ENXIO');
    sys.fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, MB, 32 * 1024);
    assert.equal(sys.lseek(fd, 0, SEEK_DATA), MB + 32 * 1024);
    const before = sys.fstat(fd).blocks;
    sys.fallocate(fd, FALLOC_FL_KEEP_SIZE, 5 * MB, MB);
    assert.equal(sys.fstat(fd).size, 4 * MB);
    assert.ok(sys.fstat(fd).blocks >= before + 2048);
    sys.fallocate(fd, 0, 0, 8 * MB);
    assert.equal(sys.fstat(fd).size, 8 * MB);
    sys.close(fd);
  });

  test('copy_file_range with explicit and implicit offsets', () => {
    fs.writeFileSync(path.join(tmp, 'cfr-src'), '0123456789abcdef');
    const a = sys.openat(dfd, 'cfr-src', O_RDONLY | O_CLOEXEC);
    const b = sys.openat(dfd, 'cfr-dst', O_RDWR | O_CREAT | O_CLOEXEC, 0o644);
    assert.equal(sys.copyFileRange(a, 10, b, 0, 6), 6);
    assert.equal(sys.lseek(a, 0, 1), 0); // explicit offsets leave positions alone
    assert.equal(sys.copyFileRange(a, null, b, 6n, 4), 4);
    assert.equal(sys.lseek(a, 0, 1), 4);
    assert.equal(fs.readFileSync(path.join(tmp, 'cfr-dst'), 'utf8'), 'abcdef0123');
    sys.close(a);
    sys.close(b);
  });
});

describe('locks', () => {
  test('OFD record locks conflict between two open file descriptions', async () => {
    fs.writeFileSync(path.join(tmp, 'lk'), 'lock me');
    const a = sys.openat(dfd, 'lk', O_RDWR | O_CLOEXEC);
    const b = sys.openat(dfd, 'lk', O_RDWR | O_CLOEXEC);
    try {
      sys.fcntlLock(a, F_OFD_SETLK, { type: F_WRLCK, whence: SEEK_SET, start: 0, len: 4, pid: 0 });
      const e = expectErr(() => sys.fcntlLock(b, F_OFD_SETLK, { type: F_RDLCK, whence: SEEK_SET, start: 2, len: 1, pid: 0 }), 'EAGAIN', 'fcntl');
      assert.equal(e.errno, os.constants.errno.EWOULDBLOCK);
      // a non-overlapping range is fine
      sys.fcntlLock(b, F_OFD_SETLK, { type: F_WRLCK, whence: SEEK_SET, start: 4, len: 2, pid: 0 });
      const q = sys.fcntlLock(b, F_OFD_GETLK, { type: F_WRLCK, whence: SEEK_SET, start: 0, len: 0, pid: 0 });
      assert.equal(q.type, F_WRLCK);
      assert.equal(q.start, 0);
      assert.equal(q.len, 4);
      assert.equal(q.pid, -1); // OFD lock holder
      const free = sys.fcntlLock(b, F_OFD_GETLK, { type: F_WRLCK, whence: SEEK_SET, start: 100, len: 1, pid: 0 });
      assert.equal(free.type, F_UNLCK);

      // a waiting lock on the thread pool is granted once the holder unlocks
      let granted = false;
      const p = sys.fcntlLockAsync(b, F_OFD_SETLKW, { type: F_WRLCK, whence: SEEK_SET, start: 0, len: 4, pid: 0 }).then(() => {
        granted = true;
      });
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(granted, false);
      sys.fcntlLock(a, F_OFD_SETLK, { type: F_UNLCK, whence: SEEK_SET, start: 0, len: 0, pid: 0 });
      await p;
      assert.equal(granted, true);
      expectErr(() => sys.fcntlLock(a, F_OFD_SETLK, { type: F_WRLCK, whence: SEEK_SET, start: 0, len: 1, pid: 0 }), 'EAGAIN');
    } finally {
      sys.close(a);
      sys.close(b);
    }
  });

  test('flock conflicts, LOCK_NB, and flockAsync', async () => {
    const a = sys.openat(dfd, 'lk', O_RDONLY | O_CLOEXEC);
    const b = sys.openat(dfd, 'lk', O_RDONLY | O_CLOEXEC);
    try {
      sys.flock(a, LOCK_EX);
      expectErr(() => sys.flock(b, LOCK_EX | LOCK_NB), 'EAGAIN', 'flock');
      let granted = false;
      const p = sys.flockAsync(b, LOCK_EX).then(() => {
        granted = true;
      });
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(granted, false);
      sys.flock(a, LOCK_UN);
      await p;
      assert.equal(granted, true);
      expectErr(() => sys.flock(a, LOCK_EX | LOCK_NB), 'EAGAIN');
      await assert.rejects(sys.flockAsync(987654, LOCK_EX), (e: unknown) => e instanceof sys.SysError && e.code === 'EBADF');
    } finally {
      sys.close(a);
      sys.close(b);
    }
  });
});

describe('sockets, pipes, poll', () => {
  test('socketpair + sendFd/recvFd', () => {
    const [s1, s2] = sys.socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC);
    fs.writeFileSync(path.join(tmp, 'passed'), 'passed-over');
    const fd = sys.openat(dfd, 'passed', O_RDONLY | O_CLOEXEC);
    sys.sendFd(s1, fd);
    const got = sys.recvFd(s2);
    assert.notEqual(got, fd);
    assert.equal(sys.statx(got, '', AT_EMPTY_PATH, STATX_BASIC_STATS).ino, sys.statx(fd, '', AT_EMPTY_PATH, STATX_BASIC_STATS).ino);
    const b = Buffer.alloc(16);
    assert.equal(sys.pread(got, b, 0), 11);
    assert.equal(b.toString('utf8', 0, 11), 'passed-over');
    assert.ok(sys.fcntl(got, sys.F_GETFD) & sys.FD_CLOEXEC);
    sys.close(got);
    sys.close(fd);
    sys.write(s1, Buffer.from('x'));
    expectErr(() => sys.recvFd(s2), 'EBADMSG');
    sys.close(s1);
    assert.equal(sys.recvFd(s2), -1);
    sys.close(s2);
  });

  test('pipe2, poll, pollAsync, splice, vmsplice, ioctl', async () => {
    const [r, w] = sys.pipe2(O_CLOEXEC);
    const fds = [{ fd: r, events: POLLIN, revents: 0 }];
    assert.equal(sys.poll(fds, 0), 0);
    const later = sys.pollAsync(fds, 5000);
    setTimeout(() => sys.write(w, Buffer.from('ping')), 20);
    assert.equal(await later, 1);
    assert.equal(fds[0]!.revents & POLLIN, POLLIN);
    const n = Buffer.alloc(4);
    sys.ioctlPtr(r, FIONREAD, n);
    // integer-argument form: FICLONE(src fd); ext4 has no reflinks
    const fa = sys.openat(dfd, 'rw', O_RDONLY | O_CLOEXEC);
    const fb = sys.openat(dfd, 'ficlone', O_WRONLY | O_CREAT | O_CLOEXEC, 0o644);
    try {
      sys.ioctl(fb, sys.FICLONE, fa);
    } catch (e) {
      assert.ok(e instanceof sys.SysError && ['ENOTSUP', 'EXDEV', 'EINVAL'].includes(e.code), String(e));
      assert.equal(e.syscall, 'ioctl');
    }
    const flags = Buffer.alloc(8);
    sys.ioctlPtr(fa, sys.FS_IOC_GETFLAGS, flags);
    sys.close(fa);
    sys.close(fb);
    assert.equal(n.readInt32LE(0), 4);
    // pipe -> file with splice at an explicit file offset
    const f = sys.openat(dfd, 'spliced', O_RDWR | O_CREAT | O_CLOEXEC, 0o644);
    assert.equal(sys.splice(r, null, f, 3, 4), 4);
    assert.equal(sys.vmsplice(w, [Buffer.from('ab'), Buffer.from('c')]), 3);
    assert.equal(sys.splice(r, null, f, null, 3), 3);
    const content = fs.readFileSync(path.join(tmp, 'spliced'));
    assert.deepEqual(content, Buffer.from('abcping'));
    assert.equal(await sys.pollAsync([{ fd: r, events: POLLIN, revents: 0 }], 10), 0);
    sys.close(f);
    sys.close(r);
    sys.close(w);
  });
});

describe('mount', () => {
  test('mount tmpfs and umount2 (skipped without CAP_SYS_ADMIN)', (t) => {
    const mp = path.join(tmp, 'mnt');
    fs.mkdirSync(mp);
    try {
      sys.mount('ptfs-test', mp, 'tmpfs', MS_NOSUID, 'size=1m,mode=0755');
    } catch (e) {
      if (e instanceof sys.SysError && e.code === 'EPERM') return t.skip('no permission to mount');
      throw e;
    }
    try {
      assert.equal(sys.statfs(mp).type, 0x01021994);
    } finally {
      sys.umount2(mp, MNT_DETACH);
    }
    assert.notEqual(sys.statfs(mp).type, 0x01021994);
  });
});

describe('struct codecs', () => {
  test('statx round trip', () => {
    const s: sys.Statx = {
      mask: 0x7fff, blksize: 4096, attributes: 0x1234n, nlink: 3, uid: 1000, gid: 100, mode: S_IFDIR | 0o755,
      ino: 0xfedcba9876543210n, size: 2 ** 40 + 5, blocks: 99, attributesMask: 0xffn,
      atime: -5, atimeNsec: 1, btime: 2 ** 33, btimeNsec: 2, ctime: 3, ctimeNsec: 999_999_999, mtime: 4, mtimeNsec: 4,
      rdevMajor: 8, rdevMinor: 1, devMajor: 259, devMinor: 2, mntId: 0x1_0000_0001n, dioMemAlign: 512, dioOffsetAlign: 4096,
      subvol: 7n, atomicWriteUnitMin: 1, atomicWriteUnitMax: 2, atomicWriteSegmentsMax: 3, dioReadOffsetAlign: 4, atomicWriteUnitMaxOpt: 5,
    };
    const b = sys.encodeStatx(s);
    assert.equal(b.length, 256);
    assert.deepEqual(sys.decodeStatx(b), s);
    const reuse = {} as sys.Statx;
    assert.equal(sys.decodeStatx(b, reuse), reuse);
  });

  test('stat round trip in both layouts', () => {
    const s: sys.Stat = {
      dev: sys.makedev(259, 3), ino: 2n ** 63n + 1n, nlink: 2, mode: S_IFREG | 0o4755, uid: 65534, gid: 4294967294,
      rdev: 0n, size: 123456789012, blksize: 4096, blocks: 8, atime: -1, atimeNsec: 5, mtime: 1_700_000_000, mtimeNsec: 6,
      ctime: 7, ctimeNsec: 8,
    };
    for (const arch of ['x64', 'arm64'] as const) {
      const L = sys.statLayout(arch);
      const b = sys.encodeStat(s, undefined, L);
      assert.equal(b.length, arch === 'x64' ? 144 : 128);
      assert.deepEqual(sys.decodeStat(b, L), s);
    }
    assert.equal(sys.SIZEOF_STAT, process.arch === 'arm64' ? 128 : 144);
  });

  test('statfs, statvfs, timespecs, flock, open_how', () => {
    const sf: sys.Statfs = { type: 0xef53, bsize: 4096, blocks: 2 ** 40, bfree: 1, bavail: 2, files: 3, ffree: 4, fsid: [-1, 7], namelen: 255, frsize: 4096, flags: 0x1020 };
    assert.deepEqual(sys.decodeStatfs(sys.encodeStatfs(sf)), sf);
    assert.equal(sys.encodeStatfs(sf).length, 120);
    const sv: sys.Statvfs = { bsize: 4096, frsize: 4096, blocks: 10, bfree: 9, bavail: 8, files: 7, ffree: 6, favail: 5, fsid: 0xdeadbeefcafen, flag: 4096, namemax: 255 };
    assert.deepEqual(sys.decodeStatvfs(sys.encodeStatvfs(sv)), sv);
    const ts: sys.Timespecs = { atime: -(2 ** 40), atimeNsec: sys.UTIME_NOW, mtime: 2 ** 50, mtimeNsec: UTIME_OMIT };
    assert.deepEqual(sys.decodeTimespecs(sys.encodeTimespecs(ts)), ts);
    const fl: sys.Flock = { type: F_WRLCK, whence: 1, start: 2 ** 45, len: -3, pid: 1234 };
    const fb = sys.encodeFlock(fl);
    assert.equal(fb.length, 32);
    assert.equal(fb.readBigInt64LE(8), 2n ** 45n);
    assert.deepEqual(sys.decodeFlock(fb), fl);
    const how: sys.OpenHow = { flags: O_RDWR | O_CREAT | O_CLOEXEC, mode: 0o644, resolve: RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS };
    const hb = sys.encodeOpenHow(how);
    assert.equal(hb.length, 24);
    assert.deepEqual(sys.decodeOpenHow(hb), how);
  });

  test('file_handle, pollfd, iovec, xattr_args, msghdr, cmsg', () => {
    const fh = { type: 0x81, bytes: Buffer.from([1, 2, 3, 4, 5, 6, 7, 8]) };
    const raw = sys.encodeFileHandle(fh);
    assert.equal(raw.length, 16);
    assert.deepEqual(sys.decodeFileHandle(raw), fh);
    const pf = [{ fd: 3, events: POLLIN, revents: 0 }, { fd: -1, events: 0xffff, revents: sys.POLLHUP }];
    assert.deepEqual(sys.decodePollfds(sys.encodePollfds(pf), 2), pf);
    const bufs = [Buffer.alloc(10), Buffer.alloc(20).subarray(5)];
    const iov = sys.decodeIovecs(sys.encodeIovecs(bufs), 2);
    assert.equal(iov[0]!.len, 10);
    assert.equal(iov[1]!.len, 15);
    assert.equal(iov[1]!.base, BigInt(sys.addressOf(bufs[1]!)));
    assert.equal(iov[0]!.base, sys.koffi.address(bufs[0]!));
    const xa: sys.XattrArgs = { value: 0x7fff12345678n, size: 65536, flags: XATTR_REPLACE };
    assert.deepEqual(sys.decodeXattrArgs(sys.encodeXattrArgs(xa)), xa);
    const m: sys.MsgHdr = { name: 0n, namelen: 0, iov: 0x1000n, iovlen: 1, control: 0x2000n, controllen: 24, flags: 0 };
    const mb = sys.encodeMsghdr(m);
    assert.equal(mb.length, 56);
    assert.deepEqual(sys.decodeMsghdr(mb), m);
    const ctl = Buffer.alloc(64);
    const fdsData = Buffer.alloc(8);
    fdsData.writeInt32LE(5, 0);
    fdsData.writeInt32LE(6, 4);
    const clen = sys.encodeCmsgs([{ level: sys.SOL_SOCKET, type: sys.SCM_RIGHTS, data: fdsData }], ctl);
    assert.equal(clen, sys.CMSG_SPACE(8));
    const back = sys.decodeCmsgs(ctl, clen);
    assert.equal(back.length, 1);
    assert.equal(back[0]!.type, sys.SCM_RIGHTS);
    assert.deepEqual(back[0]!.data, fdsData);
    assert.equal(sys.CMSG_SPACE(4), 24);
    assert.equal(sys.CMSG_LEN(4), 20);
  });

  test('dirent encode/decode, dev_t helpers', () => {
    const b = Buffer.alloc(128);
    let pos = 0;
    pos += sys.encodeDirent(b, pos, { ino: 5n, off: 2n ** 63n - 1n, type: DT_REG, name: 'file' });
    pos += sys.encodeDirent(b, pos, { ino: 2n ** 64n - 1n, off: 1n, type: DT_DIR, name: Buffer.from([0xff, 0x41]) });
    const ds = [...sys.dirents(b, pos)];
    assert.equal(ds.length, 2);
    assert.deepEqual(ds.map((d) => [d.ino, d.off, d.type, d.name.toString('latin1')]), [
      [5n, 2n ** 63n - 1n, DT_REG, 'file'],
      [2n ** 64n - 1n, 1n, DT_DIR, '\xffA'],
    ]);
    assert.equal(sys.major(sys.makedev(259, 65536)), 259);
    assert.equal(sys.minor(sys.makedev(259, 65536)), 65536);
    assert.equal(sys.makedev(8, 1), 0x801n);
    assert.equal(sys.major(sys.makedev(0x12345, 0xabcdef)), 0x12345);
    assert.equal(sys.minor(sys.makedev(0x12345, 0xabcdef)), 0xabcdef);
    assert.deepEqual(sys.newDecodeDev(sys.newEncodeDev(259, 70000)), { major: 259, minor: 70000 });
    assert.equal(sys.newEncodeDev(8, 1), 0x801);
    const null_ = fs.statSync('/dev/null', { bigint: true });
    assert.equal(sys.major(null_.rdev), 1);
    assert.equal(sys.minor(null_.rdev), 3);
  });
});

describe('benchmark (informational)', () => {
  test('ns per call: statx, openat+close', () => {
    fs.writeFileSync(path.join(tmp, 'bench'), 'b');
    const name = Buffer.from('bench\0');
    const out = Buffer.alloc(sys.SIZEOF_STATX);
    const N = 100_000;
    const time = (label: string, fn: () => void): void => {
      for (let i = 0; i < 2000; i++) fn();
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < N; i++) fn();
      const ns = Number(process.hrtime.bigint() - t0) / N;
      console.log(`${label}: ${ns.toFixed(0)} ns/call`);
    };
    time('statxInto (dirfd + name)', () => sys.statxInto(dfd, name, AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, out));
    time('statx -> Statx object', () => sys.statx(dfd, name, AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, out));
    time("statx of the dirfd itself ('' + AT_EMPTY_PATH)", () => sys.statxInto(dfd, '', AT_EMPTY_PATH, STATX_BASIC_STATS, out));
    time('openat+close', () => sys.close(sys.openat(dfd, name, O_RDONLY | O_CLOEXEC)));
    time('openat(O_PATH)+close', () => sys.close(sys.openat(dfd, name, O_PATH | O_CLOEXEC)));
    time('fs.statSync (for comparison)', () => fs.statSync(path.join(tmp, 'bench')));
    time('getuid (koffi floor)', () => sys.getuid());
  });
});
