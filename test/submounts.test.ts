/**
 * Filesystems mounted inside the source. Through a /dev/fuse mount everything has one st_dev, so the inode numbers
 * must tell every host file apart (inomap.ts): the source (a tmpfs) with an ext4 inside it and a tmpfs inside that,
 * and another tmpfs, all numbering their inodes from the same small values, with different contents at equal
 * numbers. Each inner tmpfs holds a real hard link pair, at the same inode number: tar and cp -a look up only files
 * with more than one link by (st_dev, st_ino), so it takes two such files to make them link across filesystems.
 * The ext4's root has the number of the source directory it is mounted in (2), a directory cycle to du and find;
 * the inner tmpfs roots have the source root's (1). The tools that trust (st_dev, st_ino) must copy, archive, count and walk the mount exactly as
 * they do the source. Then FUSE_ATTR_SUBMOUNT, which only virtio-fs connections are granted, called directly.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { join, relative } from 'node:path';
import type { Context } from '../src/fs/context.js';
import type { DirPlusSink, Entry } from '../src/fs/types.js';
import { ATTR, InitFlag } from '../src/fuse/abi.js';
import { parseArgs, UsageError } from '../src/cli/args.js';
import { PassthroughFs } from '../src/passthrough/passthrough.js';
import { defaultOptions, sessionOptionsFor } from '../src/passthrough/index.js';
import { dirents, getdents64 } from '../src/sys/index.js';
import { makeTempDir, removeTempDir, startDaemon, type Daemon } from './helpers.js';
import { mountsUnder } from './clihelpers.js';
import { mountExt4 } from './loopfs.js';

function run(cmd: string, args: string[]): void {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: exit ${r.status}: ${r.stderr}`);
}

/**
 * The same sequence of names in each filesystem, so that their inode numbers collide (tmpfs numbers from 1 in
 * creation order, so `d` is 2 in each; ext4 from 12), with contents that differ per filesystem; with `hard`, a hard
 * link pair (`hard`, `d/hardlink`).
 */
function populate(dir: string, label: string, hard = false): void {
  fs.mkdirSync(join(dir, 'd'));
  for (let i = 0; i < 4; i++) fs.writeFileSync(join(dir, 'd', `g${i}`), `${label} d/g${i}\n`);
  fs.mkdirSync(join(dir, 'd', 'deeper'));
  fs.symlinkSync('../f1', join(dir, 'd', 'link'));
  for (let i = 0; i < 16; i++) fs.writeFileSync(join(dir, `f${i}`), `${label} f${i}\n`.repeat(i + 1));
  if (!hard) return;
  fs.writeFileSync(join(dir, 'hard'), `${label}: linked twice\n`);
  fs.linkSync(join(dir, 'hard'), join(dir, 'd', 'hardlink'));
}

interface Node { rel: string; dev: bigint; ino: bigint; nlink: bigint; dir: boolean }

/** Every name under `root` (root itself as '.'), lstat'ed; crosses mount points, as find and cp do. */
function walk(root: string): Map<string, Node> {
  const out = new Map<string, Node>();
  const visit = (p: string) => {
    const st = fs.lstatSync(p, { bigint: true });
    const rel = relative(root, p) || '.';
    out.set(rel, { rel, dev: st.dev, ino: st.ino, nlink: st.nlink, dir: st.isDirectory() });
    if (st.isDirectory()) for (const n of fs.readdirSync(p).sort()) visit(join(p, n));
  };
  visit(root);
  return out;
}

/** Names that share a (dev, ino), as sorted groups: the hard link structure of a tree. */
function linkGroups(nodes: Map<string, Node>): string[] {
  const by = new Map<string, string[]>();
  for (const n of nodes.values()) {
    if (n.dir) continue;
    const k = `${n.dev}:${n.ino}`;
    by.set(k, [...(by.get(k) ?? []), n.rel]);
  }
  return [...by.values()].filter((g) => g.length > 1).map((g) => g.sort().join(' = ')).sort();
}

/** d_ino of every entry of `dir` but '..', as getdents64 reports it. */
function direntInos(dir: string): Map<string, bigint> {
  const fd = fs.openSync(dir, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
  const out = new Map<string, bigint>();
  try {
    const buf = Buffer.alloc(64 * 1024);
    for (let n; (n = getdents64(fd, buf)) > 0;) {
      for (const d of dirents(buf, n)) if (d.name.toString() !== '..') out.set(d.name.toString(), d.ino);
    }
  } finally {
    fs.closeSync(fd);
  }
  return out;
}

describe('filesystems mounted inside the source', { timeout: 180_000 }, () => {
  let base: string;
  let src: string;
  /** Undo steps of the mounts made, run in reverse (inner mounts first). */
  const undo: (() => void)[] = [];
  let host: Map<string, Node>;

  const mountTmpfs = (at: string) => {
    run('mount', ['-t', 'tmpfs', '-o', 'mode=0755', 'tmpfs', at]);
    undo.push(() => { if (spawnSync('umount', [at]).status !== 0) spawnSync('umount', ['-l', at]); });
  };

  before(() => {
    base = makeTempDir('ptfs-submounts-');
    fs.chmodSync(base, 0o755);
    src = join(base, 'src');
    fs.mkdirSync(src);
    mountTmpfs(src);
    populate(src, 'source');
    const disk = join(src, 'd', 'disk');
    fs.mkdirSync(disk);
    fs.mkdirSync(join(src, 'two'));
    undo.push(mountExt4({ sizeMiB: 16 }, disk));
    populate(disk, 'ext4');
    fs.mkdirSync(join(disk, 'one'));
    mountTmpfs(join(disk, 'one'));
    populate(join(disk, 'one'), 'tmpfs one', true);
    mountTmpfs(join(src, 'two'));
    populate(join(src, 'two'), 'tmpfs two', true);
    host = walk(src);
  });

  after(() => {
    try {
      for (const u of undo.reverse()) {
        try { u(); } catch { /* go on undoing */ }
      }
    } finally {
      if (base) {
        for (const m of mountsUnder(base).reverse()) spawnSync('umount', ['-l', m]);
        removeTempDir(base);
      }
    }
  });

  it('the source really has colliding inode numbers: different files, one number', () => {
    const byIno = new Map<bigint, Set<string>>();
    for (const n of host.values()) byIno.set(n.ino, (byIno.get(n.ino) ?? new Set()).add(`${n.dev}:${n.ino}`));
    const shared = [...byIno.values()].filter((s) => s.size >= 3);
    assert.ok(shared.length >= 10, `inode numbers on three or more devices: ${shared.length}`);
    assert.equal(new Set([...host.values()].map((n) => n.dev)).size, 4, 'four devices');
    assert.deepEqual(linkGroups(host), ['d/disk/one/d/hardlink = d/disk/one/hard', 'two/d/hardlink = two/hard']);
    assert.equal(host.get('d/disk/one/hard')!.ino, host.get('two/hard')!.ino, 'both link pairs at one inode number');
    assert.equal(host.get('d/disk')!.ino, host.get('d')!.ino, 'the ext4 root has the number of its parent d');
    assert.equal(host.get('two')!.ino, host.get('.')!.ino, 'a tmpfs root has the number of the root');
  });

  for (const args of [[], ['--no-readdirplus'], ['--statx']]) {
    describe(`through the mount ${args.join(' ') || '(defaults)'}`, () => {
      let dir: string;
      let mnt: string;
      let daemon: Daemon | undefined;

      before(async () => {
        dir = makeTempDir('ptfs-submounts-mnt-');
        mnt = join(dir, 'mnt');
        fs.mkdirSync(mnt);
        daemon = await startDaemon('bin/passthroughfs.js', ['mount', src, mnt, '--foreground', ...args], mnt);
      });

      after(async () => {
        try {
          const status = await daemon?.stop();
          if (daemon && status !== 0) throw new Error(`daemon exit status ${status}:\n${daemon.output()}`);
        } finally {
          if (dir) removeTempDir(dir);
        }
      });

      it('every distinct host file has a distinct st_ino, hard links share one, all on one st_dev', () => {
        const seen = walk(mnt);
        assert.deepEqual([...seen.keys()].sort(), [...host.keys()].sort(), 'the same names');
        assert.equal(new Set([...seen.values()].map((n) => n.dev)).size, 1, 'one st_dev');
        const inoOfHost = new Map<string, bigint>();
        const hostOfIno = new Map<bigint, string>();
        for (const [rel, h] of host) {
          const k = `${h.dev}:${h.ino}`;
          const ino = seen.get(rel)!.ino;
          assert.equal(inoOfHost.get(k) ?? ino, ino, `${rel}: one number for host inode ${k}`);
          assert.equal(hostOfIno.get(ino) ?? k, k, `${rel}: st_ino ${ino} is not also another host inode's`);
          inoOfHost.set(k, ino);
          hostOfIno.set(ino, k);
        }
        assert.equal(seen.get('two/hard')!.ino, seen.get('two/d/hardlink')!.ino);
        assert.equal(seen.get('d/disk/one/hard')!.ino, seen.get('d/disk/one/d/hardlink')!.ino);
        assert.equal(seen.get('.')!.ino, host.get('.')!.ino, "the source's own numbers pass through");
        assert.equal(seen.get('f3')!.ino, host.get('f3')!.ino);
      });

      it("readdir's d_ino is each entry's st_ino (mount points aside, as natively)", () => {
        for (const n of walk(mnt).values()) {
          if (!n.dir) continue;
          const d = join(mnt, n.rel);
          for (const [name, ino] of direntInos(d)) {
            const rel = name === '.' ? n.rel : join(n.rel === '.' ? '' : n.rel, name);
            // A mount point's d_ino is the covered directory's, natively as here.
            if (name !== '.' && host.get(rel)!.dev !== host.get(n.rel)!.dev) continue;
            assert.equal(ino, fs.lstatSync(join(d, name === '.' ? '' : name), { bigint: true }).ino, `d_ino of ${rel}`);
          }
        }
      });

      it('cp -a copies every file with its own content, and only the real hard links as links', () => {
        const copy = join(dir, 'copy');
        const cp = spawnSync('cp', ['-a', mnt, copy], { encoding: 'utf8' });
        assert.equal(cp.stderr, '');
        assert.equal(cp.status, 0);
        const diff = spawnSync('diff', ['-r', src, copy], { encoding: 'utf8' });
        assert.equal(diff.stdout + diff.stderr, '');
        assert.equal(diff.status, 0);
        const copied = walk(copy);
        assert.deepEqual(linkGroups(copied), linkGroups(host));
        for (const [rel, h] of host) if (!h.dir) assert.equal(copied.get(rel)!.nlink, h.nlink, `nlink of ${rel}`);
      });

      it('du -s sees no directory cycle', () => {
        const du = spawnSync('du', ['-s', mnt], { encoding: 'utf8' });
        assert.equal(du.stderr, '');
        assert.equal(du.status, 0);
      });

      it('find lists every entry the source has', () => {
        const list = (root: string) => {
          const r = spawnSync('find', [root], { encoding: 'utf8' });
          assert.equal(r.stderr, '', `find ${root}`);
          assert.equal(r.status, 0);
          return r.stdout.split('\n').filter(Boolean).map((p) => relative(root, p) || '.').sort();
        };
        const inMount = list(mnt);
        assert.equal(inMount.length, host.size);
        assert.deepEqual(inMount, list(src));
      });

      it('tar stores only the real hard links as links', () => {
        const c = spawnSync('tar', ['-cf', '-', '-C', mnt, '.'], { maxBuffer: 64 * 2 ** 20 });
        assert.equal(c.stderr.toString(), '');
        assert.equal(c.status, 0);
        const t = spawnSync('tar', ['-tvf', '-'], { input: c.stdout, encoding: 'utf8', maxBuffer: 64 * 2 ** 20 });
        assert.equal(t.status, 0, t.stderr);
        const links = t.stdout.split('\n').filter((l) => l.includes(' link to ')).map((l) => {
          const m = /\.\/(\S+) link to \.\/(\S+)$/.exec(l);
          assert.ok(m, l);
          return [m[1]!, m[2]!].sort().join(' = ');
        });
        assert.deepEqual(links.sort(), linkGroups(host));
      });

      it('a bind mount of a nested filesystem shows its files under their numbers, one per host inode', () => {
        // A name the kernel has not seen, so no cached entry hides the new mount.
        const at = join(src, `bind${args.length}`);
        fs.mkdirSync(at);
        try {
          run('mount', ['--bind', join(src, 'd', 'disk', 'one', 'd'), at]);
          try {
            for (const name of ['g0', 'g3', 'deeper', 'hardlink']) {
              const a = fs.lstatSync(join(mnt, 'd', 'disk', 'one', 'd', name), { bigint: true });
              const b = fs.lstatSync(join(mnt, relative(src, at), name), { bigint: true });
              assert.equal(b.ino, a.ino, name);
            }
            assert.notEqual(fs.lstatSync(join(mnt, relative(src, at), 'g0')).ino, fs.lstatSync(join(mnt, 'd', 'g0')).ino);
          } finally {
            if (spawnSync('umount', [at]).status !== 0) spawnSync('umount', ['-l', at]);
          }
        } finally {
          fs.rmdirSync(at);
        }
      });
    });
  }

  describe('FUSE_ATTR_SUBMOUNT (called directly: only virtio-fs connections are granted FUSE_SUBMOUNTS)', () => {
    const ctx: Context = { unique: 1n, uid: 0, gid: 0, pid: process.pid, umask: 0 };
    const nodes: [PassthroughFs, bigint][] = [];
    const made: PassthroughFs[] = [];
    let umask: number;

    before(() => {
      umask = process.umask(0o022);
      process.umask(umask);
    });

    after(() => {
      for (const [pfs, node] of nodes) pfs.forget(node, 1n);
      for (const pfs of made) pfs.destroy();
      // The filesystem sets this thread's umask to 0 (it applies callers' umasks per request).
      process.umask(umask);
    });

    /** Lookups of a few names (and readdirplus of the root): name → attr.flags. */
    function flagsSeen(announce: boolean, want: bigint): Record<string, number> {
      const pfs = new PassthroughFs({ ...defaultOptions(src), announceSubmounts: announce });
      made.push(pfs);
      pfs.init({ minor: 45, capable: want, want, maxWrite: 1 << 20, maxReadahead: 1 << 20, maxPages: 256, timeGran: 1 }, {});
      const out: Record<string, number> = {};
      const look = (parent: bigint, name: string, as = name): bigint => {
        const e = pfs.lookup(ctx, parent, Buffer.from(name));
        nodes.push([pfs, e.nodeid]);
        out[as] = e.attr.flags;
        return e.nodeid;
      };
      for (const n of ['two', 'f0']) look(1n, n);
      const d = look(1n, 'd');
      const disk = look(d, 'disk', 'd/disk');
      look(d, 'disk', 'd/disk again');
      const one = look(disk, 'one', 'd/disk/one');
      look(disk, 'd', 'd/disk/d');
      look(one, 'd', 'd/disk/one/d');
      const list = (node: bigint, prefix: string) => {
        const fh = pfs.opendir(ctx, node, 0).fh;
        const sink: DirPlusSink = {
          fits: () => true,
          addPlus: (name: Buffer | string, e: Entry) => {
            if (e.nodeid !== 0n) nodes.push([pfs, e.nodeid]);
            out[`readdirplus ${prefix}${name.toString()}`] = e.attr.flags;
            return true;
          },
        };
        pfs.readdirplus(ctx, node, fh, 0n, sink);
        pfs.releasedir(ctx, node, fh);
      };
      list(1n, '');
      list(d, 'd/');
      return out;
    }

    it('granted: a directory on another mount than its parent is marked, nothing else', () => {
      const f = flagsSeen(true, InitFlag.SUBMOUNTS);
      const marked = Object.keys(f).filter((k) => f[k] === ATTR.SUBMOUNT).sort();
      assert.deepEqual(marked, ['d/disk', 'd/disk again', 'd/disk/one', 'readdirplus d/disk', 'readdirplus two', 'two']);
      assert.ok(Object.values(f).every((v) => v === 0 || v === ATTR.SUBMOUNT));
      for (const k of ['d', 'f0', 'd/disk/d', 'd/disk/one/d', 'readdirplus d', 'readdirplus f0', 'readdirplus d/deeper', 'readdirplus d/g0']) {
        assert.equal(f[k], 0, k);
      }
    });

    it('not granted (every /dev/fuse connection), or the option off: no marks', () => {
      for (const [announce, want] of [[true, 0n], [false, InitFlag.SUBMOUNTS]] as const) {
        const f = flagsSeen(announce, want);
        assert.ok(Object.keys(f).length >= 10);
        assert.deepEqual(Object.entries(f).filter(([, v]) => v !== 0), [], `announce ${announce}, want ${want}`);
      }
    });

    it('--announce-submounts (default) asks the kernel for submounts; --no-announce-submounts does not', () => {
      const fsOf = (...argv: string[]) => {
        const c = parseArgs(['mount', 's', 'm', ...argv]);
        assert.equal(c.cmd, 'mount');
        return c.cmd === 'mount' ? c.fs : defaultOptions('');
      };
      assert.equal(fsOf().announceSubmounts, true);
      assert.equal(fsOf('--no-announce-submounts').announceSubmounts, false);
      assert.equal(fsOf('--no-announce-submounts', '--announce-submounts').announceSubmounts, true);
      assert.equal(sessionOptionsFor(fsOf()).capabilities?.submounts, true);
      assert.equal(sessionOptionsFor(fsOf('--no-announce-submounts')).capabilities?.submounts, false);
      for (const bad of ['--announce-submounts=no', '--no-announce-submounts=1']) {
        assert.throws(() => parseArgs(['mount', 's', 'm', bad]), UsageError, bad);
      }
    });
  });
});
