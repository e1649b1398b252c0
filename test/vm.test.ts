/**
 * virtio-fs in a real guest: a Linux guest under QEMU (test/vm/guest.ts) mounts a share served by each backend in
 * test/vm/backends.ts and works on it; the host then checks what the guest wrote. The same tests run against every
 * backend, so a new one (PTFS_VM_BACKEND, or an entry in allBackends) is held to what the reference daemons do.
 * Skipped, with the reason, where QEMU, the guest kernel or a backend is missing.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeTempDir, removeTempDir } from './helpers.js';
import { allBackends, type BackendSpec } from './vm/backends.js';
import { startBackendCommand, vmUnavailable, withGuest, type Backend, type GuestOptions } from './vm/guest.js';

const vmSkip = vmUnavailable();

/** A tree of 1000 files in 20 directories (sizes 0 to ~70 KiB, text and binary, one of 1 MiB), under `root`. */
function makeTree(root: string): void {
  let seed = 12345;
  const rnd = () => (seed = (seed * 1103515245 + 12345) >>> 0);
  for (let d = 0; d < 20; d++) {
    const dir = join(root, `d${String(d).padStart(2, '0')}`, d % 4 === 0 ? 'sub' : '');
    fs.mkdirSync(dir, { recursive: true });
    for (let f = 0; f < 50; f++) {
      const n = d * 50 + f;
      const size = n === 0 ? 0 : n === 1 ? 1 << 20 : rnd() % (n % 10 === 0 ? 70_000 : 3000);
      const data = Buffer.alloc(size);
      if (n % 3 === 0) for (let i = 0; i < size; i++) data[i] = rnd() & 0xff;
      else data.write(`file ${n}\n`.repeat(Math.ceil(size / 10)).slice(0, size));
      fs.writeFileSync(join(dir, `f${n}.dat`), data);
    }
  }
}

function countFiles(root: string): number {
  let n = 0;
  for (const e of fs.readdirSync(root, { withFileTypes: true })) n += e.isDirectory() ? countFiles(join(root, e.name)) : 1;
  return n;
}

/** Directories named ptfs-vm-* in the temp dir, and QEMU processes whose arguments name one: what a run may leave. */
function leftovers(): { dirs: string[]; qemus: number[] } {
  const dirs = fs.readdirSync(tmpdir()).filter((d) => d.startsWith('ptfs-vm-'));
  const qemus: number[] = [];
  for (const p of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      const cmd = fs.readFileSync(`/proc/${p}/cmdline`, 'utf8');
      if (cmd.startsWith('qemu-system') && cmd.includes('/ptfs-vm-')) qemus.push(Number(p));
    } catch { /* gone */ }
  }
  return { dirs, qemus };
}

function backendTests(spec: BackendSpec): void {
  const skip = vmSkip ?? spec.unavailable();
  describe(`guest on ${spec.name}`, { skip, timeout: 600_000 }, () => {
    let base = '';
    let shared = '';
    let tree = '';
    const opts = (extra: Partial<GuestOptions> = {}): GuestOptions => ({ backend: spec.backend(shared), timeoutMs: 240_000, ...extra });

    before(() => {
      base = makeTempDir('ptfs-vmtest-');
      shared = join(base, 'shared');
      tree = join(base, 'tree');
      fs.mkdirSync(shared);
      makeTree(tree);
      assert.equal(countFiles(tree), 1000);
    });
    after(() => removeTempDir(base));

    it('writes, mkdir, and a 1000-file cp -r / diff -r both ways; the host sees it all', async (t) => {
      fs.writeFileSync(join(shared, 'from-host.txt'), 'written on the host\n');
      // $TREE is a host path: the guest sees the host's root (read-only) at the same paths.
      const r = await withGuest(opts({ env: { TREE: tree } }), `
        set -e
        t() { s=$(date +%s%N); "$@" >/dev/null; e=$(date +%s%N); echo "ms $(( (e - s) / 1000000 )): $*"; }
        cat "$SHARE/from-host.txt"
        echo 'written in the guest' > "$SHARE/hello.txt"
        mkdir -p "$SHARE/a/b/c"
        t cp -r "$TREE" "$SHARE/tree"
        t diff -r "$TREE" "$SHARE/tree"
        t cp -r "$SHARE/tree" /tmp/back
        t diff -r "$TREE" /tmp/back
        echo "files: $(find "$SHARE/tree" -type f | wc -l)"
        t node -e 1
        t node -e 1
        t node -e 1
        t node -e "require('fs').writeFileSync(process.env.SHARE + '/from-node.txt', 'node was here')"
      `);
      assert.equal(r.code, 0, r.output);
      assert.match(r.output, /^written on the host$/m);
      assert.match(r.output, /^files: 1000$/m);
      assert.ok(r.unmounted, 'the init could not unmount the share after the script');
      assert.equal(fs.readFileSync(join(shared, 'hello.txt'), 'utf8'), 'written in the guest\n');
      assert.ok(fs.statSync(join(shared, 'a/b/c')).isDirectory());
      assert.equal(fs.readFileSync(join(shared, 'from-node.txt'), 'utf8'), 'node was here');
      const diff = spawnSync('diff', ['-r', tree, join(shared, 'tree')], { encoding: 'utf8' });
      assert.equal(diff.status, 0, `on the host, diff -r tree shared/tree:\n${diff.stdout}${diff.stderr}`);

      const node = [...r.output.matchAll(/^ms (\d+): node -e 1$/gm)].map((m) => Number(m[1]));
      t.diagnostic(`boot ${r.bootMs} ms (guest uptime ${r.guestUptimeAtStart} s at the script's start), script ${r.scriptMs} ms, accel ${r.accel}`);
      t.diagnostic(`node -e 1 in the guest: ${node.join(', ')} ms (first from a cold page cache)`);
      t.diagnostic([...r.output.matchAll(/^ms (\d+): ((?:cp|diff) .*)$/gm)].map((m) => `${m[2]!.replace(tree, 'TREE').replace(/\/mnt/g, '$SHARE')}: ${m[1]} ms`).join('; '));
    });

    it('umount and mount again in the same guest', async () => {
      const r = await withGuest(opts(), `
        set -e
        echo one > "$SHARE/one"
        umount "$SHARE"
        if grep -q " $SHARE virtiofs " /proc/mounts; then echo 'still mounted'; exit 1; fi
        test ! -e "$SHARE/one"
        mount -t virtiofs "$TAG" "$SHARE"
        cat "$SHARE/one"
        echo two > "$SHARE/two"
        umount "$SHARE"
        mount -t virtiofs "$TAG" "$SHARE"
        cat "$SHARE/two"
      `);
      assert.equal(r.code, 0, r.output);
      assert.equal(r.output, 'one\ntwo\n');
      assert.equal(fs.readFileSync(join(shared, 'one'), 'utf8'), 'one\n');
      assert.equal(fs.readFileSync(join(shared, 'two'), 'utf8'), 'two\n');
    });
  });
}

for (const spec of allBackends()) backendTests(spec);

// The harness itself: exit statuses, failures that must be reported clearly, and nothing left behind.
const reference = allBackends().find((b) => !b.unavailable());
describe('vm harness', { skip: vmSkip ?? (reference ? undefined : 'no backend available'), timeout: 600_000 }, () => {
  let base = '';
  let shared = '';
  let before0: ReturnType<typeof leftovers> = { dirs: [], qemus: [] };
  const backend = (): Backend => reference!.backend(shared);
  before(() => {
    before0 = leftovers();
    base = makeTempDir('ptfs-vmtest-');
    shared = join(base, 'shared');
    fs.mkdirSync(shared);
  });
  after(() => removeTempDir(base));

  it('reports the exit status and output of a busybox-only guest (hostRoot: false)', async () => {
    const r = await withGuest({ backend: backend(), hostRoot: false, timeoutMs: 60_000 }, 'echo "tag=$TAG share=$SHARE"; echo err >&2; touch "$SHARE/bb"; printf "no newline"; exit 7');
    assert.equal(r.code, 7);
    assert.equal(r.output, 'tag=ptfs share=/mnt\nerr\nno newline');
    assert.ok(fs.existsSync(join(shared, 'bb')));
  });

  it('a mount that fails is a clear error with the console', async () => {
    await assert.rejects(withGuest({ backend: backend(), tag: 'ptfs', mount: 'no_such_option', hostRoot: false, timeoutMs: 60_000 }, 'true'),
      /guest init failed: mount -t virtiofs ptfs \/mnt[\s\S]*--- console \(tail\) ---/);
  });

  it('a script that overruns its timeout is killed and reported', async () => {
    const t0 = Date.now();
    await assert.rejects(withGuest({ backend: backend(), hostRoot: false, timeoutMs: 8_000 }, 'echo started; sleep 600'),
      /did not finish within 8000 ms[\s\S]*started/);
    assert.ok(Date.now() - t0 < 20_000);
  });

  it('a backend that dies while the guest runs fails the run promptly', async () => {
    const spec = reference!.backend(shared);
    assert.ok(typeof spec !== 'function');
    let handle: Awaited<ReturnType<typeof startBackendCommand>> | undefined;
    const t0 = Date.now();
    await assert.rejects(withGuest({
      backend: async (socketPath) => (handle = await startBackendCommand(spec, socketPath)),
      hostRoot: false,
      timeoutMs: 120_000,
      onOutput: (s) => { if (s.includes('kill-now') && handle?.pid) process.kill(handle.pid, 'SIGKILL'); },
    }, 'echo x > "$SHARE/x"; echo kill-now; sleep 100'), /the backend exited \(signal SIGKILL\) while the guest was running/);
    assert.ok(Date.now() - t0 < 30_000, `took ${Date.now() - t0} ms`);
  });

  it('leaves no QEMU, socket or temp dir behind', () => {
    const l = leftovers();
    assert.deepEqual({ dirs: l.dirs.filter((d) => !before0.dirs.includes(d)), qemus: l.qemus.filter((p) => !before0.qemus.includes(p)) }, { dirs: [], qemus: [] });
  });
});
