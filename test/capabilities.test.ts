/**
 * The daemon's capabilities: --modcaps parsing, the serving thread's sets as /proc shows them, and what a dropped
 * capability stops through the mount.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { isMountPoint } from '../src/fuse/mount.js';
import { parseArgs, UsageError } from '../src/cli/args.js';
import { CapPolicyError, DEFAULT_CAPS, capPolicy, parseModcaps } from '../src/passthrough/privileges.js';
import { AT_FDCWD, CAP, S_IFCHR, capMask, makedev, mknodat } from '../src/sys/index.js';
import { ROOT, makeTempDir, removeTempDir, startDaemon, type Daemon } from './helpers.js';

const BIN = join(ROOT, 'bin/passthroughfs.js');
const NOBODY = 65534;
const bit = (c: number) => 1n << BigInt(c);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Cap* lines of one thread of `pid` (the main thread, which serves, by default). */
function threadCaps(pid: number, tid = pid): Record<'CapInh' | 'CapPrm' | 'CapEff' | 'CapBnd' | 'CapAmb', bigint> {
  const text = fs.readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8');
  const get = (k: string) => BigInt(`0x${new RegExp(`^${k}:\\s*([0-9a-f]+)$`, 'm').exec(text)![1]}`);
  return { CapInh: get('CapInh'), CapPrm: get('CapPrm'), CapEff: get('CapEff'), CapBnd: get('CapBnd'), CapAmb: get('CapAmb') };
}

const hex = (m: bigint) => `0x${m.toString(16)}`;
/** What this (root) test process has: a daemon cannot keep more. */
const OURS = threadCaps(process.pid).CapPrm;
const DEFAULT = capMask(DEFAULT_CAPS);
/** What a daemon serves with by default: DAC_READ_SEARCH joins for inode file handles (prefer). */
const SERVING = DEFAULT | (1n << BigInt(CAP.DAC_READ_SEARCH));

/** The daemon's output once `re` shows in it (it comes through a pipe, behind what the mount answers). */
async function outputWith(d: Daemon, re: RegExp): Promise<string> {
  for (let i = 0; i < 200 && !re.test(d.output()); i++) await sleep(10);
  return d.output();
}

function exitOf(child: ChildProcess, ms: number): Promise<number | 'timeout'> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode ?? -1);
  return new Promise((r) => {
    const t = setTimeout(() => r('timeout'), ms);
    child.once('exit', (code) => { clearTimeout(t); r(code ?? -1); });
  });
}

/** src/ with a file f, mnt/, a `--foreground` daemon with `extra`, all removed afterwards. */
async function withMount(extra: string[], fn: (t: { src: string; mnt: string; d: Daemon; pid: number }) => Promise<void> | void): Promise<void> {
  const dir = makeTempDir('ptfs-caps-');
  const src = join(dir, 'src');
  const mnt = join(dir, 'mnt');
  fs.mkdirSync(src);
  fs.mkdirSync(mnt);
  fs.writeFileSync(join(src, 'f'), 'data\n');
  let d: Daemon | undefined;
  try {
    d = await startDaemon('bin/passthroughfs.js', ['mount', src, mnt, '--foreground', '--log-level=info', ...extra], mnt);
    // The first request is answered only once the serving thread has dropped what it does not keep.
    fs.statSync(join(mnt, 'f'));
    await fn({ src, mnt, d, pid: d.child.pid! });
  } finally {
    await d?.stop();
    removeTempDir(dir);
  }
}

function cli(args: string[], opts: { uid?: number; gid?: number } = {}) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 15_000, cwd: '/', ...opts });
  return { code: r.status, stderr: r.stderr };
}

describe('--modcaps parsing', () => {
  it('accepts +/- names with either separator, any case, with or without cap_', () => {
    assert.deepEqual(parseModcaps('+sys_admin:-mknod'), [{ cap: CAP.SYS_ADMIN, add: true }, { cap: CAP.MKNOD, add: false }]);
    assert.deepEqual(parseModcaps('-CAP_CHOWN,+Cap_Sys_Resource'), [{ cap: CAP.CHOWN, add: false }, { cap: CAP.SYS_RESOURCE, add: true }]);
    assert.deepEqual(parseModcaps('-fowner,-fsetid:+setfcap'), [
      { cap: CAP.FOWNER, add: false }, { cap: CAP.FSETID, add: false }, { cap: CAP.SETFCAP, add: true },
    ]);
  });

  it('refuses empty entries, a missing sign and unknown names', () => {
    for (const bad of ['', 'mknod', '+', '-cap_', '+mknod:', ':+mknod', '+mknod,,-chown', '*chown', '+nosuchcap', '+cap_sys_admin2', '+ mknod']) {
      assert.throws(() => parseModcaps(bad), CapPolicyError, JSON.stringify(bad));
    }
  });

  it('applies changes in order to the default set; refuses what would break the daemon', () => {
    const none = capPolicy([], { passthroughIo: false });
    assert.equal(hex(none.keep), hex(DEFAULT));
    assert.equal(hex(DEFAULT), '0x880000db', 'chown,dac_override,fowner,fsetid,setgid,setuid,mknod,setfcap');
    assert.equal(none.permittedOnly, 0n);
    const p = capPolicy(parseModcaps('-mknod:+sys_admin:+mknod:-sys_admin:-chown'), { passthroughIo: false });
    assert.equal(hex(p.keep), hex(DEFAULT & ~bit(CAP.CHOWN)));
    assert.equal(hex(p.required), hex(bit(CAP.MKNOD)));
    // --passthrough: SYS_ADMIN permitted only, unless asked for outright; refusing it contradicts --passthrough.
    const pt = capPolicy([], { passthroughIo: true });
    assert.equal(hex(pt.keep), hex(DEFAULT));
    assert.equal(hex(pt.permittedOnly), hex(bit(CAP.SYS_ADMIN)));
    assert.equal(capPolicy(parseModcaps('+sys_admin'), { passthroughIo: true }).permittedOnly, 0n);
    assert.throws(() => capPolicy(parseModcaps('-sys_admin'), { passthroughIo: true }), /--passthrough needs CAP_SYS_ADMIN/);
    assert.throws(() => capPolicy(parseModcaps('-setuid'), { passthroughIo: false }), /CAP_SETUID cannot be dropped/);
    assert.throws(() => capPolicy(parseModcaps('-cap_setgid'), { passthroughIo: false }), /CAP_SETGID cannot be dropped/);
    // Inode file handles: DAC_READ_SEARCH kept for open_by_handle_at, unless dropped (then none, or refused for mandatory).
    const fh = capPolicy([], { passthroughIo: false, fileHandles: 'prefer' });
    assert.equal(hex(fh.keep), hex(DEFAULT | bit(CAP.DAC_READ_SEARCH)));
    assert.equal(fh.fileHandles, true);
    const off = capPolicy(parseModcaps('-dac_read_search'), { passthroughIo: false, fileHandles: 'prefer' });
    assert.equal(hex(off.keep), hex(DEFAULT));
    assert.equal(off.fileHandles, false);
    assert.equal(capPolicy([], { passthroughIo: false, fileHandles: 'never' }).fileHandles, false);
    assert.throws(() => capPolicy(parseModcaps('-dac_read_search'), { passthroughIo: false, fileHandles: 'mandatory' }), /mandatory needs CAP_DAC_READ_SEARCH/);
  });

  it('parseArgs: --modcaps=LIST, --modcaps LIST, repeated; errors are usage errors', () => {
    const c = parseArgs(['mount', 's', 'm', '--modcaps=-mknod', '--modcaps', '-chown:+sys_admin']);
    assert.equal(c.cmd, 'mount');
    if (c.cmd !== 'mount') return;
    assert.equal(hex(c.caps.keep), hex((SERVING & ~bit(CAP.MKNOD) & ~bit(CAP.CHOWN)) | bit(CAP.SYS_ADMIN)));
    const noSearch = parseArgs(['mount', 's', 'm', '--modcaps=-dac_read_search']);
    assert.ok(noSearch.cmd === 'mount' && noSearch.fs.inodeFileHandles === 'never', 'prefer without DAC_READ_SEARCH is never');
    for (const argv of [['--modcaps=+bogus'], ['--modcaps'], ['--modcaps=-setuid'], ['--passthrough', '--modcaps=-sys_admin'], ['--modcaps='], ['--inode-file-handles=mandatory', '--modcaps=-dac_read_search']]) {
      assert.throws(() => parseArgs(['mount', 's', 'm', ...argv]), UsageError, argv.join(' '));
    }
  });

  it('the command exits 2 with the reason on a bad --modcaps', () => {
    const r = cli(['mount', '/tmp', '/mnt', '--modcaps=+mknod:-nosuch']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^passthroughfs: --modcaps: unknown capability "nosuch"\n/);
    const s = cli(['mount', '/tmp', '/mnt', '--modcaps=sys_admin']);
    assert.equal(s.code, 2);
    assert.match(s.stderr, /"sys_admin" must start with \+ \(keep\) or - \(drop\)/);
  });
});

describe('capabilities of the serving thread', { timeout: 120_000 }, () => {
  it('default: exactly virtiofsd\'s set (with dac_read_search for file handles), bounding set empty, other threads untouched; logged once', async () => {
    await withMount([], async ({ pid, d }) => {
      const want = SERVING & OURS;
      const c = threadCaps(pid);
      assert.deepEqual(Object.fromEntries(Object.entries(c).map(([k, v]) => [k, hex(v)])), {
        CapInh: '0x0', CapPrm: hex(want), CapEff: hex(want), CapBnd: '0x0', CapAmb: '0x0',
      });
      // The pool threads (unmount, fsync, waiting locks) keep the process's capabilities.
      const others = fs.readdirSync(`/proc/${pid}/task`).map(Number).filter((t) => t !== pid);
      assert.ok(others.some((t) => threadCaps(pid, t).CapEff === OURS), 'another thread keeps the full set');
      const out = await outputWith(d, /capabilities of the serving thread/);
      const lines = out.split('\n').filter((l) => l.includes('capabilities of the serving thread'));
      assert.equal(lines.length, 1, out);
      assert.match(lines[0]!, /: chown,dac_override,dac_read_search,fowner,fsetid,setgid,setuid,mknod,setfcap; bounding set empty;/);
    });
  });

  it('--modcaps=-mknod: mknod through the mount is EPERM for root (natively it works)', async () => {
    await withMount(['--modcaps=-mknod'], ({ src, mnt, pid }) => {
      assert.equal(hex(threadCaps(pid).CapEff), hex(SERVING & OURS & ~bit(CAP.MKNOD)));
      assert.equal(hex(threadCaps(pid).CapPrm), hex(SERVING & OURS & ~bit(CAP.MKNOD)));
      assert.equal(threadCaps(pid).CapBnd, 0n);
      mknodat(AT_FDCWD, join(src, 'native-null'), S_IFCHR | 0o600, makedev(1, 3));
      assert.ok(fs.statSync(join(src, 'native-null')).isCharacterDevice());
      assert.throws(() => mknodat(AT_FDCWD, join(mnt, 'null'), S_IFCHR | 0o600, makedev(1, 3)), { code: 'EPERM' });
      assert.equal(fs.existsSync(join(src, 'null')), false);
    });
  });

  it('--modcaps=-CAP_CHOWN: chown to another user through the mount is EPERM for root (natively it works)', async () => {
    await withMount(['--modcaps=-CAP_CHOWN'], ({ src, mnt, pid }) => {
      assert.equal(hex(threadCaps(pid).CapEff), hex(SERVING & OURS & ~bit(CAP.CHOWN)));
      fs.writeFileSync(join(src, 'native'), '');
      fs.chownSync(join(src, 'native'), NOBODY, NOBODY);
      assert.equal(fs.statSync(join(src, 'native')).uid, NOBODY);
      assert.throws(() => fs.chownSync(join(mnt, 'f'), NOBODY, NOBODY), { code: 'EPERM' });
      assert.equal(fs.statSync(join(src, 'f')).uid, 0);
    });
  });

  it('--modcaps=+sys_admin: kept, and trusted.* xattrs work through the mount', async () => {
    await withMount(['--modcaps=+sys_admin', '--xattr'], ({ src, mnt, pid }) => {
      const want = (SERVING | bit(CAP.SYS_ADMIN)) & OURS;
      assert.equal(hex(threadCaps(pid).CapEff), hex(want));
      assert.equal(hex(threadCaps(pid).CapPrm), hex(want));
      assert.equal(threadCaps(pid).CapBnd, 0n);
      const r = spawnSync('setfattr', ['-n', 'trusted.t', '-v', 'kept', join(mnt, 'f')], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      assert.match(spawnSync('getfattr', ['-n', 'trusted.t', join(src, 'f')], { encoding: 'utf8' }).stdout, /trusted\.t="kept"/);
    });
  });

  it('default: trusted.* xattrs are refused through the mount (CAP_SYS_ADMIN is dropped)', async () => {
    await withMount(['--xattr'], ({ mnt }) => {
      const r = spawnSync('setfattr', ['-n', 'trusted.t', '-v', 'x', join(mnt, 'f')], { encoding: 'utf8' });
      assert.equal(r.status, 1);
      assert.match(r.stderr, /Operation not permitted/);
    });
  });

  it('--passthrough: SYS_ADMIN permitted, not effective; raised for the backing-file ioctl, so reads bypass the daemon', async (t) => {
    /** Whether reading a file through the mount made the daemon serve a READ. */
    const readsReachDaemon = async (d: Daemon, mnt: string) => {
      const before = d.output().length;
      assert.equal(fs.readFileSync(join(mnt, 'f'), 'utf8'), 'data\n');
      // The daemon's log comes through a pipe: wait for the file's release to show.
      for (let i = 0; i < 200 && !/debug: release unique=/.test(d.output().slice(before)); i++) await sleep(10);
      const log = d.output().slice(before);
      assert.match(log, /debug: open unique=[^]*debug: release unique=/, log);
      return /debug: read unique=/.test(log);
    };
    // The control: with SYS_ADMIN fully kept, does this kernel do FUSE passthrough at all?
    let control = false;
    await withMount(['--passthrough', '--log-level=debug', '--modcaps=+sys_admin'], async ({ mnt, d }) => {
      control = !(await readsReachDaemon(d, mnt));
    });
    if (!control) return t.skip('this kernel does not pass reads through to backing files (FUSE passthrough, Linux >= 6.9)');
    await withMount(['--passthrough', '--log-level=debug'], async ({ mnt, pid, d }) => {
      const c = threadCaps(pid);
      assert.equal(hex(c.CapEff), hex(SERVING & OURS));
      assert.equal(hex(c.CapPrm), hex((SERVING | bit(CAP.SYS_ADMIN)) & OURS));
      assert.equal(c.CapBnd, 0n);
      assert.match(await outputWith(d, /sys_admin permitted/), /sys_admin permitted but not effective, raised only to register passthrough backing files/);
      assert.equal(await readsReachDaemon(d, mnt), false, 'the backing file was registered');
      assert.equal(hex(threadCaps(pid).CapEff), hex(SERVING & OURS), 'lowered again after the ioctl');
    });
  });

  it('unmounts cleanly on SIGTERM and with `passthroughfs umount` after dropping', async () => {
    await withMount([], async ({ mnt, d }) => {
      d.child.kill('SIGTERM');
      assert.equal(await exitOf(d.child, 10_000), 0, d.output());
      assert.equal(isMountPoint(mnt), false);
    });
    await withMount([], async ({ mnt, d }) => {
      const r = cli(['umount', mnt]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(await exitOf(d.child, 10_000), 0, d.output());
      assert.equal(isMountPoint(mnt), false);
    });
  });

  it('a non-root daemon: nothing to drop, and +cap it cannot have is refused by name', async (t) => {
    if (spawnSync('fusermount3', ['-V']).error) return t.skip('fusermount3 is not installed (package fuse3)');
    if (spawnSync('test', ['-r', BIN, '-a', '-r', '/dev/fuse'], { uid: NOBODY, gid: NOBODY }).status !== 0) {
      return t.skip('user nobody cannot read the project or /dev/fuse');
    }
    const dir = makeTempDir('ptfs-caps-');
    let d: Daemon | undefined;
    try {
      fs.chmodSync(dir, 0o755);
      const src = join(dir, 'src');
      const mnt = join(dir, 'mnt');
      for (const p of [src, mnt]) {
        fs.mkdirSync(p);
        fs.chownSync(p, NOBODY, NOBODY);
      }
      const asNobody = { uid: NOBODY, gid: NOBODY };
      const r = cli(['mount', src, mnt, '--modcaps=+sys_admin'], asNobody);
      assert.equal(r.code, 1);
      assert.equal(r.stderr, `passthroughfs: --modcaps: cannot keep CAP_SYS_ADMIN: the daemon (uid ${NOBODY}) does not have it\n`);
      assert.equal(isMountPoint(mnt), false);
      d = await startDaemon('bin/passthroughfs.js', ['mount', src, mnt, '--foreground', '--log-level=info', '--modcaps=-mknod'], mnt, asNobody);
      const c = threadCaps(d.child.pid!);
      assert.equal(c.CapEff, 0n);
      assert.equal(c.CapPrm, 0n);
      assert.match(await outputWith(d, /capabilities: none/), new RegExp(`info: capabilities: none \\(uid ${NOBODY}\\); --modcaps has nothing to drop`));
    } finally {
      await d?.stop();
      removeTempDir(dir);
    }
  });
});

describe('the ext4 reserve (-m 50) holds for users writing through the mount', { timeout: 120_000 }, () => {
  const MiB = 1024 * 1024;
  /** As nobody, write `file` until the filesystem says no; its size then. */
  const fill = (file: string) => {
    const r = spawnSync('dd', ['if=/dev/zero', `of=${file}`, 'bs=1M', 'count=256'], { uid: NOBODY, gid: NOBODY, encoding: 'utf8' });
    assert.equal(r.status, 1, `dd stopped early or not at all: ${r.stderr}`);
    assert.match(r.stderr, /No space left on device/);
    return fs.statSync(file).size;
  };

  for (const extra of [[], ['--passthrough']]) {
    it(`as natively${extra.length ? ` (${extra.join(' ')})` : ''}`, async (t) => {
      if (spawnSync('mkfs.ext4', ['-V']).error || !fs.existsSync('/dev/loop-control')) return t.skip('needs mkfs.ext4 and loop devices');
      const dir = makeTempDir('ptfs-resv-');
      const disk = join(dir, 'disk');
      const mnt = join(dir, 'mnt');
      let d: Daemon | undefined;
      try {
        fs.chmodSync(dir, 0o755);
        fs.mkdirSync(disk);
        fs.mkdirSync(mnt);
        fs.writeFileSync(join(dir, 'img'), '');
        fs.truncateSync(join(dir, 'img'), 64 * MiB);
        assert.equal(spawnSync('mkfs.ext4', ['-q', '-F', '-m', '50', join(dir, 'img')]).status, 0, 'mkfs.ext4');
        const m = spawnSync('mount', ['-o', 'loop', join(dir, 'img'), disk], { encoding: 'utf8' });
        if (m.status !== 0) return t.skip(`cannot loop-mount: ${m.stderr.trim()}`);
        const src = join(disk, 'src');
        fs.mkdirSync(src, { mode: 0o777 });
        fs.chmodSync(src, 0o777);
        const native = fill(join(src, 'native'));
        fs.unlinkSync(join(src, 'native'));
        spawnSync('sync', ['-f', src]);
        d = await startDaemon('bin/passthroughfs.js', ['mount', src, mnt, '--foreground', '-o', 'allow_other', ...extra], mnt);
        const through = fill(join(mnt, 'f'));
        // The same, up to the last partial write (root's reserve is half the disk: ~27 MiB more).
        assert.ok(Math.abs(through - native) <= MiB, `native ${native} bytes, through the mount ${through}`);
      } finally {
        await d?.stop();
        if (isMountPoint(disk)) spawnSync('umount', [disk]);
        removeTempDir(dir);
      }
    });
  }
});
