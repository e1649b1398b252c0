/** Running the `passthroughfs` command in tests: temp dirs, daemons found by their arguments, always cleaned up. */
import { spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { isMountPoint } from '../src/fuse/mount.js';
import { ROOT, isAlive, makeTempDir, pidsWithArg, removeTempDir, startDaemon, waitUntil, type Daemon } from './helpers.js';

export { pidsWithArg };
/** Running (a zombie nobody reaps counts as gone). */
export const alive = isAlive;
/** Polls `cond` every 25 ms for up to `ms`; its last value. */
export const waitFor = waitUntil;

export const BIN = join(ROOT, 'bin/passthroughfs.js');
export const HINT = "Try 'passthroughfs --help' for more information.";
export const O_PATH = 0o10000000;

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function cli(args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 15_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, lines: r.stderr.split('\n').filter(Boolean) };
}

/** Mount points at or below `dir`, from /proc/self/mountinfo. */
export function mountsUnder(dir: string): string[] {
  return fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n')
    .map((l) => l.split(' ')[4] ?? '')
    .map((p) => p.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8))))
    .filter((p) => p === dir || p.startsWith(`${dir}/`));
}

/** After a failed test: detach the mount and kill (by pid) background daemons still running. */
export async function reapDaemons(pids: number[], mnt: string): Promise<void> {
  for (const pid of pids) {
    if (!alive(pid)) continue;
    if (isMountPoint(mnt)) spawnSync('umount', ['-l', mnt]);
    process.kill(pid, 'SIGKILL');
    await waitFor(() => !alive(pid), 5000);
  }
}

/** The child's exit code (-1 for a signal), or 'timeout'. */
export function exitOf(child: ChildProcess, ms: number): Promise<number | 'timeout'> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode ?? -1);
  return new Promise((r) => {
    const t = setTimeout(() => r('timeout'), ms);
    child.once('exit', (code) => { clearTimeout(t); r(code ?? -1); });
  });
}

/** Open fds of a process: all of them, and those that are not O_PATH (real I/O handles). */
export function fdCounts(pid: number): { all: number; io: number } {
  let all = 0;
  let io = 0;
  for (const n of fs.readdirSync(`/proc/${pid}/fd`)) {
    let info: string;
    try {
      info = fs.readFileSync(`/proc/${pid}/fdinfo/${n}`, 'utf8');
    } catch {
      continue;
    }
    all++;
    const m = /^flags:\s*([0-7]+)/m.exec(info);
    if (m && (parseInt(m[1]!, 8) & O_PATH) === 0) io++;
  }
  return { all, io };
}

/** A temp dir with src/ (a few entries) and mnt/, removed afterwards whatever happens. */
export async function withDirs(fn: (t: { dir: string; src: string; mnt: string }) => Promise<void> | void): Promise<void> {
  const dir = makeTempDir('ptfs-cli-');
  const src = join(dir, 'src');
  const mnt = join(dir, 'mnt');
  fs.mkdirSync(src);
  fs.mkdirSync(mnt);
  fs.writeFileSync(join(src, 'hello.txt'), 'hello from src\n');
  fs.mkdirSync(join(src, 'sub'));
  try {
    await fn({ dir, src, mnt });
  } finally {
    for (const m of mountsUnder(dir).reverse()) spawnSync('umount', ['-l', m]);
    removeTempDir(dir);
  }
}

/** A `--foreground` daemon, always stopped (and its exit awaited) at the end. */
export async function withDaemon(src: string, mnt: string, extra: string[], fn: (d: Daemon) => Promise<void> | void): Promise<void> {
  const d = await startDaemon('bin/passthroughfs.js', ['mount', src, mnt, '--foreground', ...extra], mnt);
  try {
    await fn(d);
  } finally {
    await d.stop();
  }
}

