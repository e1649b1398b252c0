/**
 * Where the daemon's log goes (--log-file, --syslog) and systemd readiness
 * (NOTIFY_SOCKET), with real daemons started through bin/passthroughfs.js.
 * Syslog and systemd are stood in for by datagram sockets the test binds.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import { join } from 'node:path';
import { isMountPoint } from '../src/fuse/mount.js';
import {
  AF_UNIX, SOCK_CLOEXEC, SOCK_DGRAM, SOCK_NONBLOCK, MSG_DONTWAIT, bind, close, recvRaw, sockaddrUn, socket,
} from '../src/sys/index.js';
import { SdNotify } from '../src/cli/sdnotify.js';
import { ROOT, isAlive, makeTempDir, pidsWithArg, removeTempDir, waitUntil } from './helpers.js';

const BIN = join(ROOT, 'bin/passthroughfs.js');
const HINT = "Try 'passthroughfs --help' for more information.";
const NOBODY = 65534;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function cli(args: string[], cwd?: string) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 15_000, ...(cwd ? { cwd } : {}) });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, lines: r.stderr.split('\n').filter(Boolean) };
}

/**
 * `n` stats of missing names under `mnt` in a child process, awaited with a
 * 30 s limit: a daemon stuck on its log must fail the test, not hang it (a
 * request the daemon has read cannot be interrupted, not even by SIGKILL, so
 * a synchronous wait would hang the test process until the daemon dies).
 * Resolves to the child's exit code or 'timeout' (the child is then killed,
 * and ends once the test's cleanup has killed the daemon).
 */
let workloads = 0;
function workload(mnt: string, n: number): Promise<number | 'timeout'> {
  // Names never looked up before: a cached negative entry would spare the daemon the request.
  const prefix = `${mnt}/missing-${++workloads}-`;
  const code = `const fs = require('fs'); for (let i = 0; i < ${n}; i++) { try { fs.statSync(${JSON.stringify(prefix)} + i); } catch (e) { if (e.code !== 'ENOENT') throw e; } }`;
  const child = spawn(process.execPath, ['-e', code], { stdio: 'ignore' });
  return exitOf(child, 30_000).then((r) => {
    if (r === 'timeout') child.kill('SIGKILL');
    return r;
  });
}

/** Mount points at or below `dir`, from /proc/self/mountinfo. */
function mountsUnder(dir: string): string[] {
  return fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n')
    .map((l) => (l.split(' ')[4] ?? '').replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8))))
    .filter((p) => p === dir || p.startsWith(`${dir}/`));
}

/** Files a process has open (the targets of /proc/PID/fd/*). */
function openFiles(pid: number): string[] {
  const out: string[] = [];
  for (const n of fs.readdirSync(`/proc/${pid}/fd`)) {
    try {
      out.push(fs.readlinkSync(`/proc/${pid}/fd/${n}`));
    } catch { /* closed meanwhile */ }
  }
  return out;
}

/** A temp dir with src/ (one file) and mnt/; afterwards nothing is left mounted, running or on disk. */
async function withDirs(fn: (t: { dir: string; src: string; mnt: string }) => Promise<void> | void): Promise<void> {
  const dir = makeTempDir('ptfs-log-');
  const src = join(dir, 'src');
  const mnt = join(dir, 'mnt');
  fs.mkdirSync(src);
  fs.mkdirSync(mnt);
  fs.writeFileSync(join(src, 'hello.txt'), 'hello\n');
  try {
    await fn({ dir, src, mnt });
  } finally {
    const left = pidsWithArg(mnt);
    for (const m of mountsUnder(dir).reverse()) spawnSync('umount', ['-l', m]);
    for (const pid of left) {
      if (!isAlive(pid)) continue;
      process.kill(pid, 'SIGKILL');
      await waitUntil(() => !isAlive(pid), 5000);
    }
    for (const m of mountsUnder(dir).reverse()) spawnSync('umount', ['-l', m]);
    removeTempDir(dir);
  }
}

/** `passthroughfs mount` in the background; returns the daemon's pid. */
function mountInBackground(src: string, mnt: string, extra: string[], cwd?: string): number {
  const r = cli(['mount', src, mnt, ...extra], cwd);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, '');
  const pids = pidsWithArg(mnt);
  assert.equal(pids.length, 1, `one daemon serves ${mnt}`);
  return pids[0]!;
}

/** `passthroughfs umount`, then the daemon is gone and nothing is mounted. */
async function unmountAndWait(mnt: string, pid: number): Promise<void> {
  const u = cli(['umount', mnt]);
  assert.equal(u.code, 0, u.stderr);
  assert.ok(await waitUntil(() => !isAlive(pid), 5000), `daemon ${pid} still running after umount`);
  assert.equal(isMountPoint(mnt), false);
}

function exitOf(child: ChildProcess, ms: number): Promise<number | 'timeout'> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode ?? -1);
  return new Promise((r) => {
    const t = setTimeout(() => r('timeout'), ms);
    child.once('exit', (code) => { clearTimeout(t); r(code ?? -1); });
  });
}

/** A bound AF_UNIX datagram socket standing in for syslog or systemd. "@name" is in the abstract namespace. */
class Receiver {
  private readonly fd: number;
  private readonly buf = Buffer.alloc(65536);

  constructor(readonly address: string) {
    this.fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC);
    try {
      bind(this.fd, sockaddrUn(address.startsWith('@') ? `\0${address.slice(1)}` : address));
    } catch (e) {
      close(this.fd);
      throw e;
    }
  }

  /** The datagrams queued now. */
  drain(): string[] {
    const out: string[] = [];
    for (;;) {
      const n = recvRaw(this.fd, this.buf, MSG_DONTWAIT);
      if (n < 0) return out;
      out.push(this.buf.toString('utf8', 0, n));
    }
  }

  /**
   * Receives until a datagram satisfies `pred` (within `ms`); returns all
   * received up to and including it, or undefined on timeout. `onArrival`
   * runs as soon as the matching datagram is seen.
   */
  async until(pred: (m: string) => boolean, ms: number, onArrival?: () => void): Promise<string[] | undefined> {
    const got: string[] = [];
    for (const end = Date.now() + ms; Date.now() < end; await sleep(5)) {
      for (const m of this.drain()) {
        got.push(m);
        if (pred(m)) {
          onArrival?.();
          return got;
        }
      }
    }
    return undefined;
  }

  close(): void {
    close(this.fd);
  }
}

describe('daemon logging and readiness', { timeout: 180_000 }, () => {
  it('--help says where logs go and lists --log-file, --syslog, --syslog-socket', () => {
    const r = cli(['--help']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /^ {2}--log-file=PATH {2,}append the log to PATH/m);
    assert.match(r.stdout, /^ {2}--syslog {2,}log to syslog \(\/dev\/log, facility daemon\)/m);
    assert.match(r.stdout, /^ {2}--syslog-socket=PATH {2,}/m);
    assert.match(r.stdout, /without either, to stderr with -f, and nowhere\s+in the background/);
    assert.match(r.stdout, /NOTIFY_SOCKET/);
  });

  it('usage errors: --log-file with --syslog, empty or missing paths, a value for --syslog', async () => {
    await withDirs(({ dir, src, mnt }) => {
      const log = join(dir, 'x.log');
      const cases: string[][] = [
        ['--log-file', log, '--syslog'],
        ['--syslog', `--log-file=${log}`],
        [`--syslog-socket=${join(dir, 's')}`, '--log-file', log],
        ['--log-file='],
        ['--log-file'],
        ['--syslog-socket='],
        ['--syslog=yes'],
      ];
      for (const extra of cases) {
        const r = cli(['mount', src, mnt, ...extra]);
        const what = extra.join(' ');
        assert.equal(r.code, 2, `${what}: ${r.stderr}`);
        assert.equal(r.lines.length, 2, `${what}: ${r.stderr}`);
        assert.match(r.lines[0]!, /^passthroughfs: \S/, what);
        assert.equal(r.lines[1], HINT, what);
        assert.deepEqual(mountsUnder(dir), [], what);
        assert.equal(fs.existsSync(log), false, `${what}: no log file created`);
      }
      const r = cli(['mount', src, mnt, '--log-file', log, '--syslog']);
      assert.match(r.lines[0]!, /--log-file and --syslog are mutually exclusive/);
    });
  });

  it('--log-file: a relative path, created 0600, lines from the background daemon; SIGHUP after a rename (logrotate) reopens it', async () => {
    await withDirs(async ({ dir, src, mnt }) => {
      fs.mkdirSync(join(dir, 'logs'));
      const log = join(dir, 'logs/pfs.log');
      // Relative to the invocation directory, which the daemon does not stay in.
      const pid = mountInBackground(src, mnt, ['--log-level=debug', '--log-file', 'logs/pfs.log'], dir);
      const st = fs.statSync(log);
      assert.ok(st.isFile());
      assert.equal(st.mode & 0o7777, 0o600, `mode ${(st.mode & 0o7777).toString(8)}`);
      assert.equal(st.uid, process.geteuid!());
      assert.equal(st.nlink, 1);

      assert.deepEqual(fs.readdirSync(mnt), ['hello.txt']);
      const text = fs.readFileSync(log, 'utf8');
      const line = new RegExp(`^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z passthroughfs\\[${pid}\\]: (error|warn|info|debug): \\S`);
      const lines = text.split('\n');
      assert.equal(lines.pop(), '', 'ends with a newline');
      for (const l of lines) assert.match(l, line);
      assert.ok(lines.some((l) => l.endsWith(`info: serving ${src} at ${mnt}`)), text);
      assert.ok(lines.some((l) => / debug: readdir(plus)? unique=\d+ node=1$/.test(l)), text);

      // logrotate: rename, then SIGHUP; the daemon creates the file again and leaves the old one alone.
      const rotated = `${log}.1`;
      fs.renameSync(log, rotated);
      process.kill(pid, 'SIGHUP');
      assert.ok(await waitUntil(() => fs.existsSync(log), 5000), 'a new log file after SIGHUP');
      assert.equal(fs.statSync(log).mode & 0o7777, 0o600);
      const oldSize = fs.statSync(rotated).size;
      assert.equal(await workload(mnt, 20), 0);
      assert.equal(fs.statSync(rotated).size, oldSize, 'nothing more written to the rotated file');
      const fresh = fs.readFileSync(log, 'utf8');
      assert.match(fresh, /info: reopened the log \(file /);
      assert.equal(fresh.split('\n').filter((l) => / debug: lookup unique=/.test(l)).length, 20, fresh);
      const open = openFiles(pid);
      assert.ok(open.includes(log), `the daemon has the new file open: ${open.join(' ')}`);
      assert.ok(!open.some((f) => f.startsWith(rotated)), `the rotated file is closed: ${open.join(' ')}`);
      assert.equal(isMountPoint(mnt), true, 'SIGHUP does not unmount');
      assert.equal(fs.readFileSync(join(mnt, 'hello.txt'), 'utf8'), 'hello\n');

      await unmountAndWait(mnt, pid);
      assert.match(fs.readFileSync(log, 'utf8'), new RegExp(`info: ${mnt} unmounted\\n$`));
      assert.deepEqual(fs.readdirSync(join(dir, 'logs')).sort(), ['pfs.log', 'pfs.log.1']);
    });
  });

  it('--log-file in a sticky world-writable directory: a symlink, another user\'s file, a hard link, a FIFO, a directory are refused before mounting', async () => {
    await withDirs(async ({ dir, src, mnt }) => {
      const pub = join(dir, 'pub');
      fs.mkdirSync(pub);
      fs.chmodSync(pub, 0o1777);
      const secret = join(dir, 'secret');
      fs.mkdirSync(secret, { mode: 0o700 });
      const target = join(secret, 'passwd');
      fs.writeFileSync(target, 'root:x:0:0::/root:/bin/sh\n');
      // What a hostile user could plant under the name the operator picked.
      const link = join(pub, 'link.log');
      fs.symlinkSync(target, link);
      fs.lchownSync(link, NOBODY, NOBODY);
      const dangling = join(pub, 'dangling.log');
      fs.symlinkSync(join(secret, 'created'), dangling);
      fs.lchownSync(dangling, NOBODY, NOBODY);
      const theirs = join(pub, 'theirs.log');
      fs.writeFileSync(theirs, '');
      fs.chownSync(theirs, NOBODY, NOBODY);
      const linked = join(pub, 'linked.log');
      fs.linkSync(target, linked);
      const fifo = join(pub, 'fifo.log');
      assert.equal(spawnSync('mkfifo', [fifo]).status, 0);
      const sub = join(pub, 'dir.log');
      fs.mkdirSync(sub);
      const cases: [string, RegExp][] = [
        [link, /is a symbolic link/],
        [dangling, /is a symbolic link/],
        [theirs, /is owned by uid 65534, not by the daemon's user \(uid 0\)/],
        [linked, /has 2 hard links/],
        [fifo, /is not a regular file/],
        [sub, /is a directory/],
        [join(dir, 'missing', 'x.log'), /no such directory/],
        [join(mnt, 'x.log'), /is under the mountpoint/],
      ];
      for (const [path, why] of cases) {
        for (const fg of [[], ['-f']]) {
          const args = ['mount', src, mnt, ...fg, `--log-file=${path}`];
          const what = args.join(' ');
          const r = cli(args);
          assert.equal(r.code, 1, `${what}: ${r.stderr}`);
          assert.equal(r.lines.length, 1, `${what}: ${r.stderr}`);
          assert.ok(r.lines[0]!.startsWith(`passthroughfs: log file ${path}`), `${what}: ${r.lines[0]}`);
          assert.match(r.lines[0]!, why, what);
          assert.deepEqual(mountsUnder(dir), [], `${what}: nothing mounted`);
          assert.deepEqual(pidsWithArg(mnt), [], `${what}: no daemon running`);
        }
      }
      assert.equal(fs.readFileSync(target, 'utf8'), 'root:x:0:0::/root:/bin/sh\n', 'the link target is untouched');
      assert.deepEqual(fs.readdirSync(secret), ['passwd'], 'nothing created through the dangling link');
      assert.equal(fs.statSync(theirs).size, 0);
      assert.deepEqual(fs.readdirSync(mnt), [], 'nothing created under the mountpoint');
      assert.deepEqual(fs.readdirSync(pub).sort(), ['dangling.log', 'dir.log', 'fifo.log', 'link.log', 'linked.log', 'theirs.log']);
    });
  });

  it('--log-file on a full disk: lines are dropped, the mount keeps serving, the count is logged once there is room', async () => {
    await withDirs(async ({ dir, src, mnt }) => {
      const small = join(dir, 'small');
      fs.mkdirSync(small);
      assert.equal(spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', small]).status, 0);
      const log = join(small, 'pfs.log');
      const pid = mountInBackground(src, mnt, ['--log-level=debug', `--log-file=${log}`]);
      assert.equal(await workload(mnt, 3000), 0, 'the workload finished');
      assert.ok(isAlive(pid), 'the daemon is alive');
      assert.equal(fs.readFileSync(join(mnt, 'hello.txt'), 'utf8'), 'hello\n');
      const full = fs.statSync(log).size;
      assert.ok(full <= 64 * 1024 && full > 32 * 1024, `log size ${full}`);
      assert.equal(spawnSync('mount', ['-o', 'remount,size=1m', small]).status, 0);
      assert.equal(await workload(mnt, 1), 0);
      const tail = fs.readFileSync(log, 'utf8').slice(full);
      assert.match(tail, /^\S+ passthroughfs\[\d+\]: warn: \d+ log messages dropped \(the log destination failed or was full\)\n/, tail);
      assert.match(tail, /debug: lookup unique=/);
      await unmountAndWait(mnt, pid);
    });
  });

  it('-f: a dead stderr (its reader gone) costs log lines, not the daemon', async () => {
    await withDirs(async ({ src, mnt }) => {
      const child = spawn(process.execPath, [BIN, 'mount', src, mnt, '-f', '--log-level=debug'], { stdio: ['ignore', 'ignore', 'pipe'] });
      try {
        assert.ok(await waitUntil(() => isMountPoint(mnt), 10_000), 'mounted');
        child.stderr!.destroy();
        assert.equal(await workload(mnt, 200), 0);
        assert.equal(child.exitCode, null, 'still running');
        assert.equal(fs.readFileSync(join(mnt, 'hello.txt'), 'utf8'), 'hello\n');
        assert.equal(spawnSync('umount', [mnt]).status, 0);
        assert.equal(await exitOf(child, 5000), 0);
      } finally {
        if (child.exitCode === null && child.signalCode === null) {
          spawnSync('umount', ['-l', mnt]);
          child.kill('SIGKILL');
          await exitOf(child, 5000);
        }
      }
    });
  });

  it('--syslog-socket: <PRI>passthroughfs[pid]: lines, facility daemon; a full queue drops lines without stalling; a restarted syslog is found again', async () => {
    await withDirs(async ({ dir, src, mnt }) => {
      const sock = join(dir, 'log.sock');
      let rx = new Receiver(sock);
      try {
        const pid = mountInBackground(src, mnt, ['--log-level=debug', '--syslog-socket', sock]);
        // Asynchronously, and the big workloads below in a child process: were the
        // daemon to wait on the socket, the test must fail, not hang.
        const listing = fs.promises.readdir(mnt);
        const got = await rx.until((m) => /: readdir(plus)? unique=/.test(m), 5000);
        assert.ok(got, 'the readdir was logged');
        assert.deepEqual(await listing, ['hello.txt']);
        const re = new RegExp(`^<(\\d+)>passthroughfs\\[${pid}\\]: (.+)$`, 's');
        for (const m of got) assert.match(m, re);
        const pri = (m: string) => Number(re.exec(m)![1]);
        // daemon (3) * 8 + info (6) / debug (7)
        const serving = got.find((m) => m.endsWith(`: serving ${src} at ${mnt}`));
        assert.ok(serving, got.join('\n'));
        assert.equal(pri(serving), 30);
        assert.equal(pri(got.at(-1)!), 31);

        // Nobody reads: the queue fills, the daemon must not wait for it.
        const t0 = Date.now();
        assert.equal(await workload(mnt, 3000), 0, 'the workload finished');
        const ms = Date.now() - t0;
        assert.ok(isAlive(pid));
        const queued = rx.drain();
        assert.ok(queued.length < 3000, `${queued.length} of 3000 lines queued: some were dropped`);
        assert.equal(await workload(mnt, 1), 0);
        const note = await rx.until((m) => / log messages dropped /.test(m), 5000);
        assert.ok(note, 'the drop count is logged');
        assert.match(note.at(-1)!, new RegExp(`^<28>passthroughfs\\[${pid}\\]: \\d+ log messages dropped`));

        // The syslog daemon restarts (a new socket under the same name).
        rx.close();
        fs.unlinkSync(sock);
        rx = new Receiver(sock);
        assert.equal(await workload(mnt, 1), 0);
        assert.ok(await rx.until((m) => / lookup unique=/.test(m), 5000), 'logging resumed on the new socket');
        await unmountAndWait(mnt, pid);
        const last = await rx.until((m) => m.endsWith(`: ${mnt} unmounted`), 5000);
        assert.ok(last, 'the unmount was logged');
        process.stdout.write(`# 3000 lookups with a full syslog queue: ${ms} ms\n`);
      } finally {
        rx.close();
      }
    });
  });

  it('--syslog without a syslog socket to talk to: exit 1 at start-up, nothing mounted', async () => {
    await withDirs(async ({ dir, src, mnt }) => {
      const none = join(dir, 'none.sock');
      const stream = join(dir, 'stream.sock');
      const server = net.createServer();
      await new Promise<void>((r) => server.listen(stream, r));
      try {
        const cases: [string[], RegExp][] = [
          [[`--syslog-socket=${none}`], new RegExp(`syslog socket ${none} does not exist`)],
          [[`--syslog-socket=${stream}`], new RegExp(`syslog socket ${stream} is not a datagram socket`)],
        ];
        // Only where this machine has no syslog daemon.
        if (!fs.existsSync('/dev/log')) cases.push([['--syslog'], /syslog socket \/dev\/log does not exist/]);
        for (const [extra, why] of cases) {
          for (const fg of [[], ['-f']]) {
            const r = cli(['mount', src, mnt, ...fg, ...extra]);
            assert.equal(r.code, 1, r.stderr);
            assert.equal(r.lines.length, 1, r.stderr);
            assert.match(r.lines[0]!, why);
            assert.deepEqual(mountsUnder(dir), []);
            assert.deepEqual(pidsWithArg(mnt), []);
          }
        }
      } finally {
        await new Promise((r) => server.close(r));
      }
    });
  });

  for (const kind of ['path', 'abstract'] as const) {
    it(`NOTIFY_SOCKET (${kind}): READY=1 once the mount is live, STOPPING=1 on unmount, nothing else`, async () => {
      await withDirs(async ({ dir, src, mnt }) => {
        const addr = kind === 'path' ? join(dir, 'notify.sock') : `@passthroughfs-test-${process.pid}-${Date.now()}`;
        const rx = new Receiver(addr);
        let child: ChildProcess | undefined;
        try {
          child = spawn(process.execPath, [BIN, 'mount', src, mnt, '-f'], {
            stdio: ['ignore', 'pipe', 'pipe'],
            env: { ...process.env, NOTIFY_SOCKET: addr },
          });
          let out = '';
          child.stdout!.on('data', (d) => (out += d));
          child.stderr!.on('data', (d) => (out += d));
          let liveAtReady: boolean | undefined;
          const ready = await rx.until(() => true, 10_000, () => (liveAtReady = isMountPoint(mnt)));
          assert.deepEqual(ready, ['READY=1'], out);
          assert.equal(liveAtReady, true, 'mounted when READY=1 arrived');
          assert.deepEqual(fs.readdirSync(mnt), ['hello.txt']);
          assert.deepEqual(rx.drain(), []);
          assert.equal(spawnSync('umount', [mnt]).status, 0);
          assert.equal(await exitOf(child, 5000), 0, out);
          assert.deepEqual(rx.drain(), ['STOPPING=1']);
          assert.equal(out, '');
        } finally {
          rx.close();
          if (child && child.exitCode === null && child.signalCode === null) {
            spawnSync('umount', ['-l', mnt]);
            child.kill('SIGKILL');
            await exitOf(child, 5000);
          }
        }
      });
    });
  }

  it('SdNotify.fromEnv takes NOTIFY_SOCKET out of the environment; an unsupported address is named in a warning', () => {
    const warnings: string[] = [];
    const env: NodeJS.ProcessEnv = { NOTIFY_SOCKET: 'vsock:2:1234', OTHER: 'x' };
    assert.equal(SdNotify.fromEnv((_l, m) => warnings.push(m), env), undefined);
    assert.deepEqual(env, { OTHER: 'x' });
    assert.match(warnings[0]!, /NOTIFY_SOCKET=vsock:2:1234: only unix socket paths and @abstract names are supported/);
    const env2: NodeJS.ProcessEnv = { NOTIFY_SOCKET: '@x' };
    const n = SdNotify.fromEnv(undefined, env2);
    assert.ok(n);
    n.close();
    assert.deepEqual(env2, {});
    assert.equal(SdNotify.fromEnv(undefined, {}), undefined);
  });
});
