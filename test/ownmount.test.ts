/**
 * A name in the source that leads into the daemon's own mount: the mountpoint
 * inside the source (through the library, which does not refuse it), or the
 * live mount bind-mounted into the source afterwards. The daemon must answer
 * (ELOOP for that name) rather than wait on itself, keep serving the rest,
 * and unmount cleanly.
 *
 * Every access to the mount runs in a child process with a deadline: a
 * wedged daemon leaves its callers in an uninterruptible wait, which must not
 * be the test runner. On a timeout the daemon is killed (by pid), which ends
 * the connection and frees them.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { isMountPoint } from '../src/fuse/mount.js';
import { makeTempDir, removeTempDir, startDaemon, stopDaemonAndRemove, type Daemon } from './helpers.js';

type Step = [op: 'lstat' | 'readdir' | 'readdirTypes' | 'read' | 'mkdir' | 'create' | 'createExcl', path: string];

/** Runs in the child: each step's result, or its error code. */
const PROBE = `
const fs = require('fs');
const out = [];
for (const [op, p] of JSON.parse(process.argv[1])) {
  try {
    switch (op) {
      case 'lstat': fs.lstatSync(p); out.push('ok'); break;
      case 'readdir': out.push(fs.readdirSync(p).sort()); break;
      case 'readdirTypes': out.push(fs.readdirSync(p, { withFileTypes: true })
        .map((d) => d.name + ':' + (d.isDirectory() ? 'dir' : d.isFile() ? 'file' : 'other')).sort()); break;
      case 'read': out.push(fs.readFileSync(p, 'utf8')); break;
      case 'mkdir': fs.mkdirSync(p); out.push('ok'); break;
      case 'create': fs.closeSync(fs.openSync(p, 'w')); out.push('ok'); break;
      case 'createExcl': fs.closeSync(fs.openSync(p, 'wx')); out.push('ok'); break;
    }
  } catch (e) {
    out.push(e.code);
  }
}
process.stdout.write(JSON.stringify(out));
`;

/** The steps' results from a child process, or 'hung' if it did not finish within `ms`. */
function probe(steps: Step[], ms = 10_000): Promise<unknown[] | 'hung'> {
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, ['-e', PROBE, JSON.stringify(steps)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let hung = false;
    c.stdout.on('data', (d) => (out += d));
    c.stderr.on('data', (d) => (err += d));
    const timer = setTimeout(() => {
      hung = true;
      resolve('hung');
    }, ms);
    c.on('close', (code) => {
      clearTimeout(timer);
      if (hung) return;
      if (code === 0) resolve(JSON.parse(out) as unknown[]);
      else reject(new Error(`probe exited ${code}: ${err}`));
    });
  });
}

/** probe(), failing the test (and killing the wedged daemon so that its callers are freed) if it hangs. */
async function expectAnswers(daemon: Daemon, steps: Step[]): Promise<unknown[]> {
  const r = await probe(steps);
  if (r === 'hung') {
    daemon.child.kill('SIGKILL');
    assert.fail(`the daemon did not answer within 10 s (it waits on its own mount): ${JSON.stringify(steps)}`);
  }
  return r;
}

function mount(args: string[]): void {
  const r = spawnSync('mount', args, { encoding: 'utf8', timeout: 10_000 });
  if (r.status !== 0) throw new Error(`mount ${args.join(' ')}: ${r.stderr}`);
}

/** Unmount and remove; a daemon killed for hanging has already failed the test, its exit status is no news. */
async function cleanUp(daemon: Daemon | undefined, dir: string): Promise<void> {
  if (!daemon?.child.killed) return stopDaemonAndRemove(daemon, dir);
  await daemon.stop();
  removeTempDir(dir);
}

/** Undo bind mounts (innermost first); lazily if something still holds them. */
function unmountAll(points: string[]): void {
  for (const p of [...points].reverse()) {
    if (!isMountPoint(p)) continue;
    if (spawnSync('umount', ['-R', p], { timeout: 10_000 }).status !== 0) spawnSync('umount', ['-R', '-l', p]);
  }
}

describe("a name leading into the daemon's own mount", () => {
  it('mountpoint inside the source (library): lookup, readdirplus, create and mkdir answer, the rest keeps working', async () => {
    const dir = makeTempDir('ptfs-ownmount-');
    const src = join(dir, 'src');
    const mnt = join(src, 'mnt');
    fs.mkdirSync(mnt, { recursive: true });
    fs.writeFileSync(join(src, 'f'), 'hello');
    const binds: string[] = [];
    let daemon: Daemon | undefined;
    try {
      // A long negative timeout lets the kernel send CREATE/MKDIR for a name it
      // believes missing, which the host has meanwhile turned into a mount point.
      daemon = await startDaemon('dist/test/fixtures/serve-passthrough.js', [src, mnt, JSON.stringify({ negativeTimeout: 60 })], mnt);
      assert.deepEqual(await expectAnswers(daemon, [
        ['readdirTypes', mnt], // READDIRPLUS: looks every entry up, "mnt" included
        ['lstat', join(mnt, 'mnt')],
        ['readdir', join(mnt, 'mnt')],
        ['lstat', join(mnt, 'mnt', 'f')],
        ['mkdir', join(mnt, 'mnt')],
        ['create', join(mnt, 'mnt')],
        ['read', join(mnt, 'f')],
        ['lstat', join(mnt, 'late')],
      ]), [['f:file', 'mnt:dir'], 'ELOOP', 'ELOOP', 'ELOOP', 'ELOOP', 'ELOOP', 'hello', 'ENOENT']);

      // "late" is cached as missing; the host makes it a mount point of our
      // mount. open(O_CREAT) then goes straight to CREATE (O_EXCL and mkdir
      // look the name up again first).
      fs.mkdirSync(join(src, 'late'));
      mount(['--bind', mnt, join(src, 'late')]);
      binds.push(join(src, 'late'));
      assert.deepEqual(await expectAnswers(daemon, [
        ['create', join(mnt, 'late')],
        ['createExcl', join(mnt, 'late')],
        ['mkdir', join(mnt, 'late')],
        ['read', join(mnt, 'f')],
      ]), ['ELOOP', 'ELOOP', 'ELOOP', 'hello']);
      unmountAll(binds);
      assert.deepEqual(fs.readdirSync(src).sort(), ['f', 'late', 'mnt']);
    } finally {
      unmountAll(binds);
      await cleanUp(daemon, dir);
    }
  });

  it('the live mount (or a directory of it, or its parent) bind-mounted into the source later (CLI)', async () => {
    const dir = makeTempDir('ptfs-ownmount-');
    const src = join(dir, 'src');
    const outer = join(dir, 'outer');
    const mnt = join(outer, 'mnt');
    for (const d of ['loop', 'sub', 'subloop', 'up']) fs.mkdirSync(join(src, d), { recursive: true });
    fs.mkdirSync(mnt, { recursive: true });
    fs.writeFileSync(join(src, 'f'), 'hello');
    fs.writeFileSync(join(src, 'sub', 'g'), 'in sub');
    const binds: string[] = [];
    let daemon: Daemon | undefined;
    try {
      // cache=never: every access is a LOOKUP, none is answered from the kernel's cache.
      daemon = await startDaemon('bin/passthroughfs.js', ['mount', src, mnt, '--cache=never', '-f'], mnt);
      assert.deepEqual(await expectAnswers(daemon, [['lstat', join(mnt, 'loop')], ['readdir', join(mnt, 'sub')]]), ['ok', ['g']]);
      mount(['--bind', mnt, join(src, 'loop')]);
      binds.push(join(src, 'loop'));
      mount(['--bind', join(mnt, 'sub'), join(src, 'subloop')]);
      binds.push(join(src, 'subloop'));
      mount(['--rbind', outer, join(src, 'up')]);
      binds.push(join(src, 'up'));
      assert.deepEqual(await expectAnswers(daemon, [
        ['lstat', join(mnt, 'loop')], // known to the daemon from before the bind
        ['lstat', join(mnt, 'subloop')],
        ['readdir', join(mnt, 'up')],
        ['lstat', join(mnt, 'up', 'mnt')],
        ['readdir', join(mnt, 'loop')],
        ['create', join(mnt, 'loop')],
        ['mkdir', join(mnt, 'subloop')],
        ['read', join(mnt, 'f')],
        ['read', join(mnt, 'sub', 'g')],
      ]), ['ELOOP', 'ELOOP', ['mnt'], 'ELOOP', 'ELOOP', 'ELOOP', 'ELOOP', 'hello', 'in sub']);
      unmountAll(binds);
      assert.deepEqual(await expectAnswers(daemon, [['readdir', join(mnt, 'loop')], ['readdir', join(mnt, 'subloop')]]), [[], []]);
    } finally {
      unmountAll(binds);
      await cleanUp(daemon, dir);
    }
  });
});
