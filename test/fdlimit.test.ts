/**
 * Out of file descriptors (EMFILE): an operation that fails leaves no trace
 * on the host, one that succeeds is complete, and the daemon keeps serving.
 *
 * Through a real mount, the daemon's RLIMIT_NOFILE is lowered (prlimit, soft
 * limit only, so it can be raised again) to leave it one free descriptor:
 * each creating operation needs two (create: the open file and the inode's
 * O_PATH fd; mkdir, mknod, symlink: one, after the object exists), so the
 * limit is reached in the middle of one of them. Called directly, a spare
 * that cannot help shows that what the request made is removed again, and
 * only that.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { join } from 'node:path';
import type { Context } from '../src/fs/context.js';
import { PassthroughFs } from '../src/passthrough/passthrough.js';
import { defaultOptions } from '../src/passthrough/options.js';
import { AT_FDCWD, O_CREAT, O_RDWR, O_TMPFILE, S_IFIFO, SysError, errno as E, mknodat } from '../src/sys/index.js';
import { errnoOf, makeTempDir, removeTempDir, startDaemon, stopDaemonAndRemove, type Daemon } from './helpers.js';

function lowestFreeFd(pid: number): number {
  const used = new Set(fs.readdirSync(`/proc/${pid}/fd`).map(Number));
  let fd = 0;
  while (used.has(fd)) fd++;
  return fd;
}

function softNofile(pid: number): number {
  const m = /^Max open files\s+(\d+)/m.exec(fs.readFileSync(`/proc/${pid}/limits`, 'utf8'));
  assert.ok(m, 'no open files limit');
  return Number(m[1]);
}

function setSoftNofile(pid: number, n: number): void {
  const r = spawnSync('prlimit', ['--pid', String(pid), `--nofile=${n}:`], { encoding: 'utf8' });
  assert.equal(r.status, 0, `prlimit: ${r.stderr}`);
}

const ls = (dir: string) => fs.readdirSync(dir).sort();

describe('out of file descriptors: no trace of what failed', () => {
  let dir: string;
  let src: string;
  let mnt: string;
  let daemon: Daemon | undefined;
  let pid: number;
  let limit: number;

  before(async () => {
    dir = makeTempDir('ptfs-fdlimit-');
    src = join(dir, 'src');
    mnt = join(dir, 'mnt');
    fs.mkdirSync(src);
    fs.mkdirSync(mnt);
    fs.writeFileSync(join(src, 'existing'), 'keep me');
    daemon = await startDaemon('bin/passthroughfs.js', ['mount', src, mnt, '-f'], mnt);
    pid = daemon.child.pid!;
    limit = softNofile(pid);
  });

  after(async () => {
    if (daemon?.child.exitCode === null) setSoftNofile(pid, limit);
    await stopDaemonAndRemove(daemon, dir);
  });

  const ops: Record<string, (p: string) => void> = {
    mkdir: (p) => fs.mkdirSync(p),
    mknod: (p) => mknodat(AT_FDCWD, p, S_IFIFO | 0o644),
    symlink: (p) => fs.symlinkSync('target', p),
    create: (p) => fs.closeSync(fs.openSync(p, 'w')),
    'create O_EXCL': (p) => fs.closeSync(fs.openSync(p, 'wx')),
  };

  for (const [op, run] of Object.entries(ops)) {
    it(`${op}: EMFILE leaves nothing behind, success is complete, the daemon keeps serving`, () => {
      const base = op.replace(/\W/g, '_');
      // Let the daemon settle (and take what it keeps for such moments) at its normal limit.
      fs.mkdirSync(join(mnt, `${base}-warm`));
      const before = ls(src);
      const results: string[] = [];
      setSoftNofile(pid, lowestFreeFd(pid) + 1);
      try {
        for (let i = 0; i < 4; i++) results.push(errnoOf(() => run(join(mnt, `${base}-${i}`))));
      } finally {
        setSoftNofile(pid, limit);
      }
      const made = ls(src).filter((n) => !before.includes(n));
      for (let i = 0; i < 4; i++) {
        const name = `${base}-${i}`;
        if (results[i] === 'ok') assert.ok(made.includes(name), `${name} succeeded but is not in SRC`);
        else assert.ok(!made.includes(name), `${name} failed with ${results[i]} but was left in SRC`);
      }
      assert.ok(results.includes('EMFILE'), `no attempt hit the limit: ${results.join(' ')}`);
      assert.deepEqual(results.filter((r) => r !== 'ok' && r !== 'EMFILE'), []);
      assert.deepEqual(made, results.flatMap((r, i) => (r === 'ok' ? [`${base}-${i}`] : [])).sort());
      // Still serving, creations included.
      assert.equal(errnoOf(() => run(join(mnt, `${base}-after`))), 'ok');
      assert.ok(ls(src).includes(`${base}-after`));
      assert.equal(fs.readFileSync(join(mnt, 'existing'), 'utf8'), 'keep me');
    });
  }

  it('link and O_TMPFILE at the limit: nothing left behind either', () => {
    fs.mkdirSync(join(mnt, 'link-warm'));
    fs.statSync(join(mnt, 'existing')); // fresh in the kernel's cache: the link needs no lookup
    const before = ls(src);
    let results: string[];
    setSoftNofile(pid, lowestFreeFd(pid));
    try {
      results = [
        errnoOf(() => fs.linkSync(join(mnt, 'existing'), join(mnt, 'linked'))),
        errnoOf(() => fs.closeSync(fs.openSync(mnt, O_TMPFILE | O_RDWR, 0o600))),
      ];
    } finally {
      setSoftNofile(pid, limit);
    }
    // A link needs no descriptor; an unnamed file is gone with its descriptor.
    assert.deepEqual(results, ['ok', 'EMFILE']);
    assert.deepEqual(ls(src), [...before, 'linked'].sort());
    assert.equal(fs.statSync(join(src, 'existing')).nlink, 2);
  });
});

describe('out of file descriptors even after giving up the spare (another thread took the slot): undone', () => {
  const ctx: Context = { unique: 1n, uid: 0, gid: 0, pid: process.pid, umask: 0 };
  let dir: string;
  let pfs: PassthroughFs;

  before(() => {
    dir = makeTempDir('ptfs-fdlimit-');
    fs.writeFileSync(join(dir, 'existing'), 'keep me');
    pfs = new PassthroughFs(defaultOptions(dir));
    // The spare is given up, yet the open after the creation still finds the table full.
    const spare = { hold() {}, release() {}, open(): number { throw new SysError(E.EMFILE!, 'open'); } };
    (pfs as unknown as { spare: typeof spare }).spare = spare;
  });

  after(() => {
    pfs.destroy();
    removeTempDir(dir);
  });

  it('mkdir, mknod, symlink and create remove what they made; create of an existing file leaves it', () => {
    const name = (s: string) => Buffer.from(s);
    assert.equal(errnoOf(() => pfs.mkdir(ctx, 1n, name('d'), 0o755)), 'EMFILE');
    assert.equal(errnoOf(() => pfs.mknod(ctx, 1n, name('n'), S_IFIFO | 0o644, 0)), 'EMFILE');
    assert.equal(errnoOf(() => pfs.symlink(ctx, 1n, name('s'), name('target'))), 'EMFILE');
    assert.equal(errnoOf(() => pfs.create(ctx, 1n, name('c'), 0o644, O_CREAT | O_RDWR)), 'EMFILE');
    assert.equal(errnoOf(() => pfs.create(ctx, 1n, name('existing'), 0o644, O_CREAT | O_RDWR)), 'EMFILE');
    assert.deepEqual(ls(dir), ['existing']);
    assert.equal(fs.readFileSync(join(dir, 'existing'), 'utf8'), 'keep me');
    assert.equal(pfs.inodes.size, 1);
    assert.equal(pfs.handles.size, 0);
  });
});
