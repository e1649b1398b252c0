/**
 * The daemon as a hostile local user or a careless operator would treat it:
 * signals, inherited Node options, mountpoints that loop or hide behind
 * symlinks, unmounting what is not ours, awkward source paths, and the forms
 * mount(8) and /etc/fstab use.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { isMountPoint } from '../src/fuse/mount.js';
import { mountAt } from '../src/fuse/mountinfo.js';
import { startDaemon } from './helpers.js';
import { BIN, alive, cli, exitOf, mountsUnder, pidsWithArg, reapDaemons, sleep, waitFor, withDaemon, withDirs } from './clihelpers.js';

const NOBODY = 65534;

/** TCP sockets the process listens on (from /proc/net/tcp{,6}, matched by socket inode). */
function listeningSockets(pid: number): string[] {
  const inodes = new Set<string>();
  for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) inodes.add(m[1]!);
    } catch { /* closed meanwhile */ }
  }
  const out: string[] = [];
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of fs.readFileSync(table, 'utf8').split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length > 9 && f[3] === '0A' && inodes.has(f[9]!)) out.push(`${table} ${f[1]}`);
    }
  }
  return out;
}

/** The process's state letter from /proc (S sleeping, R running, T stopped, Z zombie). */
function processState(pid: number): string {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const st = stat.slice(stat.lastIndexOf(')') + 2)[0]!;
  return st === 'R' ? 'S' : st;
}

/** Reads each file as uid/gid 65534: its content, or the error code. */
function readAsNobody(...files: string[]): string[] {
  const script = `const fs=require('fs');for(const f of process.argv.slice(1)){try{console.log(fs.readFileSync(f,'utf8').trim())}catch(e){console.log(e.code)}}`;
  const r = spawnSync(process.execPath, ['-e', script, ...files], { uid: NOBODY, gid: NOBODY, encoding: 'utf8', timeout: 10_000, cwd: '/' });
  return r.stdout.trim().split('\n');
}

/** A background mount made by `cli(args)`, its daemons reaped whatever happens. */
async function withBackground(args: string[], mnt: string, fn: (pids: number[]) => Promise<void> | void, env?: NodeJS.ProcessEnv, uid?: number): Promise<void> {
  let pids: number[] = [];
  try {
    const r = spawnSync(process.execPath, [BIN, ...args], {
      encoding: 'utf8', timeout: 15_000, cwd: '/', ...(env ? { env } : {}), ...(uid !== undefined ? { uid, gid: uid } : {}),
    });
    assert.equal(r.status, 0, r.stderr);
    // The daemon, not a fusermount3 watching it (auto_unmount).
    pids = pidsWithArg(mnt).filter((p) => fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').includes('passthroughfs.js'));
    assert.equal(pids.length, 1, `one daemon for ${mnt}`);
    await fn(pids);
  } finally {
    await reapDaemons(pids, mnt);
  }
}

describe('hardening: signals and the process surface', { timeout: 120_000 }, () => {
  it('SIGUSR1, SIGUSR2, SIGQUIT, SIGHUP, SIGTSTP, SIGTTOU and SIGTTIN open no socket and leave the mount serving; SIGTERM still ends it with 0', async () => {
    await withDirs(async ({ src, mnt }) => {
      await withDaemon(src, mnt, [], async (d) => {
        const pid = d.child.pid!;
        for (const sig of ['SIGUSR1', 'SIGUSR2', 'SIGQUIT', 'SIGHUP', 'SIGTSTP', 'SIGTTOU', 'SIGTTIN'] as const) {
          d.child.kill(sig);
          await sleep(300);
          assert.ok(alive(pid), `${sig} killed the daemon:\n${d.output()}`);
          const state = processState(pid);
          // A stopped daemon would leave every request (and the clean-up's unmount) waiting.
          if (state === 'T') process.kill(pid, 'SIGCONT');
          assert.equal(state, 'S', `${sig}: the daemon is stopped, not serving`);
          assert.deepEqual(listeningSockets(pid), [], `${sig}: the daemon listens on a TCP socket`);
          assert.deepEqual(fs.readdirSync(mnt).sort(), ['hello.txt', 'sub'], `${sig}: the mount still serves`);
        }
        d.child.kill('SIGTERM');
        assert.equal(await exitOf(d.child, 5000), 0, d.output());
        assert.equal(isMountPoint(mnt), false);
      });
    });
  });

  it('a background daemon inherits neither NODE_OPTIONS nor the working directory, and has no inspector', async () => {
    await withDirs(async ({ src, mnt }) => {
      const env = { ...process.env, NODE_OPTIONS: '--inspect=127.0.0.1:0', PTFS_MARKER: 'x' };
      await withBackground(['mount', src, mnt], mnt, async ([pid]) => {
        const environ = fs.readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
        assert.ok(!environ.some((e) => e.startsWith('NODE_OPTIONS=') || e.startsWith('PTFS_MARKER=')), environ.join(' '));
        assert.equal(fs.readlinkSync(`/proc/${pid}/cwd`), '/');
        process.kill(pid!, 'SIGUSR1');
        await sleep(300);
        assert.deepEqual(listeningSockets(pid!), []);
        assert.deepEqual(fs.readdirSync(mnt).sort(), ['hello.txt', 'sub']);
        assert.equal(cli(['umount', mnt]).code, 0);
        assert.ok(await waitFor(() => !alive(pid!), 5000));
      }, env);
    });
  });

  it('a foreground daemon started with --inspect in NODE_OPTIONS closes the inspector before serving', async () => {
    await withDirs(async ({ src, mnt }) => {
      const child = spawn(process.execPath, [BIN, 'mount', src, mnt, '-f'], {
        stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NODE_OPTIONS: '--inspect=127.0.0.1:0' },
      });
      let out = '';
      child.stdout!.on('data', (b) => (out += b));
      child.stderr!.on('data', (b) => (out += b));
      try {
        assert.ok(await waitFor(() => isMountPoint(mnt), 5000), out);
        await sleep(200);
        assert.deepEqual(listeningSockets(child.pid!), [], out);
        assert.match(out, /inspector was open .*closed it/);
        child.kill('SIGTERM');
        assert.equal(await exitOf(child, 5000), 0, out);
      } finally {
        if (child.exitCode === null) child.kill('SIGKILL');
      }
    });
  });
});

describe('hardening: mountpoints and unmounting', { timeout: 120_000 }, () => {
  it('a mountpoint inside the source, or a source inside the mountpoint, is refused (also through a symlink)', async () => {
    await withDirs(({ dir, src, mnt }) => {
      fs.mkdirSync(join(src, 'inner'));
      fs.symlinkSync(join(src, 'inner'), join(dir, 'link-inside'));
      const cases: [string[], RegExp][] = [
        [['mount', src, join(src, 'inner')], /is inside the source/],
        [['mount', src, join(dir, 'link-inside')], /is inside the source/],
        [['mount', src, src], /is inside the source/],
        [['mount', join(mnt, '..', 'src'), join(dir, 'src')], /is inside the source/],
        [['mount', join(src, 'sub'), src], /is inside the mountpoint/],
      ];
      for (const [args, re] of cases) {
        const r = cli(args);
        assert.equal(r.code, 1, `${args.join(' ')}: ${r.stderr}`);
        assert.match(r.stderr, re);
        assert.deepEqual(mountsUnder(dir), [], 'nothing mounted');
      }
    });
  });

  it('a mountpoint given through a symlink is the directory it names: no second mount stacks on it', async () => {
    await withDirs(async ({ dir, src, mnt }) => {
      fs.symlinkSync(mnt, join(dir, 'link'));
      const d = await startDaemon('bin/passthroughfs.js', ['mount', src, join(dir, 'link'), '-f'], mnt);
      try {
        const r = cli(['mount', src, join(dir, 'link')]);
        assert.equal(r.code, 1, r.stderr);
        assert.match(r.stderr, /already in use/);
        assert.deepEqual(mountsUnder(dir), [mnt]);
      } finally {
        await d.stop();
      }
    });
  });

  it('umount touches only passthroughfs mounts; a busy one gets the remedy, and --lazy detaches it', async () => {
    await withDirs(async ({ dir, src, mnt }) => {
      const tmp = join(dir, 'tmpfs');
      fs.mkdirSync(tmp);
      assert.equal(spawnSync('mount', ['-t', 'tmpfs', 'tmpfs', tmp]).status, 0);
      const r = cli(['umount', tmp]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /is not a passthroughfs mount \(it is tmpfs\)/);
      assert.ok(isMountPoint(tmp), 'the tmpfs is still mounted');

      await withBackground(['mount', src, mnt], mnt, async ([pid]) => {
        const holder = spawn('sh', ['-c', 'exec 3< "$1"; sleep 1.5; cat <&3', 'sh', join(mnt, 'hello.txt')], { stdio: ['ignore', 'pipe', 'ignore'] });
        let out = '';
        holder.stdout!.on('data', (b) => (out += b));
        try {
          assert.ok(await waitFor(() => fs.existsSync(`/proc/${holder.pid}/fd/3`), 2000));
          const busy = cli(['umount', mnt]);
          assert.equal(busy.code, 1);
          assert.match(busy.stderr, /is busy .*passthroughfs umount --lazy/);
          assert.ok(isMountPoint(mnt) && alive(pid!), 'still mounted and served');
          const lazy = cli(['umount', '--lazy', mnt]);
          assert.equal(lazy.code, 0, lazy.stderr);
          assert.equal(isMountPoint(mnt), false, 'detached at once');
          assert.equal(await exitOf(holder, 5000), 0);
          assert.equal(out, 'hello from src\n', 'the open file is still served after the detach');
          assert.ok(await waitFor(() => !alive(pid!), 5000), 'the daemon exits once the last file is closed');
        } finally {
          if (holder.exitCode === null) holder.kill('SIGKILL');
        }
      });
    });
  });

  it('a source path with a space, a comma and a backslash mounts, as root and through fusermount3', async (t) => {
    await withDirs(async ({ dir, mnt }) => {
      const odd = join(dir, 'a dir, with\\odd name');
      fs.mkdirSync(odd);
      fs.writeFileSync(join(odd, 'f'), 'odd\n');
      await withDaemon(odd, mnt, [], () => {
        assert.equal(fs.readFileSync(join(mnt, 'f'), 'utf8'), 'odd\n');
        assert.equal(mountAt(mnt)?.source, odd);
      });
      if (spawnSync('test', ['-r', BIN, '-a', '-r', '/dev/fuse'], { uid: NOBODY, gid: NOBODY }).status !== 0) {
        return t.skip('user nobody cannot read the project or /dev/fuse');
      }
      fs.chmodSync(dir, 0o755);
      for (const p of [odd, mnt, join(odd, 'f')]) fs.chownSync(p, NOBODY, NOBODY);
      await withBackground(['mount', odd, mnt], mnt, async () => {
        assert.equal(mountAt(mnt)?.source, odd);
        assert.equal(mountAt(mnt)?.fsType, 'fuse.passthroughfs');
        const u = spawnSync(process.execPath, [BIN, 'umount', mnt], { uid: NOBODY, gid: NOBODY, encoding: 'utf8', cwd: '/' });
        assert.equal(u.status, 0, u.stderr);
      }, undefined, NOBODY);
    });
  });
});

describe('hardening: operators\' forms and options', { timeout: 120_000 }, () => {
  it('the mount(8) form "passthroughfs SRC MNT -o OPTS" mounts, with fstab-only options accepted', async () => {
    await withDirs(async ({ src, mnt }) => {
      await withBackground([src, mnt, '-o', 'rw,nofail,_netdev,defaults,x-systemd.automount,allow_other'], mnt, async () => {
        assert.deepEqual(fs.readdirSync(mnt).sort(), ['hello.txt', 'sub']);
        assert.match(mountAt(mnt)!.superOptions, /allow_other/);
      });
    });
  });

  it('mount.fuse3 (what mount -t fuse.passthroughfs runs) starts it', async () => {
    if (spawnSync('mount.fuse3', ['--help']).error) return;
    await withDirs(async ({ dir, src, mnt }) => {
      const bin = join(dir, 'bin');
      fs.mkdirSync(bin);
      fs.symlinkSync(BIN, join(bin, 'passthroughfs'));
      const r = spawnSync('mount.fuse3', [src, mnt, '-t', 'passthroughfs', '-o', 'allow_other'], {
        encoding: 'utf8', timeout: 15_000, env: { ...process.env, PATH: `${bin}:${process.env.PATH}` },
      });
      const pids = pidsWithArg(mnt);
      try {
        assert.equal(r.status, 0, r.stderr);
        assert.equal(mountAt(mnt)?.fsType, 'fuse.passthroughfs');
        assert.deepEqual(fs.readdirSync(mnt).sort(), ['hello.txt', 'sub']);
      } finally {
        await reapDaemons(pidsWithArg(mnt).concat(pids), mnt);
      }
    });
  });

  it('uid=, gid= and umask= are refused with the reason; -o debug is taken', async () => {
    await withDirs(async ({ dir, src, mnt }) => {
      for (const o of ['uid=1000', 'gid=1000', 'umask=022']) {
        const r = cli(['mount', src, mnt, '-o', o]);
        assert.equal(r.code, 2, r.stderr);
        assert.match(r.lines[0]!, /is not supported: a passthrough shows the/);
      }
      assert.deepEqual(mountsUnder(dir), []);
      await withDaemon(src, mnt, ['-o', 'debug'], async (d) => {
        fs.readdirSync(mnt);
        assert.ok(await waitFor(() => /debug:/.test(d.output()), 2000), d.output());
      });
    });
  });

  it('-o allow_root lets root in and keeps other users out', async () => {
    await withDirs(async ({ dir, src, mnt }) => {
      fs.chmodSync(dir, 0o755);
      fs.chmodSync(src, 0o755);
      fs.chmodSync(join(src, 'hello.txt'), 0o644);
      await withDaemon(src, mnt, ['-o', 'allow_root'], () => {
        assert.equal(fs.readFileSync(join(mnt, 'hello.txt'), 'utf8'), 'hello from src\n');
        assert.deepEqual(readAsNobody(join(mnt, 'hello.txt')), ['EACCES']);
      });
      assert.equal(cli(['mount', src, mnt, '-o', 'allow_root,allow_other']).code, 2);
    });
  });

  it('-o auto_unmount: the mount goes away when the daemon is killed', async () => {
    await withDirs(async ({ src, mnt }) => {
      await withBackground(['mount', src, mnt, '-o', 'auto_unmount'], mnt, async ([pid]) => {
        assert.deepEqual(fs.readdirSync(mnt).sort(), ['hello.txt', 'sub']);
        process.kill(pid!, 'SIGKILL');
        assert.ok(await waitFor(() => !isMountPoint(mnt), 5000), 'still mounted 5 s after the daemon died');
      });
    });
  });

  it('as a non-root user: an unreadable source and --passthrough are refused at start-up', async (t) => {
    if (spawnSync('test', ['-r', BIN, '-a', '-r', '/dev/fuse'], { uid: NOBODY, gid: NOBODY }).status !== 0) {
      return t.skip('user nobody cannot read the project or /dev/fuse');
    }
    await withDirs(({ dir, src, mnt }) => {
      fs.chmodSync(dir, 0o755);
      fs.chownSync(mnt, NOBODY, NOBODY);
      fs.chmodSync(src, 0o700);
      const asNobody = (args: string[]) => spawnSync(process.execPath, [BIN, ...args], { uid: NOBODY, gid: NOBODY, encoding: 'utf8', cwd: '/', timeout: 15_000 });
      let r = asNobody(['mount', src, mnt]);
      assert.equal(r.status, 1, r.stderr);
      assert.match(r.stderr, /is not readable by uid 65534/);
      fs.chownSync(src, NOBODY, NOBODY);
      r = asNobody(['mount', src, mnt, '--passthrough']);
      assert.equal(r.status, 1, r.stderr);
      assert.match(r.stderr, /--passthrough needs root/);
      assert.deepEqual(mountsUnder(dir), []);
    });
  });

  it('--cache=always --attr-timeout=1: a permission change made on the host applies to users of the mount within the timeout', async () => {
    await withDirs(async ({ dir, src, mnt }) => {
      fs.chmodSync(dir, 0o755);
      fs.chmodSync(src, 0o755);
      const f = join(src, 'hello.txt');
      fs.chmodSync(f, 0o644);
      await withDaemon(src, mnt, ['--cache=always', '--attr-timeout=1', '-o', 'allow_other'], async () => {
        assert.deepEqual(readAsNobody(join(mnt, 'hello.txt')), ['hello from src']);
        fs.chmodSync(f, 0o600);
        await sleep(1500);
        assert.deepEqual(readAsNobody(join(mnt, 'hello.txt')), ['EACCES']);
      });
    });
  });
});

describe('hardening: no data lost without an error', { timeout: 60_000 }, () => {
  it('--writeback on a full filesystem: a write the host takes only in part fails at fsync, as natively it fails', async () => {
    await withDirs(async ({ dir, mnt }) => {
      const small = join(dir, 'small');
      fs.mkdirSync(small);
      assert.equal(spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', small]).status, 0);
      const dd = (args: string[]) => spawnSync('dd', ['if=/dev/zero', `of=${join(mnt, 'f')}`, 'conv=fsync,notrunc', 'status=none', ...args], { encoding: 'utf8' });
      await withDaemon(small, mnt, ['--writeback'], () => {
        assert.equal(dd(['bs=100k', 'count=1']).status, 0);
        // 100 KiB + 1 MiB on a 1 MiB filesystem: the writeback WRITE at 100 KiB is taken in part.
        const r = dd(['bs=1M', 'count=1', 'seek=100k', 'oflag=seek_bytes']);
        assert.notEqual(r.status, 0, 'dd reported success while the host kept only part of the data');
        assert.match(r.stderr, /No space left on device/);
      });
    });
  });
});
