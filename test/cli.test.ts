/** The `passthroughfs` command as a user runs it: argument errors, prechecks, background and foreground daemons. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { isMountPoint } from '../src/fuse/mount.js';
import { BIN, HINT, alive, cli, exitOf, fdCounts, mountsUnder, pidsWithArg, reapDaemons, sleep, waitFor, withDaemon, withDirs } from './clihelpers.js';

describe('passthroughfs CLI', { timeout: 120_000 }, () => {
  it('--help exits 0 and prints the usage', () => {
    for (const args of [['--help'], ['-h'], ['mount', '--help']]) {
      const r = cli(args);
      assert.equal(r.code, 0, args.join(' '));
      assert.match(r.stdout, /^Usage:/);
      assert.match(r.stdout, /passthroughfs mount <source> <mountpoint>/);
      assert.match(r.stdout, /passthroughfs umount \[--lazy\] <mountpoint>/);
      assert.equal(r.stderr, '');
    }
  });

  it('usage errors exit 2 with one error line and the hint, and mount nothing', async () => {
    await withDirs(({ dir, src, mnt }) => {
      const cases: string[][] = [
        [],
        ['frobnicate'],
        ['mount', src, mnt, '--bogus'],
        ['mount', src, mnt, '--cache=bogus'],
        ['mount', src, mnt, '--entry-timeout=soon'],
        ['mount', src, mnt, '-o', 'bogus'],
        ['mount', src, mnt, '--no-announce-submounts=yes'],
        ['mount', src],
        ['mount', src, mnt, 'extra'],
        ['umount'],
      ];
      for (const args of cases) {
        const r = cli(args);
        const what = `passthroughfs ${args.join(' ')}`;
        assert.equal(r.code, 2, `${what}: exit code\n${r.stderr}`);
        assert.equal(r.lines.length, 2, `${what}: stderr\n${r.stderr}`);
        assert.match(r.lines[0]!, /^passthroughfs: \S/, what);
        assert.equal(r.lines[1], HINT, what);
        assert.equal(r.stdout, '', what);
        assert.deepEqual(mountsUnder(dir), [], `${what}: nothing mounted`);
      }
    });
  });

  it('bad sources and mountpoints exit 1 with a message naming the path, and mount nothing', async () => {
    await withDirs(({ dir, src, mnt }) => {
      const file = join(dir, 'file');
      fs.writeFileSync(file, 'x');
      const missing = join(dir, 'missing');
      const busy = join(dir, 'busy');
      fs.mkdirSync(busy);
      assert.equal(spawnSync('mount', ['-t', 'tmpfs', 'tmpfs', busy]).status, 0, 'mount tmpfs');
      const cases: [string[], string][] = [
        [['mount', missing, mnt], missing],
        [['mount', file, mnt], file],
        [['mount', src, missing], missing],
        [['mount', src, file], file],
        [['mount', src, busy], busy],
        [['mount', src, busy, '--foreground'], busy],
        [['umount', mnt], mnt],
      ];
      for (const [args, path] of cases) {
        const r = cli(args);
        const what = `passthroughfs ${args.join(' ')}`;
        assert.equal(r.code, 1, `${what}: exit code\n${r.stderr}`);
        assert.equal(r.lines.length, 1, `${what}: stderr\n${r.stderr}`);
        assert.ok(r.lines[0]!.startsWith('passthroughfs: ') && r.lines[0]!.includes(path), `${what}: ${r.lines[0]}`);
        assert.deepEqual(mountsUnder(dir), [busy], `${what}: only the tmpfs is mounted`);
        assert.deepEqual(pidsWithArg(args[2] ?? args[1]!), [], `${what}: no daemon left running`);
      }
      assert.deepEqual(fs.readdirSync(busy), [], 'the tmpfs was not touched');
    });
  });

  it('background mode: mount returns once the mount is live, umount stops the daemon', async () => {
    await withDirs(async ({ src, mnt }) => {
      let pids: number[] = [];
      try {
        const r = cli(['mount', src, mnt]);
        assert.equal(r.code, 0, r.stderr);
        assert.equal(r.stderr, '');
        // No waiting: the mount must be usable as soon as the command returns.
        assert.deepEqual(fs.readdirSync(mnt).sort(), ['hello.txt', 'sub']);
        assert.equal(fs.readFileSync(join(mnt, 'hello.txt'), 'utf8'), 'hello from src\n');
        pids = pidsWithArg(mnt);
        assert.equal(pids.length, 1, `one daemon serves ${mnt}: ${pids.join(' ')}`);

        const u = cli(['umount', mnt]);
        assert.equal(u.code, 0, u.stderr);
        assert.equal(isMountPoint(mnt), false, 'unmounted');
        assert.ok(await waitFor(() => !alive(pids[0]!), 5000), `daemon ${pids[0]} still running 5 s after umount`);
      } finally {
        await reapDaemons(pids, mnt);
      }
    });
  });

  it('umount(8) from outside ends a foreground daemon with exit 0', async () => {
    await withDirs(async ({ src, mnt }) => {
      await withDaemon(src, mnt, [], async (d) => {
        assert.deepEqual(fs.readdirSync(mnt).sort(), ['hello.txt', 'sub']);
        assert.equal(spawnSync('umount', [mnt]).status, 0);
        assert.equal(await exitOf(d.child, 5000), 0, d.output());
        assert.equal(isMountPoint(mnt), false);
      });
    });
  });

  for (const sig of ['SIGTERM', 'SIGINT'] as const) {
    it(`${sig} unmounts and exits 0`, async () => {
      await withDirs(async ({ src, mnt }) => {
        await withDaemon(src, mnt, [], async (d) => {
          fs.readdirSync(mnt);
          d.child.kill(sig);
          assert.equal(await exitOf(d.child, 5000), 0, d.output());
          assert.equal(isMountPoint(mnt), false);
        });
      });
    });
  }

  it('SIGTERM with a file held open: lazy unmount, the holder finishes, then exit 0', async () => {
    await withDirs(async ({ src, mnt }) => {
      await withDaemon(src, mnt, [], async (d) => {
        const file = join(mnt, 'hello.txt');
        // Opens the file, keeps it open 2 s, then reads it through the still-open fd.
        const holder = spawn('sh', ['-c', 'exec 3< "$1"; sleep 2; cat <&3', 'sh', file], { stdio: ['ignore', 'pipe', 'pipe'] });
        let out = '';
        holder.stdout!.on('data', (b) => (out += b));
        holder.stderr!.on('data', (b) => (out += b));
        try {
          assert.ok(await waitFor(() => fs.existsSync(`/proc/${holder.pid}/fd/3`), 2000), 'holder opened the file');
          d.child.kill('SIGTERM');
          assert.ok(await waitFor(() => !isMountPoint(mnt), 1000), 'the mount is detached at once');
          assert.equal(await exitOf(holder, 10_000), 0, out);
          assert.equal(out, 'hello from src\n', 'the open file was still served after the detach');
          assert.equal(await exitOf(d.child, 5000), 0, d.output());
        } finally {
          if (holder.exitCode === null) holder.kill('SIGKILL');
        }
      });
    });
  });

  it('-o ro: reads work, every write fails with EROFS', async () => {
    await withDirs(async ({ src, mnt }) => {
      await withDaemon(src, mnt, ['-o', 'ro'], () => {
        assert.equal(fs.readFileSync(join(mnt, 'hello.txt'), 'utf8'), 'hello from src\n');
        const writes: [string, () => void][] = [
          ['create', () => fs.writeFileSync(join(mnt, 'new'), 'x')],
          ['write', () => fs.appendFileSync(join(mnt, 'hello.txt'), 'x')],
          ['truncate', () => fs.truncateSync(join(mnt, 'hello.txt'), 0)],
          ['mkdir', () => fs.mkdirSync(join(mnt, 'newdir'))],
          ['unlink', () => fs.unlinkSync(join(mnt, 'hello.txt'))],
          ['rmdir', () => fs.rmdirSync(join(mnt, 'sub'))],
          ['rename', () => fs.renameSync(join(mnt, 'hello.txt'), join(mnt, 'moved'))],
          ['chmod', () => fs.chmodSync(join(mnt, 'hello.txt'), 0o600)],
          ['symlink', () => fs.symlinkSync('x', join(mnt, 'link'))],
        ];
        for (const [what, fn] of writes) assert.throws(fn, { code: 'EROFS' }, what);
        assert.deepEqual(fs.readdirSync(src).sort(), ['hello.txt', 'sub']);
        assert.equal(fs.readFileSync(join(src, 'hello.txt'), 'utf8'), 'hello from src\n');
      });
    });
  });

  it('-o allow_other: other users get in, and the mode bits still apply', async () => {
    await withDirs(async ({ dir, src, mnt }) => {
      fs.chmodSync(dir, 0o755);
      fs.chmodSync(src, 0o755);
      fs.writeFileSync(join(src, 'public'), 'public\n', { mode: 0o644 });
      fs.writeFileSync(join(src, 'private'), 'private\n', { mode: 0o600 });
      fs.chmodSync(join(src, 'public'), 0o644);
      fs.chmodSync(join(src, 'private'), 0o600);
      // Prints the content or the error code of reading each file, as uid/gid 65534.
      const asNobody = () => {
        const script = `const fs=require('fs');for(const f of process.argv.slice(1)){try{console.log(fs.readFileSync(f,'utf8').trim())}catch(e){console.log(e.code)}}`;
        const r = spawnSync(process.execPath, ['-e', script, join(mnt, 'public'), join(mnt, 'private')], { uid: 65534, gid: 65534, encoding: 'utf8', timeout: 10_000 });
        return r.stdout.trim().split('\n');
      };
      await withDaemon(src, mnt, ['-o', 'allow_other'], () => {
        assert.deepEqual(asNobody(), ['public', 'EACCES']);
      });
      // Control: without allow_other the same user is kept out entirely.
      await withDaemon(src, mnt, [], () => {
        assert.deepEqual(asNobody(), ['EACCES', 'EACCES']);
      });
    });
  });

  it('as a non-root user: mounts through fusermount3, serves as that user, unmounts', async (t) => {
    const NOBODY = 65534;
    const probe = spawnSync('fusermount3', ['-V'], { encoding: 'utf8' });
    if (probe.error) return t.skip('fusermount3 is not installed (package fuse3)');
    const asNobody = (args: string[]) => spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 15_000, uid: NOBODY, gid: NOBODY, cwd: '/' });
    if (spawnSync('test', ['-r', BIN, '-a', '-r', '/dev/fuse'], { uid: NOBODY, gid: NOBODY }).status !== 0) {
      return t.skip('user nobody cannot read the project or /dev/fuse (mode 0666 is the usual)');
    }
    await withDirs(async ({ dir, src, mnt }) => {
      fs.chmodSync(dir, 0o755);
      for (const p of [src, mnt, join(src, 'hello.txt'), join(src, 'sub')]) fs.chownSync(p, NOBODY, NOBODY);
      let pids: number[] = [];
      try {
        const r = asNobody(['mount', src, mnt]);
        assert.equal(r.status, 0, r.stderr);
        pids = pidsWithArg(mnt);
        // Without allow_other only the mounting user gets in (not even root).
        assert.throws(() => fs.readdirSync(mnt), { code: 'EACCES' });
        const w = spawnSync('sh', ['-c', `cat ${mnt}/hello.txt && echo new > ${mnt}/made && mkdir ${mnt}/d`], { uid: NOBODY, gid: NOBODY, encoding: 'utf8' });
        assert.equal(w.status, 0, w.stderr);
        assert.equal(w.stdout, 'hello from src\n');
        assert.equal(fs.statSync(join(src, 'made')).uid, NOBODY);
        assert.equal(fs.statSync(join(src, 'd')).uid, NOBODY);
        const info = fs.readFileSync('/proc/self/mountinfo', 'utf8');
        assert.match(info, new RegExp(`${mnt} .*user_id=${NOBODY}`));
        const u = asNobody(['umount', mnt]);
        assert.equal(u.status, 0, u.stderr);
        assert.equal(isMountPoint(mnt), false);
        assert.ok(await waitFor(() => pids.every((p) => !alive(p)), 5000), 'daemon gone after umount');
      } finally {
        await reapDaemons(pids, mnt);
      }
    });
  });

  it('no fd leak in the daemon across a create/read/unlink workload', async () => {
    await withDirs(async ({ src, mnt }) => {
      await withDaemon(src, mnt, [], async (d) => {
        const pid = d.child.pid!;
        const dropCaches = () => { try { fs.writeFileSync('/proc/sys/vm/drop_caches', '2'); } catch { /* not allowed here */ } };
        fs.readdirSync(mnt);
        dropCaches();
        await sleep(200);
        const before = fdCounts(pid);
        // The count does see a handle the daemon holds for an open file.
        const held = fs.openSync(join(mnt, 'hello.txt'), 'r');
        assert.equal(fdCounts(pid).io, before.io + 1, 'an open file is one more I/O fd in the daemon');
        fs.closeSync(held);
        await waitFor(() => fdCounts(pid).io === before.io, 2000);
        const buf = Buffer.alloc(64);
        for (let i = 0; i < 500; i++) {
          const p = join(mnt, `f${i}`);
          fs.writeFileSync(p, `file ${i}`);
          const fd = fs.openSync(p, 'r');
          assert.equal(buf.toString('utf8', 0, fs.readSync(fd, buf)), `file ${i}`);
          fs.closeSync(fd);
          if (i % 50 === 0) assert.equal(fs.readdirSync(mnt).length, 3);
          fs.unlinkSync(p);
        }
        assert.deepEqual(fs.readdirSync(mnt).sort(), ['hello.txt', 'sub']);
        dropCaches();
        await sleep(500);
        const afterCounts = fdCounts(pid);
        const msg = `daemon ${pid} fds before ${JSON.stringify(before)}, after ${JSON.stringify(afterCounts)}`;
        assert.ok(afterCounts.io <= before.io + 2, `open file handles leaked: ${msg}`);
        // O_PATH inode fds go when the kernel FORGETs; after dropping caches they must not have piled up.
        assert.ok(afterCounts.all <= before.all + 20, `inode fds leaked: ${msg}`);
      });
    });
  });
});
