/**
 * Metadata phases: a separate process creates, stats, reads, renames and
 * unlinks N files. Runs on a tmpfs when root: on ext4, creating files soon
 * after deleting as many makes inode allocation skip every inode freed in the
 * last 30 s (recently_deleted()), so after the first run each create costs
 * ~0.5 ms on native and mounts alike and hides what FUSE costs.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { alternate, type Ctx } from './results.js';
import { bindfs, bindfsNoCache, hp, hpNoCache, native, ptfsAlways, ptfsAlwaysWriteback, ptfsNever } from './targets.js';
import { dist, isRoot, onCpu0, runOk } from './util.js';

const PHASE = 'metadata';

export async function metadata(ctx: Ctx): Promise<void> {
  if (ctx.opts.metaDisk || !isRoot()) {
    if (!ctx.opts.metaDisk) ctx.results.note(`${PHASE}: on disk (mounting a tmpfs needs root); ext4 makes repeated creates slow`);
    return run(ctx);
  }
  const src = join(dirname(ctx.src), 'tmpfs');
  mkdirSync(src);
  const m = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=2g,mode=0755', 'tmpfs', src], { encoding: 'utf8' });
  if (m.status !== 0) throw new Error(`mount tmpfs: ${m.stderr.trim()}`);
  ctx.results.note(`${PHASE}: source directory on tmpfs (--meta-disk for the scratch disk)`);
  try {
    await run({ ...ctx, src });
  } finally {
    spawnSync('umount', [src]);
  }
}

async function run(ctx: Ctx): Promise<void> {
  const targets = [native, ptfsAlways, ptfsAlwaysWriteback, ptfsNever, bindfs, bindfsNoCache, hp, hpNoCache];
  await alternate(ctx, PHASE, targets, async (path, t, d) => {
    const r = await runOk(...onCpu0(ctx.opts.pin, process.execPath, [dist('bench/metaloop.js'), path, String(ctx.opts.files)]), {
      timeoutMs: 600_000,
      onTimeout: () => d?.kill(),
    });
    const rates = JSON.parse(r.stdout) as Record<string, number>;
    for (const [op, v] of Object.entries(rates)) ctx.results.add(PHASE, op, t.name, 'ops/s', 'higher', v);
  });
}
