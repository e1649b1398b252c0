/**
 * Scale phase: what each inode the kernel holds costs the daemon, and whether
 * it keeps serving once the kernel holds more inodes than the daemon may have
 * descriptors (RLIMIT_NOFILE; its hard limit cannot be raised on most hosts).
 *
 * A tree of N empty files (1 000 per directory) is built on a tmpfs (when
 * root). For each `inodeFileHandles` mode, a fresh server (inodeserve.ts, on
 * its own process with an IPC channel) serves it at the mount point, and:
 * 1. `find -printf '%s\n'` walks the tree: every entry becomes an inode the
 *    kernel holds a lookup on. Its output lines are the entries walked, its
 *    stderr lines the errors (EMFILE once an inode costs a descriptor and
 *    the limit is reached); the daemon's descriptors are sampled meanwhile.
 * 2. After a full GC, the growth of heap (V8 heap + external), RSS and
 *    descriptors per inode gained.
 * 3. drop_caches makes the kernel evict those inodes, i.e. send FORGETs for
 *    all of them: the time until the daemon's inode count is back where it
 *    started, and what heap, RSS and descriptors are left.
 * 4. M files created through the mount in a fresh directory, and the errors.
 * Each mode runs once (--repeat does not apply): the figures are counts and
 * sizes, not rates, and a 1M-entry walk takes minutes.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { isMountPoint } from '../src/fuse/mount.js';
import { defaultOptions } from '../src/passthrough/options.js';
import type { ForgetStats, ServerReply, ServerRequest } from './inodeserve.js';
import type { Better, Ctx } from './results.js';
import { canDropCaches, dist, forceUnmount, isRoot, log, runOk, sleep, startDaemon, track, trackMount, type Daemon } from './util.js';

const PHASE = 'scale';
/** The values of PassthroughOptions.inodeFileHandles. */
export const SCALE_MODES = ['never', 'prefer', 'mandatory'] as const;
export type ScaleMode = (typeof SCALE_MODES)[number];
const PER_DIR = 1000;
/** Kernel and daemon memory per entry, generously (tmpfs and FUSE inode + dentry, the daemon's entry): for refusing sizes that would not fit. */
const BYTES_PER_ENTRY = 4096;
/** The FORGET storm is over when the inode count is back at its start, or has not moved for this long. */
const STALL_MS = 10_000;
const STORM_MAX_MS = 600_000;
const MiB = 2 ** 20;

export async function scale(ctx: Ctx): Promise<void> {
  const { scaleFiles: n, scaleCreates: m } = ctx.opts;
  checkMemory(n + m);
  if (!('inodeFileHandles' in defaultOptions('/'))) {
    ctx.results.note(`${PHASE}: this build's PassthroughOptions have no inodeFileHandles default: the modes may all run as one (an O_PATH fd per inode)`);
  }
  const root = join(dirname(ctx.src), 'scale');
  mkdirSync(root);
  let tmpfs = false;
  try {
    if (isRoot()) {
      // Room for the tree and one mode's creates (removed after each mode), with slack.
      const inodes = 2 * (n + m) + 10_000;
      const r = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=256m,nr_inodes=${inodes},mode=0755`, 'tmpfs', root], { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`mount tmpfs: ${r.stderr.trim()}`);
      trackMount(root);
      tmpfs = true;
    } else {
      ctx.results.note(`${PHASE}: tree on the scratch disk (a tmpfs needs root); no drop_caches, so no FORGET storm`);
    }
    const t0 = performance.now();
    const expected = buildTree(join(root, 'tree'), n);
    ctx.results.note(`${PHASE}: ${n} files in ${Math.ceil(n / PER_DIR)} directories (${expected} entries for find) built in ${((performance.now() - t0) / 1000).toFixed(1)} s${tmpfs ? ' on tmpfs' : ''}; ${m} creates per mode`);
    for (const mode of ctx.opts.scaleModes) {
      try {
        await runMode(ctx, root, mode, expected);
      } catch (e) {
        ctx.results.error(`${PHASE}: ${target(mode)}: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
  } finally {
    if (tmpfs) forceUnmount(root);
    if (isMountPoint(root)) ctx.results.error(`${PHASE}: ${root} is still mounted`);
    else rmSync(root, { recursive: true, force: true });
  }
}

const target = (mode: string) => `inode-file-handles=${mode}`;

function checkMemory(entries: number): void {
  const m = /^MemAvailable:\s+(\d+) kB/m.exec(readFileSync('/proc/meminfo', 'utf8'));
  const available = m ? Number(m[1]) * 1024 : Infinity;
  const need = entries * BYTES_PER_ENTRY;
  if (need > available * 0.8) {
    throw new Error(`${entries} entries need about ${(need / 2 ** 30).toFixed(1)} GiB of memory, ${(available / 2 ** 30).toFixed(1)} GiB available: lower --scale-files`);
  }
}

/** N empty files, PER_DIR to a directory, under `dir`; returns the entries find lists (dir, directories, files). */
function buildTree(dir: string, n: number): number {
  mkdirSync(dir);
  let sub = '';
  for (let i = 0; i < n; i++) {
    if (i % PER_DIR === 0) mkdirSync((sub = join(dir, `d${String(i / PER_DIR).padStart(4, '0')}`)));
    closeSync(openSync(join(sub, `f${i % PER_DIR}`), 'wx'));
  }
  return 1 + Math.ceil(n / PER_DIR) + n;
}

async function runMode(ctx: Ctx, root: string, mode: ScaleMode, expected: number): Promise<void> {
  const { results, opts } = ctx;
  const t = target(mode);
  const add = (op: string, unit: string, better: Better, v: number) => {
    if (Number.isFinite(v)) results.add(PHASE, op, t, unit, better, v);
  };
  log(`[${PHASE}] ${t}`);
  const args = ['--expose-gc', dist('bench/inodeserve.js'), root, ctx.mnt, JSON.stringify({ inodeFileHandles: mode })];
  if (opts.scaleNofile) args.push(String(opts.scaleNofile));
  const d = await startDaemon(process.execPath, args, ctx.mnt, { ipc: true });
  const ch = new ServerChannel(d.child);
  const created = join(root, `new-${mode}`);
  try {
    results.note(`${PHASE}: server RLIMIT_NOFILE ${softNofile(d.pid)}${opts.scaleNofile ? ' (lowered with --scale-nofile)' : ''}`);
    const base = await snapshot(ch, d);

    const peak = new FdPeak(d.pid);
    let w: Walk;
    try {
      w = await walk(join(ctx.mnt, 'tree'), 120_000 + expected * 2, () => d.kill());
    } finally {
      peak.stop();
    }
    const after = await snapshot(ch, d);
    const gained = after.inodes - base.inodes;
    add('entries walked', 'entries', 'higher', w.lines);
    add('walk errors', 'lines', 'lower', w.errors);
    add('walk s', 's', 'lower', w.ms / 1000);
    add('inodes held', 'inodes', 'higher', after.inodes);
    add('peak fds', 'fds', 'lower', peak.peak);
    // Apart from our drop_caches, the kernel lets go of a few inodes at most
    // (a readdirplus entry it cannot link, a revalidation that finds another
    // inode). Many more mean a drop_caches by another process (a test suite
    // on the same machine) or memory pressure: then the figures of that step
    // measure something else, and the ones derived from it are left out.
    const disturbed = (forgot: number, when: string): boolean => {
      if (forgot <= Math.max(10, after.inodes / 100)) return false;
      results.note(`${PHASE}: ${t}: DISTURBED: ${forgot} inodes forgotten ${when} (another process writing drop_caches, or memory pressure?)`);
      return true;
    };
    const wf = after.forget;
    if (disturbed(wf.forgets + wf.items, 'during the walk')) {
      results.note(`${PHASE}: ${t}: per-inode figures left out: the inodes held are not the ones the walk made`);
    } else if (gained > 0) {
      add('fds/inode', 'fds', 'lower', (after.fds - base.fds) / gained);
      add('heap B/inode', 'B', 'lower', (after.heap - base.heap) / gained);
      add('RSS B/inode', 'B', 'lower', (after.rss - base.rss) / gained);
    }
    const forgotten = wf.forgets + wf.batches ? `; ${wf.forgets} FORGET and ${wf.batches} BATCH_FORGET (${wf.items} items) during the walk` : '';
    if (w.lines !== expected || w.errors || forgotten) {
      const why = [...w.byMessage].sort((a, b) => b[1] - a[1]).map(([msg, k]) => `${k} × ${msg}`).join(', ');
      results.note(`${PHASE}: ${t}: find listed ${w.lines} of ${expected} entries (exit ${w.code})${why ? `; its errors: ${why}` : ''}${forgotten}`);
    }

    // Forgets counted so far (the server's counts start again at `watch`).
    let forgetItems = wf.forgets + wf.items;
    if (canDropCaches()) {
      const s = await forgetStorm(ch, base.inodes);
      const early = disturbed(after.inodes - s.held, 'between the walk and drop_caches');
      const dropped = await snapshot(ch, d);
      const f = dropped.forget;
      forgetItems = f.forgets + f.items;
      const end = f.reachedAt ?? f.lastAt;
      // Only a count that fell after our write is a storm we caused.
      if (end !== undefined && end >= s.t0 && s.held > base.inodes && !early) add('forget storm ms', 'ms', 'lower', end - s.t0);
      add('inodes after drop', 'inodes', 'lower', dropped.inodes);
      add('heap Δ after drop MiB', 'MiB', 'lower', (dropped.heap - base.heap) / MiB);
      add('RSS Δ after drop MiB', 'MiB', 'lower', (dropped.rss - base.rss) / MiB);
      add('fds after drop', 'fds', 'lower', dropped.fds);
      results.note(
        `${PHASE}: ${t}: drop_caches took ${s.dropMs} ms; ${f.forgets} FORGET and ${f.batches} BATCH_FORGET (${f.items} items) followed` +
          (f.reachedAt === undefined ? `; ${dropped.inodes} inodes still held (${base.inodes} at start)` : '') +
          `; ${base.fds} fds at start`,
      );
    } else if (isRoot()) {
      results.note(`${PHASE}: no /proc/sys/vm/drop_caches: no FORGET storm`);
    }

    const c = await runOk(process.execPath, [dist('bench/createloop.js'), join(ctx.mnt, `new-${mode}`), String(opts.scaleCreates)], {
      timeoutMs: 120_000 + opts.scaleCreates * 2,
      onTimeout: () => d.kill(),
    });
    const cr = JSON.parse(c.stdout) as { ok: number; errors: Record<string, number>; ms: number };
    const late = await ch.ask({ type: 'peek' });
    const forgotNow = late.forget.forgets + late.forget.items - forgetItems;
    // The creates are still what happened, but more may succeed than the limit allows.
    disturbed(forgotNow, 'while files were being created');
    const failed = Object.values(cr.errors).reduce((a, b) => a + b, 0);
    add('creates ok', 'files', 'higher', cr.ok);
    add('create errors', 'files', 'lower', failed);
    if (failed) results.note(`${PHASE}: ${t}: create errors: ${Object.entries(cr.errors).map(([k, v]) => `${v} × ${k}`).join(', ')}`);
  } catch (e) {
    throw new Error(`${e instanceof Error ? e.message : String(e)}\ndaemon output:\n${d.output().trim()}`);
  } finally {
    ch.close();
    await d.stop();
    if (isMountPoint(ctx.mnt)) results.error(`${PHASE}: ${ctx.mnt} still mounted after stopping the ${t} server`);
    rmSync(created, { recursive: true, force: true });
  }
}

interface Snapshot {
  inodes: number;
  /** V8 heap in use + external memory, after a full GC. */
  heap: number;
  rss: number;
  fds: number;
  forget: ForgetStats;
}

/** The daemon's figures after a full GC; the ones that need a descriptor are read here, from /proc/PID. */
async function snapshot(ch: ServerChannel, d: Daemon): Promise<Snapshot> {
  const r = await ch.ask({ type: 'measure' });
  return { inodes: r.inodes, heap: (r.heapUsed ?? NaN) + (r.external ?? NaN), rss: (d.rssMiB() ?? NaN) * MiB, fds: fdCount(d.pid), forget: r.forget };
}

/**
 * Evict the kernel's inodes and wait until the daemon has forgotten them (or
 * its count stops moving). `held`: the daemon's inodes just before.
 */
async function forgetStorm(ch: ServerChannel, baseInodes: number): Promise<{ t0: number; dropMs: number; held: number }> {
  const { inodes: held } = await ch.ask({ type: 'watch', target: baseInodes });
  const t0 = Date.now();
  // 2: dentries and inodes (slab) only; the page cache has nothing to do with it.
  writeFileSync('/proc/sys/vm/drop_caches', '2');
  const dropMs = Date.now() - t0;
  let last = -1;
  let moved = Date.now();
  for (;;) {
    const { inodes } = await ch.ask({ type: 'peek' });
    if (inodes <= baseInodes) break;
    const now = Date.now();
    if (inodes !== last) {
      last = inodes;
      moved = now;
    } else if (now - moved > STALL_MS) break;
    if (now - t0 > STORM_MAX_MS) break;
    await sleep(50);
  }
  return { t0, dropMs, held };
}

function fdCount(pid: number): number {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return NaN;
  }
}

function softNofile(pid: number): string {
  try {
    return /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync(`/proc/${pid}/limits`, 'utf8'))?.[1] ?? '?';
  } catch {
    return '?';
  }
}

/** The highest descriptor count of `pid` seen, sampled every 100 ms until stop(). */
class FdPeak {
  peak = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly pid: number) {
    this.sample();
    this.timer = setInterval(() => this.sample(), 100);
  }

  private sample(): void {
    const n = fdCount(this.pid);
    if (n > this.peak) this.peak = n;
  }

  stop(): void {
    clearInterval(this.timer);
    this.sample();
  }
}

interface Walk {
  /** stdout lines: one per entry find got to. */
  lines: number;
  /** stderr lines, and how many of each message (the part after the path). */
  errors: number;
  byMessage: Map<string, number>;
  ms: number;
  code: number | null;
}

/** `find DIR -printf '%s\n'`, counting its output as it comes: at 1M entries with errors, it is too much to keep. */
async function walk(dir: string, timeoutMs: number, onTimeout: () => void): Promise<Walk> {
  const t0 = performance.now();
  const child = track(spawn('find', [dir, '-printf', '%s\n'], { stdio: ['ignore', 'pipe', 'pipe'] }));
  const w: Walk = { lines: 0, errors: 0, byMessage: new Map(), ms: 0, code: null };
  child.stdout!.on('data', (b: Buffer) => {
    for (let i = b.indexOf(10); i >= 0; i = b.indexOf(10, i + 1)) w.lines++;
  });
  let partial = '';
  const errorLine = (l: string) => {
    if (!l) return;
    w.errors++;
    const msg = l.slice(l.lastIndexOf(': ') + 2);
    w.byMessage.set(msg, (w.byMessage.get(msg) ?? 0) + 1);
  };
  child.stderr!.setEncoding('utf8').on('data', (s: string) => {
    const parts = (partial + s).split('\n');
    partial = parts.pop()!;
    for (const l of parts) errorLine(l);
  });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    onTimeout();
    child.kill('SIGKILL');
  }, timeoutMs);
  w.code = await new Promise<number | null>((r) => child.on('close', (c) => r(c)));
  clearTimeout(timer);
  errorLine(partial);
  w.ms = performance.now() - t0;
  if (timedOut) throw new Error(`find ${dir}: timed out after ${timeoutMs} ms (${w.lines} entries, ${w.errors} errors so far)`);
  return w;
}

type Ask = { type: 'measure' } | { type: 'peek' } | { type: 'watch'; target: number };

/** Requests to inodeserve over its IPC channel, matched to replies by id. */
class ServerChannel {
  private next = 1;
  private readonly waiting = new Map<number, { resolve: (r: ServerReply) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();
  private readonly onMessage = (r: ServerReply) => {
    const w = this.waiting.get(r.id);
    if (!w) return;
    this.waiting.delete(r.id);
    clearTimeout(w.timer);
    w.resolve(r);
  };
  private readonly onExit = () => this.failAll(new Error('the server exited'));

  constructor(private readonly child: ChildProcess) {
    child.on('message', this.onMessage);
    child.once('exit', this.onExit);
  }

  /** The server reads its channel between requests (every 50 ms under load, 200 ms idle), and a GC of a large heap takes seconds. */
  ask(req: Ask, timeoutMs = 120_000): Promise<ServerReply> {
    const id = this.next++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        reject(new Error(`the server did not answer "${req.type}" within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiting.set(id, { resolve, reject, timer });
      this.child.send({ ...req, id } satisfies ServerRequest, (e) => {
        if (e) this.fail(id, e);
      });
    });
  }

  close(): void {
    this.child.off('message', this.onMessage);
    this.child.off('exit', this.onExit);
    this.failAll(new Error('channel closed'));
  }

  private fail(id: number, e: Error): void {
    const w = this.waiting.get(id);
    if (!w) return;
    this.waiting.delete(id);
    clearTimeout(w.timer);
    w.reject(e);
  }

  private failAll(e: Error): void {
    for (const id of [...this.waiting.keys()]) this.fail(id, e);
  }
}
