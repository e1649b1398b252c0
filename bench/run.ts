/**
 * Benchmark harness entry point. Run `npm run bench -- --help` for options.
 * Phases: round trips (null filesystem + daemons), metadata, data (fio),
 * developer workload, virtiofs (a QEMU guest over passthroughfs-virtiofsd and virtiofsd),
 * scale (inodes beyond the descriptor limit). See docs/benchmarks.md.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, release, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { isMountPoint } from '../src/fuse/mount.js';
import { data } from './data.js';
import { devWorkload } from './devwork.js';
import { metadata } from './meta.js';
import { markdownTables, svgChart } from './report.js';
import { Results, rows, type Ctx, type Options, type Row } from './results.js';
import { roundTrips } from './roundtrip.js';
import { scale, SCALE_MODES, type ScaleMode } from './scale.js';
import { ALL_TARGETS, ptfsMissing } from './targets.js';
import { cleanupAll, log, onCleanup, ROOT } from './util.js';
import { virtiofs } from './virtiofs.js';

const PHASES: Record<string, (ctx: Ctx) => Promise<void>> = { roundtrip: roundTrips, meta: metadata, data, dev: devWorkload, virtiofs, scale };

const HELP = `Usage: npm run bench -- [options]
  --smoke             quick run for CI (< 60 s): tiny sizes, 1 repeat, no cold fio, no references, no chart
  --repeat=R          alternating repeats per target, medians reported (default 5)
  --files=N           files in the metadata phases (default 5000)
  --tree-files=N      files in the developer-workload tree (default 5000)
  --scale-files=N     files in the scale phase's tree (default 1000000; smoke: 3000)
  --scale-creates=M   files the scale phase creates through the mount per mode (default 50000; smoke: 1500)
  --scale-nofile=N    the scale phase's server runs with soft RLIMIT_NOFILE N (default: as inherited; smoke: 1000)
  --scale-modes=LIST  inodeFileHandles modes the scale phase runs: ${SCALE_MODES.join(',')} (default all)
  --virtiofs-files=N  files in the virtiofs phase's guest metadata passes (default 2000; smoke: 200)
  --virtiofs-fio-size=SIZE  the virtiofs phase's fio file in the guest (default 64M; smoke: 8M)
  --virtiofs-rounds=K the virtiofs phase's workload K times per guest boot, the median kept (default 3; smoke: 1)
  --duration=MS       measuring window per round-trip configuration (default 1500)
  --fio-size=SIZE     fio file size, e.g. 1G, 256M (default 1G)
  --fio-runtime=S     time limit per fio job, seconds (default 5)
  --no-cold           skip the cold-cache fio runs
  --meta-disk         metadata phase on the scratch disk (default: a tmpfs, when root)
  --pin               metadata, data and developer phases with daemon and client on CPU 0
  --only=LIST         phases to run: ${Object.keys(PHASES).join(',')} (default all)
  --dir=PATH          where to make the scratch directory (default /var/tmp)
  --json=PATH         results file (default bench/results/latest.json, smoke: smoke.json)
  --svg=PATH          chart (default docs/bench.svg for a full run; none with --smoke/--only unless given)
  --from=JSON         run nothing: print the tables and draw the chart from an earlier results file
Environment: PASSTHROUGH_HP=/path/to/passthrough_hp adds libfuse's passthrough_hp as the reference.`;

function size(s: string): number {
  const m = /^(\d+(?:\.\d+)?)([kmg]?)i?b?$/i.exec(s);
  if (!m) throw new Error(`bad size "${s}"`);
  return Math.round(Number(m[1]) * 1024 ** ' kmg'.indexOf((m[2] || ' ').toLowerCase()));
}

function parse(argv: string[]): { opts: Options; dir: string; json: string; svg: string | undefined; from: string | undefined } {
  const kv = new Map<string, string>();
  for (const a of argv) {
    if (a === '--help' || a === '-h') {
      process.stdout.write(HELP + '\n');
      process.exit(0);
    }
    const m = /^--([a-z-]+)(?:=(.*))?$/.exec(a);
    if (!m) throw new Error(`unknown argument "${a}" (try --help)`);
    kv.set(m[1]!, m[2] ?? '');
  }
  const smoke = kv.has('smoke');
  const num = (k: string, d: number) => {
    const v = kv.get(k);
    if (v === undefined) return d;
    if (!/^\d+$/.test(v) || Number(v) < 1) throw new Error(`--${k} needs a positive integer`);
    return Number(v);
  };
  const only = kv.get('only');
  const phases = new Set(only ? only.split(',') : Object.keys(PHASES));
  for (const p of phases) if (!PHASES[p]) throw new Error(`unknown phase "${p}" (phases: ${Object.keys(PHASES).join(', ')})`);
  const known = ['smoke', 'repeat', 'files', 'tree-files', 'scale-files', 'scale-creates', 'scale-nofile', 'scale-modes', 'virtiofs-files', 'virtiofs-fio-size', 'virtiofs-rounds', 'duration', 'fio-size', 'fio-runtime', 'no-cold', 'meta-disk', 'pin', 'only', 'dir', 'json', 'svg', 'from'];
  for (const k of kv.keys()) if (!known.includes(k)) throw new Error(`unknown option --${k} (try --help)`);
  const scaleModes = (kv.get('scale-modes') || SCALE_MODES.join(',')).split(',') as ScaleMode[];
  for (const m of scaleModes) if (!SCALE_MODES.includes(m)) throw new Error(`unknown --scale-modes value "${m}" (${SCALE_MODES.join(', ')})`);
  const opts: Options = {
    smoke,
    repeat: num('repeat', smoke ? 1 : 5),
    files: num('files', smoke ? 200 : 5000),
    treeFiles: num('tree-files', smoke ? 300 : 5000),
    // Smoke: a lowered descriptor limit, so that a few thousand entries already go past it.
    scaleFiles: num('scale-files', smoke ? 3000 : 1_000_000),
    scaleCreates: num('scale-creates', smoke ? 1500 : 50_000),
    scaleNofile: kv.has('scale-nofile') || smoke ? num('scale-nofile', 1000) : undefined,
    scaleModes,
    // A guest under TCG is ten and more times slower than the host: smaller sizes than the host's phases.
    virtiofsFiles: num('virtiofs-files', smoke ? 200 : 2000),
    virtiofsFioSize: size(kv.get('virtiofs-fio-size') ?? (smoke ? '8M' : '64M')),
    virtiofsRounds: num('virtiofs-rounds', smoke ? 1 : 3),
    durationMs: num('duration', smoke ? 200 : 1500),
    fioSize: size(kv.get('fio-size') ?? (smoke ? '16M' : '1G')),
    fioRuntime: num('fio-runtime', smoke ? 1 : 5),
    cold: !smoke && !kv.has('no-cold'),
    metaDisk: kv.has('meta-disk'),
    pin: kv.has('pin'),
    phases,
  };
  const json = resolve(kv.get('json') || join(ROOT, 'bench/results', smoke ? 'smoke.json' : 'latest.json'));
  // Only a full run replaces the committed chart by default.
  const svg = kv.get('svg') || (smoke || only ? undefined : join(ROOT, 'docs/bench.svg'));
  return { opts, dir: kv.get('dir') || '/var/tmp', json, svg: svg && resolve(svg), from: kv.get('from') };
}

/** Is anything mounted at `dir` or below it (/proc/self/mounts, whose paths escape blanks as octal)? */
function mountedUnder(dir: string): boolean {
  return readFileSync('/proc/self/mounts', 'utf8').split('\n').some((l) => {
    const mp = l.split(' ')[1]?.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
    return mp !== undefined && (mp === dir || mp.startsWith(`${dir}/`));
  });
}

function machine() {
  const cpu = /model name\s*:\s*(.*)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? 'unknown';
  return { date: new Date().toISOString(), nproc: availableParallelism(), kernel: release(), cpu, memGiB: Math.round(totalmem() / 2 ** 30), node: process.version };
}

function headerLine(m: ReturnType<typeof machine>, opts: Options): string {
  return `${m.date.slice(0, 10)} · ${m.cpu} · ${m.nproc} CPUs · Linux ${m.kernel} · node ${m.node}` +
    ` · repeat ${opts.repeat} · files ${opts.files} · tree ${opts.treeFiles} · fio ${opts.fioSize / 2 ** 20} MiB${opts.pin ? ' · pinned to CPU 0' : ''}` +
    // phases is a Set here and an array in a results file; older files have no scale figures.
    ([...opts.phases].includes('scale') && opts.scaleFiles ? ` · scale ${opts.scaleFiles} files${opts.scaleNofile ? `, nofile ${opts.scaleNofile}` : ''}` : '') +
    // Older results files have no virtiofs figures.
    ([...opts.phases].includes('virtiofs') && opts.virtiofsFiles ? ` · virtiofs ${opts.virtiofsFiles} files, fio ${opts.virtiofsFioSize / 2 ** 20} MiB, ${opts.virtiofsRounds} round${opts.virtiofsRounds === 1 ? '' : 's'} per boot` : '');
}

function writeSvg(svg: string, table: Row[], header: string): void {
  mkdirSync(dirname(svg), { recursive: true });
  writeFileSync(svg, svgChart(table, 'passthroughfs benchmarks', header));
  log(`chart: ${svg}`);
}

/** --from: redo the output of an earlier run. */
function render(from: string, svg: string | undefined): number {
  const r = JSON.parse(readFileSync(from, 'utf8')) as { machine: ReturnType<typeof machine>; options: Options; rows: Row[]; notes: string[] };
  const header = headerLine(r.machine, r.options);
  process.stdout.write(`${header}\n\n${markdownTables(r.rows)}`);
  if (r.notes.length) process.stdout.write(`Notes:\n${r.notes.map((n) => `- ${n}`).join('\n')}\n`);
  if (svg) writeSvg(svg, r.rows, header);
  return 0;
}

async function main(): Promise<number> {
  const { opts, dir, json, svg, from } = parse(process.argv.slice(2));
  if (from) return render(from, svg);
  const t0 = Date.now();
  const results = new Results();
  const m = machine();
  log(`passthroughfs bench: ${m.cpu}, ${m.nproc} CPUs, Linux ${m.kernel}, node ${m.node}${opts.smoke ? ' (smoke)' : ''}`);
  if (process.geteuid?.() !== 0) results.note('not root: mounts go through fusermount3; cold-cache runs are skipped');
  const missing = ptfsMissing();
  if (missing) results.note(`${missing}: its phases are skipped`);
  if (opts.smoke) results.note('smoke run: reference filesystems skipped, sizes tiny; figures are not meaningful');

  const work = mkdtempSync(join(dir, 'ptfs-bench-'));
  const src = join(work, 'src');
  const mnt = join(work, 'mnt');
  mkdirSync(src);
  mkdirSync(mnt);
  const ctx: Ctx = { opts, results, src, mnt };
  // ^C exits from its handler, past the finally below: remove the scratch directory there too, unless something is
  // still mounted in it (rm -r would go through a mount).
  const unhook = onCleanup(() => {
    if (!mountedUnder(work)) rmSync(work, { recursive: true, force: true });
  });
  try {
    for (const [name, fn] of Object.entries(PHASES)) {
      if (!opts.phases.has(name)) continue;
      const p0 = Date.now();
      try {
        await fn(ctx);
      } catch (e) {
        results.error(`${name}: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
      }
      log(`[${name}] took ${((Date.now() - p0) / 1000).toFixed(1)} s`);
    }
  } finally {
    unhook();
    cleanupAll();
    if (isMountPoint(mnt)) results.error(`${mnt} is still mounted; leaving ${work} in place`);
    else rmSync(work, { recursive: true, force: true });
  }

  const table = rows(results, new Map(ALL_TARGETS.map((t) => [t.name, t])));
  const header = headerLine(m, opts);
  process.stdout.write(`\n${header}\n\n${markdownTables(table)}`);
  if (results.notes.length) process.stdout.write(`Notes:\n${results.notes.map((n) => `- ${n}`).join('\n')}\n`);
  mkdirSync(dirname(json), { recursive: true });
  writeFileSync(json, JSON.stringify({ machine: m, options: { ...opts, phases: [...opts.phases] }, notes: results.notes, errors: results.errors, rows: table, series: [...results.series.values()] }, null, 2) + '\n');
  log(`results: ${json}`);
  if (svg && table.length) writeSvg(svg, table, header);
  log(`done in ${((Date.now() - t0) / 1000).toFixed(1)} s${results.errors.length ? `, ${results.errors.length} error(s)` : ''}`);
  return results.errors.length ? 1 : 0;
}

for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(sig, () => {
    cleanupAll();
    process.exit(130);
  });
}
process.on('exit', cleanupAll);

main().then(
  (code) => (process.exitCode = code),
  (e) => {
    log(`bench: ${e instanceof Error ? e.message : String(e)}`);
    cleanupAll();
    process.exitCode = 1;
  },
);
