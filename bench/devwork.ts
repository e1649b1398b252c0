/**
 * Developer workload on a generated source-like tree (nested packages of small
 * text files): find | wc -l, grep -r, and sha256sum of every file, each timed
 * as a whole. Every target is mounted afresh, so the mount's own caches start
 * cold while the underlying files are in the page cache (as for native).
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { alternate, type Ctx } from './results.js';
import { bindfs, hp, native, ptfsAlways, ptfsAuto, ptfsNever } from './targets.js';
import { onCpu0, runOk } from './util.js';

const PHASE = 'developer workload';
const TREE = 'tree';
const NEEDLE = 'FIXME-bench';

const WORDS = ['const', 'export', 'function', 'return', 'import', 'value', 'buffer', 'length', 'node', 'result', 'await', 'string'];

/** Generate `files` files, 10 per directory, 10 directories per package; returns the number of entries find sees. */
function generate(root: string, files: number): number {
  const marker = join(root, '.complete');
  if (existsSync(marker) && readFileSync(marker, 'utf8') === String(files)) return entries(files);
  rmSync(root, { recursive: true, force: true });
  let seed = 12345;
  const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2147483648), seed % n);
  for (let i = 0; i < files; i++) {
    const dir = join(root, 'packages', `pkg${Math.floor(i / 100)}`, 'src', `mod${Math.floor(i / 10) % 10}`);
    if (i % 10 === 0) mkdirSync(dir, { recursive: true });
    const lines: string[] = [];
    const n = 5 + rnd(150);
    for (let l = 0; l < n; l++) {
      const w = Array.from({ length: 3 + rnd(8) }, () => WORDS[rnd(WORDS.length)]);
      lines.push(`${'  '.repeat(rnd(4))}${w.join(' ')};${rnd(7) === 0 && l === 3 ? ` // ${NEEDLE}` : ''}`);
    }
    writeFileSync(join(dir, `file${i % 10}.ts`), lines.join('\n') + '\n');
  }
  writeFileSync(marker, String(files));
  return entries(files);
}

/** Entries under root as find lists them: root, packages/, per package 2 dirs, per module dir 1, the files, the marker. */
function entries(files: number): number {
  const pkgs = Math.ceil(files / 100);
  const mods = Math.ceil(files / 10);
  return 1 + 1 + pkgs * 2 + mods + files + 1;
}

const COMMANDS = [
  { op: 'find (list all)', script: 'find "$1" | wc -l' },
  { op: 'grep -r', script: `grep -r -n ${NEEDLE} "$1" | wc -l` },
  { op: 'sha256sum (all files)', script: 'find "$1" -type f -exec sha256sum {} + | wc -l' },
];

export async function devWorkload(ctx: Ctx): Promise<void> {
  const expected = generate(join(ctx.src, TREE), ctx.opts.treeFiles);
  const counts = new Map<string, string>();
  await alternate(ctx, PHASE, [native, ptfsAuto, ptfsAlways, ptfsNever, bindfs, hp], async (path, t, d) => {
    for (const c of COMMANDS) {
      const r = await runOk(...onCpu0(ctx.opts.pin, 'sh', ['-c', c.script, 'sh', join(path, TREE)]), { timeoutMs: 600_000, onTimeout: () => d?.kill() });
      const out = r.stdout.trim();
      if (c.op.startsWith('find ') && Number(out) !== expected) throw new Error(`find saw ${out} entries, expected ${expected}`);
      const seen = counts.get(c.op);
      if (seen === undefined) counts.set(c.op, out);
      else if (seen !== out) throw new Error(`${c.op} printed ${out} here but ${seen} on an earlier target`);
      ctx.results.add(PHASE, c.op, t.name, 's', 'lower', r.ms / 1000);
    }
  });
}
