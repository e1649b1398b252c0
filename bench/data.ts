/**
 * Data phases with fio (psync engine, one job): 1 MiB sequential and 4 KiB
 * random reads and writes on one file, warm (page cache primed by reading the
 * file through the target first) and cold (caches dropped before each job).
 */
import { randomBytes } from 'node:crypto';
import { closeSync, openSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { alternate, type Ctx } from './results.js';
import { bindfs, hp, native, ptfsAlwaysWriteback, ptfsAuto, ptfsPassthrough, ptfsWriteback } from './targets.js';
import { canDropCaches, dropCaches, onCpu0, runOk, which } from './util.js';

const PHASE = 'data (fio)';
const FILE = 'fio.dat';

const JOBS = [
  { op: '1M seq read', rw: 'read', bs: '1M', dir: 'read' },
  { op: '4K rand read', rw: 'randread', bs: '4k', dir: 'read' },
  { op: '1M seq write', rw: 'write', bs: '1M', dir: 'write' },
  { op: '4K rand write', rw: 'randwrite', bs: '4k', dir: 'write' },
] as const;

function layout(path: string, size: number): void {
  try {
    if (statSync(path).size === size) return;
  } catch {
    // not there yet
  }
  const chunk = randomBytes(1 << 20);
  const fd = openSync(path, 'w');
  try {
    for (let off = 0; off < size; off += chunk.length) writeSync(fd, chunk, 0, Math.min(chunk.length, size - off));
  } finally {
    closeSync(fd);
  }
}

async function fio(file: string, job: (typeof JOBS)[number], size: number, runtime: number, pin: boolean, onHang: () => void): Promise<number> {
  const r = await runOk(...onCpu0(pin, 'fio', [
    '--name=bench', `--filename=${file}`, `--rw=${job.rw}`, `--bs=${job.bs}`, `--size=${size}`, '--ioengine=psync',
    '--invalidate=0', '--fallocate=none', `--runtime=${runtime}`, '--output-format=json',
  ]), { timeoutMs: (runtime + 120) * 1000, onTimeout: onHang });
  const json = JSON.parse(r.stdout.slice(r.stdout.indexOf('{'))) as { jobs: Record<string, { bw_bytes: number }>[] };
  return json.jobs[0]![job.dir]!.bw_bytes / 1e6;
}

export async function data(ctx: Ctx): Promise<void> {
  const { opts, results } = ctx;
  if (!which('fio')) {
    results.note(`${PHASE}: skipped: fio not installed (apt-get install fio)`);
    return;
  }
  const cold = opts.cold && canDropCaches();
  if (opts.cold && !cold) results.note(`${PHASE}: cold runs skipped: dropping caches needs root`);
  layout(join(ctx.src, FILE), opts.fioSize);
  await alternate(ctx, PHASE, [native, ptfsAuto, ptfsPassthrough, ptfsWriteback, ptfsAlwaysWriteback, bindfs, hp], async (path, t, d) => {
    const file = join(path, FILE);
    const onHang = () => d?.kill();
    await runOk('sh', ['-c', 'cat "$1" > /dev/null', 'sh', file], { timeoutMs: 600_000, onTimeout: onHang });
    for (const job of JOBS) results.add(PHASE, `${job.op} (warm)`, t.name, 'MB/s', 'higher', await fio(file, job, opts.fioSize, opts.fioRuntime, opts.pin, onHang));
    if (!cold) return;
    for (const job of JOBS) {
      dropCaches();
      results.add(PHASE, `${job.op} (cold)`, t.name, 'MB/s', 'higher', await fio(file, job, opts.fioSize, opts.fioRuntime, opts.pin, onHang));
    }
  });
}
