/**
 * passthroughfs-virtiofsd as libvirt and QEMU run it: a listening socket
 * passed as --fd (libvirt) or made at --socket-path (QEMU's docs), a real
 * guest through it, and the daemon's own exit with status 0 once the VM is
 * gone. Also what it prints and refuses, and who may connect to its socket.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { AF_UNIX, SOCK_CLOEXEC, SOCK_STREAM, bind, close, listen, sockaddrUn, socket } from '../src/sys/index.js';
import { ROOT, makeTempDir, removeTempDir, waitUntil } from './helpers.js';
import { vmUnavailable, withGuest, type BackendHandle } from './vm/guest.js';

const BIN = join(ROOT, 'bin/passthroughfs-virtiofsd.js');

function cli(args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 20_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('passthroughfs-virtiofsd command line', () => {
  it('--print-capabilities, --version, --help', () => {
    const c = cli(['--print-capabilities']);
    assert.equal(c.code, 0);
    assert.deepEqual(JSON.parse(c.stdout), { type: 'fs', features: ['separate-options'] });
    assert.match(cli(['--version']).stdout, /^passthroughfs-virtiofsd \d+\.\d+\.\d+\n$/);
    assert.match(cli(['--help']).stdout, /--shared-dir=DIR/);
    // The same command as a subcommand of passthroughfs.
    const sub = spawnSync(process.execPath, [join(ROOT, 'bin/passthroughfs.js'), 'virtiofs', '--print-capabilities'], { encoding: 'utf8' });
    assert.equal(sub.status, 0);
    assert.equal(sub.stdout, c.stdout);
  });

  it('refuses what it does not implement with status 2 and the option named', () => {
    const c = cli(['--socket-path=/tmp/x.sock', '--shared-dir=/tmp', '--sandbox=namespace']);
    assert.equal(c.code, 2);
    assert.match(c.stderr, /^passthroughfs-virtiofsd: --sandbox=namespace: not implemented/);
    const d = cli(['--fd=3', '--shared-dir=/tmp', '--posix-acl']);
    assert.equal(d.code, 2);
    assert.match(d.stderr, /--posix-acl: POSIX ACL support not implemented/);
  });

  it('a missing shared directory is an error (status 1), nothing left listening', () => {
    const dir = makeTempDir('ptfs-vfsd-');
    try {
      const c = cli([`--socket-path=${join(dir, 's')}`, `--shared-dir=${join(dir, 'missing')}`]);
      assert.equal(c.code, 1);
      assert.match(c.stderr, /missing/);
      assert.equal(fs.existsSync(join(dir, 's')), false);
    } finally {
      removeTempDir(dir);
    }
  });

  it('its socket admits only its owner (0600), or a group with --socket-group (0660); SIGTERM ends it with 0 and removes it', async () => {
    const dir = makeTempDir('ptfs-vfsd-');
    try {
      for (const [extra, mode, gid] of [[[], 0o600, 0], [['--socket-group=users'], 0o660, 100]] as const) {
        const sock = join(dir, `s${mode.toString(8)}`);
        const child = spawn(process.execPath, [BIN, `--socket-path=${sock}`, `--shared-dir=${dir}`, ...extra], { stdio: ['ignore', 'pipe', 'pipe'] });
        let out = '';
        child.stderr!.on('data', (d) => (out += d));
        const exit = new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
        try {
          assert.ok(await waitUntil(() => fs.existsSync(sock), 10_000), out);
          const st = fs.lstatSync(sock);
          assert.ok(st.isSocket());
          assert.equal(st.mode & 0o777, mode, out);
          assert.equal(st.gid, gid);
          child.kill('SIGTERM');
          assert.equal(await exit, 0, out);
          assert.equal(fs.existsSync(sock), false, 'socket removed');
        } finally {
          if (child.exitCode === null) child.kill('SIGKILL');
        }
      }
    } finally {
      removeTempDir(dir);
    }
  });
});

describe('passthroughfs-virtiofsd under a real guest', { skip: vmUnavailable(), timeout: 300_000 }, () => {
  it('--readonly: the guest reads, and every change it tries answers EROFS; the host files stay as they were', async () => {
    const dir = makeTempDir('ptfs-vfsd-ro-');
    try {
      const share = join(dir, 'share');
      fs.mkdirSync(join(share, 'sub'), { recursive: true });
      fs.writeFileSync(join(share, 'f'), 'keep\n');
      const r = await withGuest({ backend: { command: [process.execPath, BIN, '--socket-path={socket}', `--shared-dir=${share}`, '--readonly', '--xattr'] }, timeoutMs: 120_000 }, `
        cat "$SHARE/f"
        try() { if "$@" 2>/tmp/err; then echo "$1: succeeded"; else echo "$1: $(grep -o 'Read-only file system' /tmp/err | head -1)"; fi; }
        try touch "$SHARE/new"
        try sh -c "echo x >> $SHARE/f"
        try truncate -s 0 "$SHARE/f"
        try mkdir "$SHARE/d"
        try rm "$SHARE/f"
        try rmdir "$SHARE/sub"
        try mv "$SHARE/f" "$SHARE/g"
        try chmod 600 "$SHARE/f"
        try ln -s x "$SHARE/l"
        try ln "$SHARE/f" "$SHARE/h"
        try setfattr -n user.k -v v "$SHARE/f"
      `);
      assert.equal(r.code, 0, r.output);
      const lines = r.output.trim().split('\n');
      assert.equal(lines[0], 'keep');
      for (const l of lines.slice(1)) assert.match(l, /: Read-only file system$/, l);
      assert.equal(lines.length, 12);
      assert.deepEqual(fs.readdirSync(share).sort(), ['f', 'sub']);
      assert.equal(fs.readFileSync(join(share, 'f'), 'utf8'), 'keep\n');
      assert.equal(fs.statSync(join(share, 'f')).mode & 0o777, 0o644);
    } finally {
      removeTempDir(dir);
    }
  });

  let base = '';
  let shared = '';

  before(() => {
    base = makeTempDir('ptfs-vfsd-vm-');
    shared = join(base, 'shared');
    fs.mkdirSync(shared);
    fs.writeFileSync(join(shared, 'from-host'), 'host\n');
  });
  after(() => removeTempDir(base));

  it('libvirt\'s invocation (--fd=N --shared-dir DIR --cache always --xattr); the daemon exits 0 when the VM is gone', async () => {
    let exitCode: number | null | undefined;
    let out = '';
    // As libvirt: make the listening socket, pass it as fd 3.
    const backend = async (socketPath: string): Promise<BackendHandle> => {
      const fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC);
      try {
        bind(fd, sockaddrUn(socketPath));
        listen(fd, 1);
        const child = spawn(process.execPath, [BIN, '--fd=3', '--shared-dir', shared, '--cache', 'always', '--xattr'], { stdio: ['ignore', 'pipe', 'pipe', fd] });
        child.stdout!.on('data', (d) => (out += d));
        child.stderr!.on('data', (d) => (out += d));
        const exited = new Promise<void>((r) => child.on('exit', (c) => { exitCode = c; r(); }));
        return {
          exited,
          output: () => out,
          async stop() {
            // The VM is gone by now: the daemon must have ended on its own (give it a moment), with status 0.
            await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
            if (child.exitCode === null && child.signalCode === null) {
              child.kill('SIGKILL');
              await exited;
              exitCode = -1;
            }
          },
        };
      } finally {
        close(fd);
      }
    };
    const r = await withGuest({ backend, timeoutMs: 120_000 }, `
      set -e
      cat "$SHARE/from-host"
      echo guest > "$SHARE/from-guest"
      setfattr -n user.k -v v "$SHARE/from-guest" 2>/dev/null || busybox setfattr -n user.k -v v "$SHARE/from-guest"
    `);
    assert.equal(r.code, 0, r.output + out);
    assert.equal(r.output.split('\n')[0], 'host');
    assert.equal(fs.readFileSync(join(shared, 'from-guest'), 'utf8'), 'guest\n');
    const x = spawnSync('getfattr', ['-n', 'user.k', '--only-values', join(shared, 'from-guest')], { encoding: 'utf8' });
    assert.equal(x.stdout, 'v', 'the xattr the guest set is on the host file');
    assert.equal(exitCode, 0, `the daemon's exit status once the VM went away; its log:\n${out}`);
  });
});
