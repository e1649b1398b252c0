/**
 * virtio-fs phase: one workload in a QEMU guest (test/vm/guest.ts) on a share
 * served by passthroughfs-virtiofsd and by the Rust virtiofsd, the reference,
 * alternating per repeat, each run with a fresh backend and a fresh boot.
 *
 * The guest times itself (date +%s%N around each pass, fio's own figures), so
 * the boot and the harness are not counted. Here QEMU runs under TCG (software
 * emulation): the guest is ten and more times slower than the host and the figures
 * say little on their own; what counts is the ratio of the two backends
 * measured alike in the same run.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { passthroughfsBackend, rustVirtiofsd, type BackendSpec } from '../test/vm/backends.js';
import { vmUnavailable, withGuest, type GuestResult } from '../test/vm/guest.js';
import type { Ctx } from './results.js';
import { forceUnmount, isRoot, log, median, onCleanup, track, trackMount } from './util.js';

const PHASE = 'virtiofs';

interface VmTarget {
  name: string;
  reference: boolean;
  spec: BackendSpec;
}

// The same caching policy on both sides (virtiofsd's default is auto too, but say it). Every other option is each
// daemon's default, as users get them; docs/benchmarks.md lists where those differ.
const OURS: VmTarget = { name: 'passthroughfs-virtiofsd', reference: false, spec: passthroughfsBackend(['--cache=auto']) };
// backends.ts runs it with --sandbox=none (it runs as root on a scratch dir) and --cache=auto.
const RUST: VmTarget = { name: 'virtiofsd (Rust)', reference: true, spec: rustVirtiofsd };

/** What the guest prints for each timed pass ("@@VFS key count ns baseline-ns"), and how the tables name it. */
const META_OPS: Record<string, string> = {
  create: 'create+write 4K',
  stat: 'stat (cold)',
  find: 'readdir+stat (find -printf)',
  cat: 'open+read+close (cat)',
  rename: 'rename (mv)',
  unlink: 'unlink (rm)',
};
const FIO_OPS: Record<string, { op: string; dir: 'read' | 'write' }> = {
  write: { op: '1M seq write', dir: 'write' },
  read: { op: '1M seq read', dir: 'read' },
};

/**
 * The guest's workload, in the host's /bin/sh (dash) chrooted into the host's root, done VFS_ROUNDS times in one
 * boot (the host takes the median of the rounds: a single pass of half a second is at the mercy of the host).
 *
 * The metadata passes run over N files in one directory of the share, each pass as one process or a loop of shell
 * builtins, so what is timed is the filesystem and not a fork per file (which under TCG costs milliseconds). Starting
 * a tool is not free either: under TCG `date` to `date` is 50-90 ms and `xargs stat` on one file 150-250 ms, as long
 * as half a 2 000-file stat pass. So each pass comes with its baseline, the same command line on one guest-local file
 * (or an empty directory), and the host counts the pass's time less the fastest baseline (start-up only ever comes
 * out slower than it is: the first run after a drop, a busy host).
 *
 * Before each pass but the create, the guest drops its dentries and inodes (echo 2 > drop_caches): every name then
 * costs a LOOKUP on both backends whatever their timeouts.
 *
 * Data: fio (the host's, through the guest's view of the host root), 1 MiB sequential writes of a new file (fsync'ed
 * at the end), then reads of it after dropping the guest's page cache, timed by fio itself.
 */
const SCRIPT = String.raw`
set -eu
N=$VFS_FILES
D=$SHARE/meta
R=$SHARE/renamed
# Scratch in the guest: its /tmp is the host's, seen through the overlay, where any name may exist already.
B=$(mktemp -d)
mkdir "$B/to" "$B/empty"
seq -f 'f%.0f' 0 $((N - 1)) > "$B/names"
blk=$(head -c 4096 /dev/zero | tr '\0' x)
printf %s "$blk" > "$B/one"
# The baselines' one-name list: the same command lines as the passes, forks included.
echo "$B/one" > "$B/one.list"
now() { date +%s%N; }
# pass KEY BASELINE COMMAND [RESET]: prints KEY, N, the command's time and the faster of two baseline runs (ns),
# RESET (untimed) after each baseline run.
pass() {
  base=
  for _ in 1 2; do
    b0=$(now); eval "$2"; b1=$(now)
    if [ $# -ge 4 ]; then eval "$4"; fi
    if [ -z "$base" ] || [ $((b1 - b0)) -lt "$base" ]; then base=$((b1 - b0)); fi
  done
  t0=$(now); eval "$3"; t1=$(now)
  echo "@@VFS $1 $N $((t1 - t0)) $base"
}
# The baseline runs that follow a drop also bring the tools' binaries (on the guest's 9p root) back into the page
# cache, and give the FORGETs the drop sends time to drain, before the pass's clock starts.
cold() {
  sync
  echo 2 > /proc/sys/vm/drop_caches
}
count() { [ "$(find "$1" -type f | wc -l)" = "$2" ] || { echo "expected $2 files in $1, found $(find "$1" -type f | wc -l)"; exit 1; }; }
create() { i=0; while [ "$i" -lt "$N" ]; do printf %s "$blk" > "f$i"; i=$((i + 1)); done; }
fio_job() {
  fio --name="$1" --filename="$F" --rw="$1" --bs=1M --size="$VFS_FIO_SIZE" --ioengine=psync --fallocate=none \
    "$2" --output-format=json --output="$B/fio.json" > "$B/fio.out" 2>&1 || { cat "$B/fio.out"; exit 1; }
  echo "@@VFS-FIO $1 $(tr -d '\n' < "$B/fio.json")"
}
F=$SHARE/fio.dat
fio=$(command -v fio || true)
[ -n "$fio" ] || echo "@@VFS-NOFIO"

round=0
while [ "$round" -lt "$VFS_ROUNDS" ]; do
  round=$((round + 1))
  mkdir "$D" "$R"
  cd "$D"
  pass create : create
  count "$D" "$N"
  cold; pass stat 'xargs stat -c %s < "$B/one.list" > /dev/null' 'xargs stat -c %s < "$B/names" > /dev/null'
  cold; pass find 'find "$B/empty" -printf "%s\n" > /dev/null' 'find . -printf "%s\n" > /dev/null'
  cold; pass cat 'xargs cat < "$B/one.list" > /dev/null' 'xargs cat < "$B/names" > /dev/null'
  [ "$(xargs cat < "$B/names" | wc -c)" = $((N * 4096)) ] || { echo "cat: wrong byte count"; exit 1; }
  cold; pass rename 'xargs mv -t "$B/to" < "$B/one.list"' 'xargs mv -t "$R" < "$B/names"' 'printf %s "$blk" > "$B/one"'
  count "$R" "$N"
  count "$D" 0
  cd "$R"
  cold; pass unlink 'xargs rm < "$B/one.list"' 'xargs rm < "$B/names"' 'printf %s "$blk" > "$B/one"'
  count "$R" 0
  cd /
  rmdir "$D" "$R"
  if [ -n "$fio" ]; then
    fio_job write --end_fsync=1
    sync
    echo 3 > /proc/sys/vm/drop_caches
    # fio's invalidate too; and with cache=auto the guest drops its cached pages of the file at each open anyway.
    fio_job read --invalidate=1
    rm "$F"
  fi
done
`;

export async function virtiofs(ctx: Ctx): Promise<void> {
  const { opts, results } = ctx;
  const why = vmUnavailable();
  if (why) {
    results.note(`${PHASE}: skipped: ${why}`);
    return;
  }
  const usable: VmTarget[] = [];
  for (const t of [OURS, RUST]) {
    // As in every phase, --smoke runs no reference.
    if (opts.smoke && t.reference) continue;
    const u = t.spec.unavailable();
    if (u) results.note(`${PHASE}: skipped ${t.name}: ${u}`);
    else usable.push(t);
  }
  if (!usable.length) return;
  if (usable.includes(RUST)) results.setReference(PHASE, OURS.name, RUST.name);

  // The phase's own scratch dir (under the run's), holding the shared directories and withGuest's temp dirs. When
  // root, the shares live on a tmpfs, as in the metadata phase: ext4 makes creates slow after many deletes.
  const base = mkdtempSync(join(dirname(ctx.src), 'virtiofs-'));
  const shares = join(base, 'shares');
  mkdirSync(shares);
  let tmpfs = false;
  // ^C (run.ts: cleanupAll, then exit) skips the finally below: the hook removes what this phase made.
  const unhook = onCleanup(() => {
    if (tmpfs) forceUnmount(shares);
    rmSync(base, { recursive: true, force: true });
  });
  try {
    if (isRoot()) {
      const m = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=2g,mode=0755', 'tmpfs', shares], { encoding: 'utf8' });
      if (m.status !== 0) throw new Error(`mount tmpfs: ${m.stderr.trim()}`);
      tmpfs = true;
      trackMount(shares);
    } else {
      results.note(`${PHASE}: shared directory on disk (mounting a tmpfs needs root)`);
    }
    const failed = new Set<VmTarget>();
    let accel: string | undefined;
    let runs = 0;
    for (let rep = 0; rep < opts.repeat; rep++) {
      for (const t of usable) {
        if (failed.has(t)) continue;
        log(`[${PHASE}] ${t.name} (run ${rep + 1}/${opts.repeat})`);
        const dir = join(shares, `run${runs++}`);
        mkdirSync(dir);
        try {
          const r = await guestRun(ctx, t, dir, base);
          accel ??= r.accel;
          record(ctx, t, r);
        } catch (e) {
          failed.add(t);
          results.error(`${PHASE}: ${t.name}: ${e instanceof Error ? e.message : String(e)}`);
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
      }
    }
    if (accel) {
      results.note(`${PHASE}: guests under ${accel === 'tcg' ? 'TCG (software emulation, no KVM): absolute figures mean little, compare the backends (vs reference)' : accel.toUpperCase()}; 1 vCPU, 512 MiB, one request queue, cache=auto on both backends`);
    }
  } finally {
    if (tmpfs) forceUnmount(shares);
    rmSync(base, { recursive: true, force: true });
    unhook();
  }
}

async function guestRun(ctx: Ctx, t: VmTarget, dir: string, tmpDir: string): Promise<GuestResult> {
  const { opts } = ctx;
  // Generous (TCG: a round's six passes take ~5 ms a file, 1 MiB of fio ~10-20 ms), so that only a hang ends a run.
  const timeoutMs = 120_000 + opts.virtiofsRounds * (30_000 + opts.virtiofsFiles * 25 + (opts.virtiofsFioSize / 2 ** 20) * 100);
  const r = await withGuest({
    backend: t.spec.backend(dir),
    timeoutMs,
    tmpDir,
    // Tracked, so that cleanupAll() on ^C kills QEMU and the backend by pid.
    onSpawn: (c) => void track(c),
    env: { VFS_FILES: String(opts.virtiofsFiles), VFS_FIO_SIZE: String(opts.virtiofsFioSize), VFS_ROUNDS: String(opts.virtiofsRounds) },
  }, SCRIPT);
  if (r.code !== 0) throw new Error(`the guest script exited ${r.code}:\n${tail(r.output)}\nbackend output:\n${tail(r.backendOutput)}`);
  const left = readdirSync(dir);
  if (left.length) throw new Error(`the share is not empty after the run: ${left.slice(0, 5).join(', ')}`);
  return r;
}

/**
 * One sample per figure from a run: the median of its rounds, the metadata passes less the fastest baseline. All or
 * nothing: a run that reports half its figures adds none.
 */
function record(ctx: Ctx, t: VmTarget, r: GuestResult): void {
  const { opts, results } = ctx;
  const passes = new Map<string, { n: number; ns: number[]; base: number[] }>();
  const fio = new Map<string, number[]>();
  let noFio = false;
  for (const line of r.output.split('\n')) {
    let m = /^@@VFS (\w+) (\d+) (\d+) (\d+)$/.exec(line);
    if (m) {
      if (!META_OPS[m[1]!]) throw new Error(`unexpected line from the guest: ${line}`);
      let p = passes.get(m[1]!);
      if (!p) passes.set(m[1]!, (p = { n: Number(m[2]), ns: [], base: [] }));
      p.ns.push(Number(m[3]));
      p.base.push(Number(m[4]));
      continue;
    }
    m = /^@@VFS-FIO (\w+) (.*)$/.exec(line);
    if (m) {
      const job = FIO_OPS[m[1]!];
      if (!job) throw new Error(`unexpected line from the guest: ${line.slice(0, 200)}`);
      const json = JSON.parse(m[2]!) as { jobs: Record<string, { bw_bytes: number }>[] };
      fio.set(job.op, [...(fio.get(job.op) ?? []), json.jobs[0]![job.dir]!.bw_bytes / 2 ** 20]);
      continue;
    }
    if (line === '@@VFS-NOFIO') noFio = true;
  }
  const rounds = opts.virtiofsRounds;
  const short = [...Object.keys(META_OPS).filter((k) => passes.get(k)?.ns.length !== rounds),
    ...(noFio ? [] : Object.values(FIO_OPS).filter((j) => fio.get(j.op)?.length !== rounds).map((j) => j.op))];
  if (short.length) throw new Error(`the guest did not report ${rounds} round(s) of ${short.join(', ')}:\n${tail(r.output)}`);
  if (noFio) results.note(`${PHASE}: no fio in the guest (it runs the host's: apt-get install fio): data passes skipped`);

  const figures: { op: string; unit: string; value: number }[] = [];
  const shown: string[] = [];
  for (const [key, p] of passes) {
    const op = META_OPS[key]!;
    const ns = median(p.ns);
    const base = Math.min(...p.base);
    shown.push(`${key} ${(base / 1e6).toFixed(0)}/${(ns / 1e6).toFixed(0)}`);
    // With few files (--smoke) a pass may take hardly longer than starting its tools: its figure would be noise.
    if (ns - base < ns / 10) results.note(`${PHASE}: ${op}: ${p.n} files take hardly longer than the tools' start-up in this guest; figure left out (more --virtiofs-files)`);
    else figures.push({ op, unit: 'ops/s', value: (p.n * 1e9) / (ns - base) });
  }
  for (const [op, v] of fio) figures.push({ op, unit: 'MiB/s', value: median(v) });
  for (const f of figures) results.add(PHASE, f.op, t.name, f.unit, 'higher', f.value);
  log(`[${PHASE}] ${t.name}: boot ${(r.bootMs / 1000).toFixed(1)} s, script ${(r.scriptMs / 1000).toFixed(1)} s; baseline/pass ms (median of ${rounds}): ${shown.join(', ')}`);
}

const tail = (s: string, lines = 30) => s.trimEnd().split('\n').slice(-lines).join('\n');
