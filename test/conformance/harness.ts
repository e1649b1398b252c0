/**
 * Conformance harness: a scenario performs operations under a fresh directory and returns a plain record of what
 * it observed; each scenario runs once on a native directory and once on a directory seen through the mount, and
 * the two records must be equal. The native record is also checked against explicit expectations, so a scenario
 * that silently does nothing cannot pass.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type SpawnSyncOptions } from 'node:child_process';
import * as fs from 'node:fs';
import { join, relative } from 'node:path';
import { ROOT, makeTempDir, stopDaemonAndRemove, startDaemon, type Daemon } from '../helpers.js';

export type Rec = Record<string, unknown>;

export interface Ctx {
  /** A directory outside the scenario root (and outside the mount), the same for both runs. */
  outside: string;
  /** The same path as seen on the host side: the mount's source for mounted runs, the path itself for native runs. */
  host(path: string): string;
}

export interface Scenario {
  name: string;
  run(root: string, ctx: Ctx): Promise<Rec> | Rec;
  /**
   * The expected native record (a value that is a function is a predicate on that field, for values that vary
   * between machines), or a checker of the whole record.
   */
  expect: Rec | ((native: Rec) => void);
  /** Known, accepted difference of the mount (node:test todo: runs, reports, does not fail the suite). */
  todo?: string;
}

/** Set PTFS_NATIVE_ONLY=1 to run the scenarios on native directories only (no daemon). */
export const NATIVE_ONLY = process.env.PTFS_NATIVE_ONLY === '1';
export const NOBODY = 65534;

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** The call's result, or the errno name it failed with. */
export function valOr<T>(fn: () => T): T | string {
  try {
    return fn();
  } catch (e) {
    const c = (e as NodeJS.ErrnoException).code;
    if (typeof c !== 'string') throw e;
    return c;
  }
}

/** 'OK' or the errno name the call failed with. */
export const code = (fn: () => unknown): string => valOr(() => (fn(), 'OK'));

export function kind(st: fs.Stats | fs.BigIntStats): string {
  if (st.isFile()) return 'file';
  if (st.isDirectory()) return 'dir';
  if (st.isSymbolicLink()) return 'symlink';
  if (st.isFIFO()) return 'fifo';
  if (st.isSocket()) return 'socket';
  if (st.isCharacterDevice()) return 'chr';
  if (st.isBlockDevice()) return 'blk';
  return 'unknown';
}

export const octal = (mode: number | bigint) => (Number(mode) & 0o7777).toString(8).padStart(4, '0');

/** What lstat shows that is comparable between two directories (no ino, dev, times, blocks). */
export function snap(path: string) {
  const st = fs.lstatSync(path);
  return { type: kind(st), mode: octal(st.mode), nlink: st.nlink, uid: st.uid, gid: st.gid, size: st.size };
}

/** snap, or the errno name. */
export function snapOr(path: string) {
  try {
    return snap(path);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code;
  }
}

export function times(path: string) {
  const st = fs.lstatSync(path, { bigint: true });
  return { atime: st.atimeNs, mtime: st.mtimeNs, ctime: st.ctimeNs };
}

export function rel(before: bigint, after: bigint): 'advanced' | 'unchanged' | 'went back' {
  return after > before ? 'advanced' : after === before ? 'unchanged' : 'went back';
}

/** mtime/ctime relations between two `times` snapshots. */
export function moved(a: ReturnType<typeof times>, b: ReturnType<typeof times>) {
  return { mtime: rel(a.mtime, b.mtime), ctime: rel(a.ctime, b.ctime) };
}

/** Sorted names of a directory. */
export const ls = (dir: string) => fs.readdirSync(dir).sort();

export const CHILD = join(ROOT, 'dist/test/conformance/child.js');

/** Runs child.js synchronously (optionally as another user) and returns its JSON output. */
export function child(args: string[], opts: SpawnSyncOptions = {}): unknown {
  const r = spawnSync(process.execPath, [CHILD, ...args], { encoding: 'utf8', timeout: 30_000, ...opts });
  if (r.status !== 0) throw new Error(`child ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return JSON.parse(String(r.stdout));
}

/** Runs child.js without blocking the event loop (several can run at once) and returns its JSON output. */
export function childAsync(args: string[]): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, [CHILD, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    c.stdout.on('data', (d) => (out += d));
    c.stderr.on('data', (d) => (err += d));
    c.on('close', (status) => (status === 0 ? resolve(JSON.parse(out)) : reject(new Error(`child exited ${status}: ${err}`))));
  });
}

export const asNobody: SpawnSyncOptions = { uid: NOBODY, gid: NOBODY };

/**
 * Starts a long-running child and resolves once its stdout matches `ready`; `release()` closes its stdin and waits
 * for its exit. It is killed after 30 s in any case, so a failing scenario cannot leave it behind.
 */
export async function holder(cmd: string, args: string[], ready: RegExp) {
  const c = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  c.stderr.on('data', (d) => (err += d));
  const exited = new Promise<number | null>((r) => c.on('exit', (code) => r(code)));
  const killer = setTimeout(() => c.kill('SIGKILL'), 30_000);
  killer.unref();
  exited.then(() => clearTimeout(killer));
  await new Promise<void>((resolve, reject) => {
    c.stdout.on('data', (d) => {
      out += d;
      if (ready.test(out)) resolve();
    });
    c.on('exit', () => reject(new Error(`${cmd} exited before ready: ${out} ${err}`)));
  });
  return {
    pid: c.pid!,
    output: () => out,
    async release(): Promise<number | null> {
      c.stdin.end();
      return exited;
    },
  };
}

function check(native: Rec, expect: Scenario['expect']): void {
  if (typeof expect === 'function') return expect(native);
  assert.deepEqual(Object.keys(native).sort(), Object.keys(expect).sort(), 'native record has other keys than expected');
  for (const [k, want] of Object.entries(expect)) {
    if (typeof want === 'function') assert.ok(want(native[k]), `native ${k}: ${JSON.stringify(native[k])} fails ${want}`);
    else assert.deepEqual(native[k], want, `native ${k}`);
  }
}

export interface BlockOptions {
  /** Extra daemon arguments after `mount SRC MNT --foreground`. */
  args: string[];
  scenarios: Scenario[];
  /** Per-scenario todo reasons that apply to this block only. */
  todo?: Record<string, string>;
}

/**
 * One describe block: one daemon, every scenario run natively and through the mount. Layout of the temp dir:
 * native/ (native runs), src/ (the mount's source), mnt/ (the mountpoint), outside/ (Ctx.outside). All 0755 so that
 * non-root callers can reach the scenario roots.
 */
export function conformanceBlock(title: string, o: BlockOptions): void {
  describe(title, () => {
    let base = '';
    let daemon: Daemon | undefined;
    const dirs = { native: '', src: '', mnt: '', outside: '' };
    const used = new Set<string>();

    before(async () => {
      base = makeTempDir('ptfs-conf-');
      fs.chmodSync(base, 0o755);
      for (const k of Object.keys(dirs) as (keyof typeof dirs)[]) {
        dirs[k] = join(base, k);
        fs.mkdirSync(dirs[k], { mode: 0o755 });
      }
      fs.writeFileSync(join(dirs.outside, 'hello.txt'), 'hello from outside\n');
      if (!NATIVE_ONLY) daemon = await startDaemon('bin/passthroughfs.js', ['mount', dirs.src, dirs.mnt, '--foreground', ...o.args], dirs.mnt);
    });

    after(() => stopDaemonAndRemove(daemon, base));

    const fresh = (parent: string, name: string) => {
      let slug = name.replace(/[^a-zA-Z0-9]+/g, '-').replace(/^-|-$/g, '');
      while (used.has(parent + slug)) slug += '_';
      used.add(parent + slug);
      const dir = join(parent, slug);
      fs.mkdirSync(dir);
      return dir;
    };

    for (const sc of o.scenarios) {
      const todo = o.todo?.[sc.name] ?? sc.todo;
      it(sc.name, { timeout: 120_000, ...(todo ? { todo } : {}) }, async () => {
        const native = await sc.run(fresh(dirs.native, sc.name), { outside: dirs.outside, host: (p) => p });
        check(native, sc.expect);
        if (NATIVE_ONLY) return;
        const root = fresh(dirs.mnt, sc.name);
        const mounted = await sc.run(root, { outside: dirs.outside, host: (p) => join(dirs.src, relative(dirs.mnt, p)) });
        assert.ok(fs.existsSync(join(dirs.src, relative(dirs.mnt, root))), 'the scenario dir is not in the source: not a passthrough?');
        assert.deepEqual(mounted, native, `through the mount (actual) vs native (expected)`);
      });
    }
  });
}
