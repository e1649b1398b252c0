/**
 * Data-path behaviour that needs a real ext4 (made on a loop device, see loopfs.ts): root's reserved blocks and
 * append-only files. Each case runs natively and through a mount of the same filesystem, and the two must agree.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { makeTempDir, startDaemon, stopDaemonAndRemove, type Daemon } from './helpers.js';
import { withExt4 } from './loopfs.js';
import { FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE, copyFileRange, fallocate } from './conformance/libc.js';
import { code, valOr } from './conformance/harness.js';
import { pattern } from './conformance/data.js';

const NOBODY = 65534;
const MiB = 2 ** 20;

/** Mount `src` on a fresh mountpoint with `args`, run `fn`, then unmount and remove the mountpoint. */
async function throughMount<T>(src: string, args: string[], fn: (mnt: string) => Promise<T> | T): Promise<T> {
  const base = makeTempDir('ptfs-ext4-mnt-');
  fs.chmodSync(base, 0o755);
  const mnt = join(base, 'mnt');
  fs.mkdirSync(mnt, { mode: 0o755 });
  let daemon: Daemon | undefined;
  try {
    daemon = await startDaemon('bin/passthroughfs.js', ['mount', src, mnt, '--foreground', ...args], mnt);
    return await fn(mnt);
  } finally {
    await stopDaemonAndRemove(daemon, base);
  }
}

/**
 * As nobody, write 80 MiB of zeros to `path` (more than the filesystem lets a user have) and fsync; the bytes the
 * host file then holds. Under the writeback cache the refusal comes with writeback, so only the fsync reports it.
 */
function fillAsNobody(path: string, hostPath: string): { bytes: number; error: string } {
  const r = spawnSync('dd', ['if=/dev/zero', `of=${path}`, 'bs=256k', 'count=320', 'conv=fsync', 'status=none'], {
    uid: NOBODY, gid: NOBODY, cwd: '/', encoding: 'utf8', timeout: 120_000,
  });
  const error = r.status !== 0 && /No space left/.test(r.stderr) ? 'ENOSPC' : `exit ${r.status}: ${r.stderr}`;
  return { bytes: fs.statSync(hostPath).blocks * 512, error };
}

/**
 * Appends to an append-only file, and everything else it must refuse, through `dir`; `host` is the same directory
 * on the host (where chattr runs).
 */
function appendOnly(dir: string, host: string): Record<string, unknown> {
  const f = join(dir, 'log');
  fs.writeFileSync(join(host, 'log'), 'head\n');
  const before = fs.openSync(f, 'r');
  spawnSync('chattr', ['+a', join(host, 'log')]);
  const r: Record<string, unknown> = {};
  try {
    r.attr = spawnSync('lsattr', ['-d', join(host, 'log')], { encoding: 'utf8' }).stdout.slice(0, 22).includes('a');
    r.appendFile = code(() => fs.appendFileSync(f, 'one\n'));
    const a = fs.openSync(f, 'a');
    // Small appends into one page: a cache would resend the page's head with each.
    r.small = ['ab', 'cd', 'ef\n'].map((x) => fs.writeSync(a, x));
    r.pwriteAppends = fs.writeSync(a, 'XY', 0);
    r.big = fs.writeSync(a, pattern(200_000, 3));
    r.fallocate = code(() => fallocate(a, 0, 0, 300_000));
    r.punch = code(() => fallocate(a, FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE, 0, 4096));
    r.ftruncate = code(() => fs.ftruncateSync(a, 2));
    r.copyIntoAppend = code(() => copyFileRange(before, null, a, null, 10));
    fs.fsyncSync(a);
    fs.closeSync(a);
    fs.closeSync(before);
    const two = [fs.openSync(f, 'a'), fs.openSync(f, 'a+')];
    r.interleaved = ['1', '2', '3', '4'].map((x, i) => fs.writeSync(two[i % 2]!, x));
    for (const fd of two) fs.closeSync(fd);
    r.openRdwr = code(() => fs.closeSync(fs.openSync(f, 'r+')));
    r.openWronly = code(() => fs.closeSync(fs.openSync(f, fs.constants.O_WRONLY)));
    r.openTrunc = code(() => fs.closeSync(fs.openSync(f, fs.constants.O_WRONLY | fs.constants.O_APPEND | fs.constants.O_TRUNC)));
    r.truncate = code(() => fs.truncateSync(f, 2));
    r.writeFile = code(() => fs.writeFileSync(f, 'gone'));
    const text = fs.readFileSync(f);
    r.size = [fs.statSync(f).size, text.length];
    r.start = text.subarray(0, 18).toString('latin1');
    r.end = text.subarray(text.length - 4).toString('latin1');
    r.sameAsHost = valOr(() => fs.readFileSync(join(host, 'log')).equals(text));
  } finally {
    spawnSync('chattr', ['-a', join(host, 'log')]);
  }
  return r;
}

function syncfs(dir: string): void {
  spawnSync('sync', ['-f', dir]);
}

describe('ext4 on a loop device', { timeout: 300_000 }, () => {
  it('root\'s reserved blocks (mkfs -m 50) stay root\'s: a user writes as much through the mount as natively', async (t) => {
    await withExt4({ sizeMiB: 96, reservedPercent: 50 }, async (root) => {
      for (const d of ['native', 'src']) {
        fs.mkdirSync(join(root, d));
        fs.chownSync(join(root, d), NOBODY, NOBODY);
      }
      const native = fillAsNobody(join(root, 'native/fill'), join(root, 'native/fill'));
      fs.unlinkSync(join(root, 'native/fill'));
      syncfs(root);
      assert.equal(native.error, 'ENOSPC');
      assert.ok(native.bytes > 20 * MiB && native.bytes < 48 * MiB, `native: ${native.bytes}`);
      t.diagnostic(`natively: ${(native.bytes / MiB).toFixed(1)} MiB`);
      for (const args of [['--cache=auto'], ['--cache=never'], ['--cache=auto', '--writeback']]) {
        const mounted = await throughMount(join(root, 'src'), [...args, '-o', 'allow_other'], (mnt) =>
          fillAsNobody(join(mnt, 'fill'), join(root, 'src/fill')));
        fs.unlinkSync(join(root, 'src/fill'));
        syncfs(root);
        t.diagnostic(`${args.join(' ')}: ${(mounted.bytes / MiB).toFixed(1)} MiB`);
        assert.equal(mounted.error, 'ENOSPC', args.join(' '));
        // The last partial request and metadata blocks may differ a little.
        assert.ok(Math.abs(mounted.bytes - native.bytes) <= 2 * MiB,
          `${args.join(' ')}: ${(mounted.bytes / MiB).toFixed(1)} MiB through the mount, ${(native.bytes / MiB).toFixed(1)} MiB natively`);
      }
    });
  });

  it('an append-only file (chattr +a) takes appends, and nothing else, as natively: writeback, cached and uncached', async () => {
    await withExt4({ sizeMiB: 64 }, async (root) => {
      fs.mkdirSync(join(root, 'native'));
      const native = appendOnly(join(root, 'native'), join(root, 'native'));
      assert.deepEqual(native, {
        attr: true, appendFile: 'OK', small: [2, 2, 3], pwriteAppends: 2, big: 200_000,
        fallocate: 'OK', punch: 'EPERM', ftruncate: 'EPERM', copyIntoAppend: 'EBADF', interleaved: [1, 1, 1, 1],
        openRdwr: 'EPERM', openWronly: 'EPERM', openTrunc: 'EPERM', truncate: 'EPERM', writeFile: 'EPERM',
        size: [300_004, 300_004], start: 'head\none\nabcdef\nXY', end: native.end, sameAsHost: true,
      });
      for (const args of [['--cache=auto', '--writeback'], ['--cache=always', '--writeback'], ['--cache=auto'], ['--cache=never']]) {
        const src = join(root, `src${args.join('')}`);
        fs.mkdirSync(src);
        const mounted = await throughMount(src, args, (mnt) => appendOnly(mnt, src));
        assert.deepEqual(mounted, native, `${args.join(' ')}: through the mount (actual) vs native (expected)`);
      }
    });
  });

  // An fd opened before chattr +a may still write in place (natively too). Under writeback the kernel may send its
  // dirty page through any open of the file, here the later append-only one, whose O_APPEND host fd would put it at
  // the end: it must land in place all the same; and the kernel's explicit-time update that follows, which the host
  // refuses for an append-only file, must not fail the fsync.
  it('writeback: a page dirtied through an fd opened before chattr +a is written in place, not appended', async () => {
    await withExt4({ sizeMiB: 64 }, async (root) => {
      const src = join(root, 'src');
      fs.mkdirSync(src);
      const content = await throughMount(src, ['--cache=auto', '--writeback'], (mnt) => {
        const f = join(mnt, 'log');
        fs.writeFileSync(f, 'head\n');
        const before = fs.openSync(f, 'r+');
        spawnSync('chattr', ['+a', join(src, 'log')]);
        try {
          const a = fs.openSync(f, 'a');
          fs.writeSync(a, 'tail\n');
          fs.writeSync(before, 'P', 0);
          const synced = code(() => fs.fsyncSync(before));
          fs.closeSync(a);
          fs.closeSync(before);
          return [synced, fs.readFileSync(join(src, 'log'), 'latin1')];
        } finally {
          spawnSync('chattr', ['-a', join(src, 'log')]);
        }
      });
      assert.deepEqual(content, ['OK', 'Pead\ntail\n']);
    });
  });
});
