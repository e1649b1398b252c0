/**
 * Server for the scale phase: `node --expose-gc dist/bench/inodeserve.js SRC MNT OPTIONS_JSON [NOFILE]`,
 * started with a Node IPC channel. It mounts a PassthroughFs of SRC at MNT
 * through FuseSession (as test/fixtures/serve-passthrough.ts does) and serves
 * it on this thread; OPTIONS_JSON overrides PassthroughOptions. NOFILE, if
 * given, lowers this process's soft RLIMIT_NOFILE before the filesystem is
 * made, so whatever it derives from the limit sees the lowered one.
 *
 * Requests on the IPC channel (each answered with the same `id`):
 * - `measure`: full GC, then the V8 heap figures and the inode count;
 * - `peek`: the inode count only (cheap: for polling);
 * - `watch`: reset the FORGET statistics and note when the inode count first
 *   falls to `target` or below.
 * Figures that need a descriptor (/proc/self/fd, /proc/self/status) are left
 * to the bench, which reads them from /proc/PID: this process may be at its
 * descriptor limit, which is the point of the exercise.
 *
 * The server never outlives the bench: SIGINT/SIGTERM or the IPC channel
 * closing unmount, and it exits once the kernel lets go.
 */
import { spawnSync } from 'node:child_process';
import { getHeapStatistics } from 'node:v8';
import { FuseSession } from '../src/fuse/session.js';
import { PassthroughFs, defaultOptions, sessionOptionsFor, type PassthroughOptions } from '../src/passthrough/index.js';

export type ServerRequest = { id: number; type: 'measure' } | { id: number; type: 'peek' } | { id: number; type: 'watch'; target: number };

export interface ForgetStats {
  /** FORGET requests, BATCH_FORGET requests, and the items in the latter, since the last `watch`. */
  forgets: number;
  batches: number;
  items: number;
  /** Epoch ms of the first and last forget since the last `watch`. */
  firstAt?: number;
  lastAt?: number;
  /** Epoch ms at which the inode count first fell to the watched target. */
  reachedAt?: number;
}

export interface ServerReply {
  id: number;
  inodes: number;
  /** V8 heap in use and memory held outside it by JS objects (Buffers): after a full GC for `measure`. */
  heapUsed?: number;
  external?: number;
  forget: ForgetStats;
}

const [src, mnt, json, nofileArg] = process.argv.slice(2);
const gc = (globalThis as { gc?: () => void }).gc;
if (!src || !mnt || !json || !process.send || !gc) {
  process.stderr.write('usage: node --expose-gc inodeserve.js SRC MNT OPTIONS_JSON [NOFILE], with an IPC channel\n');
  process.exit(2);
}

if (nofileArg) {
  // Soft limit only (as test/fdlimit.test.ts does), so it could be raised again.
  const r = spawnSync('prlimit', ['--pid', String(process.pid), `--nofile=${nofileArg}:`], { encoding: 'utf8' });
  if (r.status !== 0) {
    process.stderr.write(`inodeserve: prlimit --nofile=${nofileArg}: ${r.stderr.trim() || `exit ${r.status}`}\n`);
    process.exit(1);
  }
}

// Options this build may not know yet (inodeFileHandles) pass through as they are.
const overrides = JSON.parse(json) as Partial<PassthroughOptions> & { inodeFileHandles?: string };
const opts = { ...defaultOptions(src), ...overrides } as PassthroughOptions;
const fs = new PassthroughFs(opts);

let stats: ForgetStats = { forgets: 0, batches: 0, items: 0 };
let target: number | undefined;
const forgot = () => {
  const now = Date.now();
  stats.firstAt ??= now;
  stats.lastAt = now;
  if (target !== undefined && stats.reachedAt === undefined && fs.inodes.size <= target) stats.reachedAt = now;
};
// Count and time the forgets the kernel sends (the FORGET storm after
// drop_caches), in the thread that handles them: the IPC channel is only
// looked at between requests, so the bench cannot time them from outside.
const forget = fs.forget.bind(fs);
const batchForget = fs.batchForget.bind(fs);
fs.forget = (node, nlookup) => {
  forget(node, nlookup);
  stats.forgets++;
  forgot();
};
fs.batchForget = (items) => {
  batchForget(items);
  stats.batches++;
  stats.items += items.length;
  forgot();
};

const session = FuseSession.mount(fs, mnt, { session: sessionOptionsFor(opts) });
session.unmountOnSignals(['SIGINT', 'SIGTERM']);

const unmount = () => {
  session.unmount().catch((e: unknown) => process.stderr.write(`inodeserve: unmount failed: ${String(e)}\n`));
};
process.on('disconnect', unmount);
process.on('message', (m: ServerRequest) => {
  if (m.type === 'watch') {
    stats = { forgets: 0, batches: 0, items: 0 };
    target = m.target;
    if (fs.inodes.size <= target) stats.reachedAt = Date.now();
  }
  const reply: ServerReply = { id: m.id, inodes: fs.inodes.size, forget: stats };
  if (m.type === 'measure') {
    gc();
    const h = getHeapStatistics();
    reply.heapUsed = h.used_heap_size;
    reply.external = h.external_memory;
  }
  process.send?.(reply);
});

await session.serve({ ownThread: true });
// The channel would keep this process alive.
process.off('disconnect', unmount);
if (process.connected) process.disconnect();
