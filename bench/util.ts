/** Small helpers shared by the benchmark phases: processes, mounts, statistics. */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isMountPoint } from '../src/fuse/mount.js';

/** Repository root (this file runs from dist/bench). */
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const dist = (p: string) => resolve(ROOT, 'dist', p);

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export function which(cmd: string): string | undefined {
  const r = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

export function log(msg: string): void {
  process.stderr.write(`${msg}\n`);
}

/** Every process we started and have not seen exit, so a crash or ^C can end them (by pid). */
const live = new Set<ChildProcess>();
/** Mountpoints currently mounted by us. */
const mounted = new Set<string>();

export function track(child: ChildProcess): ChildProcess {
  live.add(child);
  child.once('exit', () => live.delete(child));
  return child;
}

/**
 * Have cleanupAll() unmount `mnt` (a tmpfs a phase mounted, say) if it is
 * still mounted then. Daemons started with startDaemon() are tracked already.
 */
export function trackMount(mnt: string): void {
  mounted.add(mnt);
}

/** Synchronous clean-ups a phase registered for what it made besides processes and mounts (temp dirs). */
const hooks = new Set<() => void>();

/**
 * Have cleanupAll() run `fn` (synchronous, after unmounting and killing) unless
 * the returned function is called first, which the phase does once it has
 * cleaned up itself.
 */
export function onCleanup(fn: () => void): () => void {
  hooks.add(fn);
  return () => hooks.delete(fn);
}

/** Unmount everything we mounted and kill what we started. Synchronous: usable from signal handlers. */
export function cleanupAll(): void {
  // Newest first: a FUSE mount serving from a tmpfs mounted before it goes
  // before that tmpfs, which would otherwise be busy.
  for (const m of [...mounted].reverse()) forceUnmount(m);
  for (const c of live) {
    try {
      c.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
  for (const fn of [...hooks].reverse()) {
    hooks.delete(fn);
    try {
      fn();
    } catch (e) {
      log(`cleanup: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
}

/** Unmount `mnt` (lazily if busy) and stop tracking it once it is gone. */
export function forceUnmount(mnt: string): void {
  if (isMountPoint(mnt)) spawnSync('umount', [mnt]);
  if (isMountPoint(mnt)) spawnSync('umount', ['-l', mnt]);
  if (!isMountPoint(mnt)) mounted.delete(mnt);
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/**
 * Run a command to completion and collect its output. On timeout it is killed
 * (and `onTimeout` runs, e.g. to stop a hung daemon) and an error is thrown.
 */
export async function run(cmd: string, args: string[], opts: { timeoutMs: number; onTimeout?: () => void }): Promise<RunResult> {
  const t0 = process.hrtime.bigint();
  const child = track(spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] }));
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    opts.onTimeout?.();
    child.kill('SIGKILL');
  }, opts.timeoutMs);
  const code = await new Promise<number | null>((r) => child.on('close', (c) => r(c)));
  clearTimeout(timer);
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (timedOut) throw new Error(`${cmd} ${args.join(' ')}: timed out after ${opts.timeoutMs} ms\n${stderr}`);
  return { code, stdout, stderr, ms };
}

/** Like run() but a non-zero exit is an error. */
export async function runOk(cmd: string, args: string[], opts: { timeoutMs: number; onTimeout?: () => void }): Promise<RunResult> {
  const r = await run(cmd, args, opts);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.code}\n${r.stderr.trim()}`);
  return r;
}

export interface Daemon {
  pid: number;
  child: ChildProcess;
  mountpoint: string;
  /** ms from spawn to the mount appearing in /proc/self/mountinfo. */
  startupMs: number;
  /** Resident set size now, MiB (from /proc/PID/status). */
  rssMiB(): number | undefined;
  /** Kill the daemon now (for a hung mount); stop() still cleans up. */
  kill(): void;
  /** Unmount and wait for exit; SIGKILL (by pid) after 5 s. */
  stop(): Promise<void>;
  output(): string;
}

/**
 * Spawn a FUSE daemon that stays in the foreground and wait for `mnt` to be
 * mounted. `ipc`: give it a Node IPC channel (child.send / 'message').
 */
export async function startDaemon(cmd: string, args: string[], mnt: string, opts: { timeoutMs?: number; ipc?: boolean } = {}): Promise<Daemon> {
  const timeoutMs = opts.timeoutMs ?? 15000;
  if (isMountPoint(mnt)) throw new Error(`${mnt} is already a mount point`);
  const t0 = process.hrtime.bigint();
  const child = track(spawn(cmd, args, { stdio: opts.ipc ? ['ignore', 'pipe', 'pipe', 'ipc'] : ['ignore', 'pipe', 'pipe'] }));
  let out = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out = (out + d).slice(-8000)));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (out = (out + d).slice(-8000)));
  let exited = false;
  const exit = new Promise<void>((r) => child.once('exit', () => ((exited = true), r())));
  const pid = child.pid!;
  const d: Daemon = {
    pid,
    child,
    mountpoint: mnt,
    startupMs: 0,
    rssMiB() {
      try {
        const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
        return m ? Number(m[1]) / 1024 : undefined;
      } catch {
        return undefined;
      }
    },
    kill() {
      if (!exited) child.kill('SIGKILL');
    },
    async stop() {
      if (isMountPoint(mnt)) spawnSync('umount', [mnt]);
      if (!exited) {
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exit;
        clearTimeout(timer);
      }
      forceUnmount(mnt);
    },
    output: () => out,
  };
  mounted.add(mnt);
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && !exited) {
    if (isMountPoint(mnt)) {
      d.startupMs = Number(process.hrtime.bigint() - t0) / 1e6;
      return d;
    }
    await sleep(2);
  }
  await d.stop();
  throw new Error(`${cmd} ${args.join(' ')} did not mount ${mnt}${exited ? ' (it exited)' : ''}:\n${out.trim()}`);
}

/** Pin every thread of `pid` to `cpus` (a taskset list such as "0" or "0-1"). */
export function setAffinity(pid: number, cpus: string): void {
  const r = spawnSync('taskset', ['-a', '-p', '-c', cpus, String(pid)], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`taskset -a -p -c ${cpus} ${pid}: ${r.stderr.trim()}`);
}

/** [cmd, args] to run `cmd` on CPU 0 when `pin` is set (--pin). */
export function onCpu0(pin: boolean, cmd: string, args: string[]): [string, string[]] {
  return pin ? ['taskset', ['-c', '0', cmd, ...args]] : [cmd, args];
}

export function isRoot(): boolean {
  return process.geteuid?.() === 0;
}

export function canDropCaches(): boolean {
  return isRoot() && existsSync('/proc/sys/vm/drop_caches');
}

export function dropCaches(): void {
  spawnSync('sync');
  spawnSync('sh', ['-c', 'echo 3 > /proc/sys/vm/drop_caches']);
}
