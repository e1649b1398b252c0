/**
 * Metadata client: runs each phase over N files in DIR/meta with plain
 * synchronous fs calls and prints {phase: ops per second} as JSON.
 * Usage: node dist/bench/metaloop.js DIR N
 */
import { closeSync, mkdirSync, openSync, readSync, renameSync, rmSync, statSync, unlinkSync, writeSync, constants as C } from 'node:fs';
import { join } from 'node:path';

const [dir, nArg] = process.argv.slice(2);
const n = Number(nArg);
if (!dir || !(n > 0)) {
  process.stderr.write('usage: metaloop DIR N\n');
  process.exit(2);
}

const META_PHASES = ['create+write 4K', 'stat', 'stat missing', 'open+read+close', 'rename', 'unlink'] as const;

const base = join(dir, 'meta');
rmSync(base, { recursive: true, force: true });
mkdirSync(base);
const names = Array.from({ length: n }, (_, i) => join(base, `f${String(i).padStart(6, '0')}`));
const renamed = names.map((p) => p + '.r');
const missing = names.map((p) => p + '.missing');
const block = Buffer.alloc(4096, 'x');
const rbuf = Buffer.alloc(4096);

const ops: Record<(typeof META_PHASES)[number], (i: number) => void> = {
  'create+write 4K': (i) => {
    const fd = openSync(names[i]!, C.O_CREAT | C.O_WRONLY | C.O_TRUNC, 0o644);
    writeSync(fd, block);
    closeSync(fd);
  },
  stat: (i) => void statSync(names[i]!),
  'stat missing': (i) => {
    if (statSync(missing[i]!, { throwIfNoEntry: false }) !== undefined) throw new Error(`${missing[i]} exists`);
  },
  'open+read+close': (i) => {
    const fd = openSync(names[i]!, C.O_RDONLY);
    if (readSync(fd, rbuf, 0, 4096, 0) !== 4096) throw new Error(`short read of ${names[i]}`);
    closeSync(fd);
  },
  rename: (i) => renameSync(names[i]!, renamed[i]!),
  unlink: (i) => unlinkSync(renamed[i]!),
};

const out: Record<string, number> = {};
for (const phase of META_PHASES) {
  const f = ops[phase];
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) f(i);
  out[phase] = n / (Number(process.hrtime.bigint() - t0) / 1e9);
}
rmSync(base, { recursive: true, force: true });
process.stdout.write(JSON.stringify(out) + '\n');
