/**
 * Round trips: child processes stat the mount root in a loop; the root's
 * attributes have timeout 0, so each stat is one GETATTR through the kernel to
 * the daemon and back. Also records daemon start-up time and idle RSS.
 */
import { spawn } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { alternate, type Ctx } from './results.js';
import { bindfsNoCache, hpNoCache, native, nullMain, nullWorker, nullWorker2, ptfsNever } from './targets.js';
import { dist, setAffinity, sleep, track, which } from './util.js';

const PHASE = 'round trips';
export const DAEMON_PHASE = 'daemon';

/** Run `n` stat loops on `path` at once for `ms`; total stats per second. */
async function statClients(path: string, n: number, how: 'node' | 'statx', ms: number, cpu: number | undefined, onHang: () => void): Promise<number> {
  const argv = [process.execPath, dist('bench/statloop.js'), path, String(ms), how];
  if (cpu !== undefined) argv.unshift('taskset', '-c', String(cpu));
  const kids = Array.from({ length: n }, () => track(spawn(argv[0]!, argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] })));
  const outputs = kids.map((k) => {
    let out = '';
    let err = '';
    k.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
    k.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
    return {
      ready: new Promise<void>((res, rej) => {
        const check = () => (out.startsWith('ready\n') ? res() : undefined);
        k.stdout!.on('data', check);
        k.once('exit', (c) => rej(new Error(`stat client exited ${c} before starting: ${err.trim()}`)));
      }),
      done: new Promise<string>((res, rej) =>
        k.once('close', (c) => (c === 0 ? res(out.slice('ready\n'.length)) : rej(new Error(`stat client exited ${c}: ${err.trim()}`)))),
      ),
    };
  });
  // Settled later or never (after an early failure): never an unhandled rejection.
  for (const o of outputs) {
    o.ready.catch(() => {});
    o.done.catch(() => {});
  }
  const timer = setTimeout(() => {
    onHang();
    for (const k of kids) k.kill('SIGKILL');
  }, ms + 30000);
  try {
    await Promise.all(outputs.map((o) => o.ready));
    for (const k of kids) k.stdin!.end('go\n');
    let total = 0;
    for (const o of outputs) {
      const r = JSON.parse(await o.done) as { count: number; ns: number };
      total += r.count / (r.ns / 1e9);
    }
    return total;
  } finally {
    clearTimeout(timer);
    for (const k of kids) if (k.exitCode === null) k.kill('SIGKILL');
  }
}

export async function roundTrips(ctx: Ctx): Promise<void> {
  const { opts, results } = ctx;
  const pin = which('taskset') !== undefined;
  if (!pin) results.note(`${PHASE}: same-CPU runs skipped: taskset (util-linux) not found`);
  const allCpus = `0-${availableParallelism() - 1}`;
  // Smoke: only enough to show every path works.
  const targets = opts.smoke ? [native, nullWorker, nullMain, ptfsNever] : [native, nullWorker, nullWorker2, nullMain, ptfsNever, bindfsNoCache, hpNoCache];
  const clients = opts.smoke ? [1, 4] : [1, 2, 4];
  await alternate(ctx, PHASE, targets, async (path, t, d) => {
    if (d) {
      results.add(DAEMON_PHASE, 'start-up (spawn → mounted)', t.name, 'ms', 'lower', d.startupMs);
      await sleep(300);
      const rss = d.rssMiB();
      if (rss !== undefined) results.add(DAEMON_PHASE, 'idle RSS', t.name, 'MiB', 'lower', rss);
    }
    const hows: ('statx' | 'node')[] = !opts.smoke && (t === nullWorker || t === nullMain || t === native) ? ['statx', 'node'] : ['statx'];
    for (const how of hows) {
      const call = how === 'statx' ? 'statx' : 'fs.statSync';
      if (pin) {
        // Everything on one CPU: no cross-CPU wake-ups, so this is the CPU cost of a round trip.
        if (d) setAffinity(d.pid, '0');
        try {
          const rate = await statClients(path, 1, how, opts.durationMs, 0, () => d?.kill());
          results.add(PHASE, `${call} ×1 client, same CPU`, t.name, 'req/s', 'higher', rate);
        } finally {
          if (d) setAffinity(d.pid, allCpus);
        }
      }
      for (const n of clients) {
        const rate = await statClients(path, n, how, opts.durationMs, undefined, () => d?.kill());
        results.add(PHASE, `${call} ×${n} client${n > 1 ? 's' : ''}`, t.name, 'req/s', 'higher', rate);
      }
    }
  });
  results.ran.set(DAEMON_PHASE, results.ran.get(PHASE) ?? []);
}
