/** Test scaffolding: temp dirs and FUSE daemons started as child processes, always cleaned up. */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, readSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isMountPoint } from '../src/fuse/mount.js';

/** Repository root (tests run from dist/test). */
export const ROOT = resolve(fileURLToPath(import.meta.url), '../../..');

export function makeTempDir(prefix = 'ptfs-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function removeTempDir(dir: string): void {
  if (isMountPoint(dir)) spawnSync('umount', ['-l', dir]);
  rmSync(dir, { recursive: true, force: true });
}

export interface Daemon {
  child: ChildProcess;
  mountpoint: string;
  output(): string;
  /** Unmount and wait for the daemon to exit; returns its exit code. Kills it (by pid) if it hangs. */
  stop(): Promise<number | null>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Start `node script args…` and wait until `mountpoint` is mounted. */
export async function startDaemon(script: string, args: string[], mountpoint: string, opts: { uid?: number; gid?: number } = {}): Promise<Daemon> {
  const child = spawn(process.execPath, [join(ROOT, script), ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(opts.uid !== undefined ? { uid: opts.uid, gid: opts.gid } : {}),
  });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  let exited: number | null | undefined;
  const exit = new Promise<number | null>((r) => child.on('exit', (code, sig) => { exited = code ?? (sig ? -1 : null); r(exited); }));
  const daemon: Daemon = {
    child,
    mountpoint,
    output: () => out,
    async stop() {
      if (exited === undefined) {
        if (isMountPoint(mountpoint)) spawnSync('umount', [mountpoint]);
        const t = await Promise.race([exit, sleep(5000).then(() => 'timeout' as const)]);
        if (t === 'timeout') {
          child.kill('SIGKILL');
          await exit;
        }
      }
      if (isMountPoint(mountpoint)) spawnSync('umount', ['-l', mountpoint]);
      return exited ?? null;
    },
  };
  for (let i = 0; i < 200; i++) {
    if (isMountPoint(mountpoint)) return daemon;
    if (exited !== undefined) break;
    await sleep(25);
  }
  await daemon.stop();
  throw new Error(`daemon did not mount ${mountpoint}:\n${out}`);
}

/** For after(): stop the daemon (asserting it exited 0), then remove the temp dir, even if the assertion fails. */
export async function stopDaemonAndRemove(daemon: Daemon | undefined, dir: string | undefined): Promise<void> {
  try {
    if (daemon) {
      const status = await daemon.stop();
      if (status !== 0) throw new Error(`daemon exit status ${status}:\n${daemon.output()}`);
    }
  } finally {
    if (dir) removeTempDir(dir);
  }
}

/** Processes (other than us) with `arg` as one of their arguments: how a test finds a background daemon it started. */
export function pidsWithArg(arg: string): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d) || Number(d) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0').includes(arg)) out.push(Number(d));
    } catch { /* gone */ }
  }
  return out;
}

/** Running (a zombie nobody reaps counts as gone). */
export function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

/** Polls `cond` every 25 ms for up to `ms`; its last value. */
export async function waitUntil(cond: () => boolean, ms: number): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end; await sleep(25)) if (cond()) return true;
  return cond();
}

/** The errno name (`code`) an operation fails with, or 'ok'. */
export function errnoOf(fn: () => unknown): string {
  try {
    fn();
    return 'ok';
  } catch (e) {
    const code = (e as { code?: unknown }).code;
    if (typeof code !== 'string') throw e;
    return code;
  }
}

/** What a FileSystem.read returned, as the bytes read into `buf` (a FileRange is read with pread, as the protocol does). */
export function readResult(r: number | Buffer | { fd: number; offset: number; length: number }, buf: Buffer): Buffer {
  if (typeof r === 'number') return buf.subarray(0, r);
  if (Buffer.isBuffer(r)) return r;
  const n = readSync(r.fd, buf, 0, Math.min(r.length, buf.length), r.offset);
  return buf.subarray(0, n);
}
