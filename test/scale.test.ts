/**
 * Scale under a small fd limit, through real mounts: with inode file handles
 * the daemon walks and creates far more files than it may hold descriptors,
 * its fd count stays within the limit and returns to its baseline once the
 * kernel forgets the inodes; without them a client that asks for more gets
 * ENFILE for its own operation while the daemon keeps serving; and one user
 * holding open files up to its share leaves room for every other user.
 *
 * The limit is lowered with --rlimit-nofile (soft limit only) to prove at a
 * small scale what holds at the machine's: the budget follows the limit.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { makeTempDir, startDaemon, stopDaemonAndRemove, waitUntil, type Daemon } from './helpers.js';

const LIMIT = 256;
/** What the budget gives one user with LIMIT (fdbudget.ts): (LIMIT - 64 - cache of 48) / 2. */
const SHARE = 72;
const DIRS = 8;
const PER_DIR = 750;
const NOBODY = 65534;

function fdCount(pid: number): number {
  return fs.readdirSync(`/proc/${pid}/fd`).length;
}

function dropCaches(): void {
  fs.writeFileSync('/proc/sys/vm/drop_caches', '2');
}

/** Run `cmd` to completion, sampling `pid`'s fd count meanwhile; stdout lines, stderr, exit code, peak fds. */
async function runSampling(cmd: string, args: string[], pid: number): Promise<{ lines: number; stderr: string; code: number | null; peak: number }> {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let lines = 0;
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => { for (const b of d) if (b === 10) lines++; });
  child.stderr.on('data', (d) => (stderr += d));
  let peak = 0;
  const timer = setInterval(() => (peak = Math.max(peak, fdCount(pid))), 5);
  const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
  clearInterval(timer);
  peak = Math.max(peak, fdCount(pid));
  return { lines, stderr, code, peak };
}

function makeTree(src: string): number {
  for (let d = 0; d < DIRS; d++) {
    const dir = join(src, `d${d}`);
    fs.mkdirSync(dir);
    for (let f = 0; f < PER_DIR; f++) fs.writeFileSync(join(dir, `f${f}`), f % 7 === 0 ? 'x'.repeat(f % 13) : '');
  }
  return 1 + DIRS + DIRS * PER_DIR;
}

describe('scale: more files than descriptors', () => {
  let dir: string;
  let src: string;
  let entries: number;

  before(() => {
    dir = makeTempDir('ptfs-scale-');
    src = join(dir, 'src');
    fs.mkdirSync(src);
    entries = makeTree(src);
  });

  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  for (const mode of ['mandatory', 'prefer'] as const) {
    it(`--inode-file-handles=${mode}: ${DIRS * PER_DIR} files walked and 3000 created under a limit of ${LIMIT}, fds back to baseline`, async () => {
      const mnt = join(dir, `mnt-${mode}`);
      fs.mkdirSync(mnt);
      let d: Daemon | undefined;
      try {
        d = await startDaemon('bin/passthroughfs.js', ['mount', src, mnt, '-f', `--rlimit-nofile=${LIMIT}`, `--inode-file-handles=${mode}`], mnt);
        const pid = d.child.pid!;
        fs.statSync(mnt);
        const baseline = fdCount(pid);
        const walk = await runSampling('find', [mnt, '-printf', '%s\n'], pid);
        assert.equal(walk.stderr, '');
        assert.equal(walk.code, 0);
        assert.equal(walk.lines, entries);
        assert.ok(walk.peak < LIMIT, `peak ${walk.peak} fds, limit ${LIMIT}`);
        // Attributes through the mount are the host's.
        assert.equal(fs.statSync(join(mnt, 'd3', 'f7')).size, 7);

        const made = join(mnt, 'made');
        fs.mkdirSync(made);
        for (let i = 0; i < 3000; i++) fs.writeFileSync(join(made, `n${i}`), String(i));
        assert.equal(fs.readdirSync(join(src, 'made')).length, 3000);
        assert.equal(fs.readFileSync(join(src, 'made', 'n2999'), 'utf8'), '2999');
        assert.ok(fdCount(pid) < LIMIT);

        dropCaches();
        assert.ok(await waitUntil(() => fdCount(pid) <= baseline, 5000), `fds ${fdCount(pid)} after drop_caches, baseline ${baseline}`);
        // And everything is reachable again, by handle or by name.
        assert.equal(fs.readFileSync(join(mnt, 'made', 'n17'), 'utf8'), '17');
      } finally {
        await d?.stop();
        fs.rmSync(join(src, 'made'), { recursive: true, force: true });
      }
    });
  }

  it('--inode-file-handles=never: past the budget a lookup gets ENFILE, and the daemon keeps serving', async () => {
    const mnt = join(dir, 'mnt-never');
    fs.mkdirSync(mnt);
    let d: Daemon | undefined;
    try {
      d = await startDaemon('bin/passthroughfs.js', ['mount', src, mnt, '-f', `--rlimit-nofile=${LIMIT}`, '--inode-file-handles=never'], mnt);
      const pid = d.child.pid!;
      const walk = await runSampling('find', [mnt, '-printf', '%s\n'], pid);
      // One fd per inode: the stats past the budget fail, with the client's errno, not the daemon's.
      assert.match(walk.stderr, /Too many open files in system/);
      assert.doesNotMatch(walk.stderr, /Transport endpoint|Software caused|Input\/output error/);
      assert.ok(walk.peak < LIMIT, `peak ${walk.peak} fds, limit ${LIMIT}`);
      // The daemon itself is fine: what it holds works, and after the kernel lets go all works.
      assert.equal(fs.readdirSync(mnt).length, DIRS);
      dropCaches();
      assert.ok(await waitUntil(() => fdCount(pid) < 40, 5000));
      assert.equal(fs.statSync(join(mnt, 'd7', 'f14')).size, 1);
    } finally {
      await d?.stop();
    }
  });
});

describe('scale: one user cannot starve the others of open files', () => {
  let dir: string;
  let d: Daemon | undefined;
  let mnt: string;
  let holder: ReturnType<typeof spawn> | undefined;

  before(async () => {
    dir = makeTempDir('ptfs-share-');
    // Other users must reach the mount (mkdtemp makes 0700 directories).
    fs.chmodSync(dir, 0o755);
    const src = join(dir, 'src');
    mnt = join(dir, 'mnt');
    fs.mkdirSync(src, { mode: 0o755 });
    fs.mkdirSync(mnt);
    fs.writeFileSync(join(src, 'f'), 'shared\n', { mode: 0o644 });
    d = await startDaemon('bin/passthroughfs.js', ['mount', src, mnt, '-f', `--rlimit-nofile=${LIMIT}`, '-o', 'allow_other'], mnt);
  });

  after(async () => {
    if (holder?.exitCode === null) holder.kill('SIGKILL');
    await stopDaemonAndRemove(d, dir);
  });

  it(`a user holding its share (${SHARE}) gets EMFILE; root and another user still read`, async () => {
    // As nobody: open the file until refused, report how many and why, then hold them until stdin closes.
    const script = `n=0; while [ $n -lt 400 ]; do exec {fd}<"$1" 2>/dev/null || { echo "refused after $n"; break; }; n=$((n+1)); done; echo held; read _`;
    holder = spawn('bash', ['-c', script, 'holder', join(mnt, 'f')], { uid: NOBODY, gid: NOBODY, stdio: ['pipe', 'pipe', 'pipe'], cwd: '/' });
    let out = '';
    holder.stdout!.on('data', (b) => (out += b));
    assert.ok(await waitUntil(() => out.includes('held'), 10_000), `holder: ${out}`);
    assert.match(out, new RegExp(`^refused after ${SHARE}\\n`));
    // Root reads; so does another unprivileged user.
    assert.equal(fs.readFileSync(join(mnt, 'f'), 'utf8'), 'shared\n');
    const other = spawnSync('cat', [join(mnt, 'f')], { uid: NOBODY - 1, gid: NOBODY - 1, encoding: 'utf8', cwd: '/' });
    assert.equal(other.stderr, '');
    assert.equal(other.stdout, 'shared\n');
    // Once the holder lets go, it can open again.
    holder.stdin!.end();
    await new Promise((r) => holder!.once('exit', r));
    const again = spawnSync('cat', [join(mnt, 'f')], { uid: NOBODY, gid: NOBODY, encoding: 'utf8', cwd: '/' });
    assert.equal(again.stdout, 'shared\n');
  });
});
