/** Collected figures, the repeat driver shared by the phases, and the summary rows. */
import { isMountPoint } from '../src/fuse/mount.js';
import type { ScaleMode } from './scale.js';
import { native, referenceFor, ptfsPassthrough, type Target } from './targets.js';
import { log, median, setAffinity, type Daemon } from './util.js';

export type Better = 'higher' | 'lower';

export interface Series {
  phase: string;
  op: string;
  target: string;
  unit: string;
  better: Better;
  samples: number[];
}

export interface Options {
  smoke: boolean;
  repeat: number;
  files: number;
  treeFiles: number;
  /** Round-trip measurement window per client configuration, ms. */
  durationMs: number;
  fioSize: number;
  fioRuntime: number;
  cold: boolean;
  /** Metadata, data and developer phases: daemon and client on CPU 0 (no cross-CPU wake-ups). */
  pin: boolean;
  /** Metadata phase on the scratch disk instead of a tmpfs. */
  metaDisk: boolean;
  /** Scale phase: files in the tree walked, files created through the mount per mode. */
  scaleFiles: number;
  scaleCreates: number;
  /** Scale phase: the inodeFileHandles modes to run, in order. */
  scaleModes: ScaleMode[];
  /** Scale phase: the server's soft RLIMIT_NOFILE, if lowered. */
  scaleNofile?: number;
  /** virtiofs phase: files in the guest's metadata passes, the size of its fio file (bytes), rounds per boot. */
  virtiofsFiles: number;
  virtiofsFioSize: number;
  virtiofsRounds: number;
  phases: Set<string>;
}

export interface Ctx {
  opts: Options;
  results: Results;
  /** The directory every mount mirrors; native runs operate on it directly. */
  src: string;
  mnt: string;
}

export class Results {
  readonly series = new Map<string, Series>();
  readonly notes: string[] = [];
  readonly errors: string[] = [];
  /** Targets that ran per phase (for choosing references). */
  readonly ran = new Map<string, Target[]>();
  /** Per phase and target, a reference set by the phase itself (one that is no mount Target, like virtiofsd). */
  readonly references = new Map<string, string>();

  add(phase: string, op: string, target: string, unit: string, better: Better, value: number): void {
    const key = `${phase}\0${op}\0${target}`;
    let s = this.series.get(key);
    if (!s) this.series.set(key, (s = { phase, op, target, unit, better, samples: [] }));
    s.samples.push(value);
  }

  note(msg: string): void {
    if (!this.notes.includes(msg)) {
      this.notes.push(msg);
      log(`note: ${msg}`);
    }
  }

  error(msg: string): void {
    this.errors.push(msg);
    log(`ERROR: ${msg}`);
  }

  get(phase: string, op: string, target: string): Series | undefined {
    return this.series.get(`${phase}\0${op}\0${target}`);
  }

  /** Compare `target`'s figures in `phase` with `reference`'s (instead of the mount targets' rule, referenceFor). */
  setReference(phase: string, target: string, reference: string): void {
    this.references.set(`${phase}\0${target}`, reference);
  }
}

/**
 * Run `body` against each target, alternating targets within each repeat
 * (native, A, B, native, A, B, …) so that slow drifts of a noisy machine hit
 * all of them alike. Each target is mounted afresh per repeat.
 */
export async function alternate(
  ctx: Ctx,
  phase: string,
  targets: Target[],
  body: (path: string, target: Target, daemon: Daemon | null, rep: number) => Promise<void>,
): Promise<void> {
  const usable: Target[] = [];
  for (const t of targets) {
    if (ctx.opts.smoke && t.reference) continue;
    const why = t.unavailable();
    if (why) ctx.results.note(`${phase}: skipped ${t.name}: ${why}`);
    else usable.push(t);
  }
  ctx.results.ran.set(phase, usable);
  const failed = new Set<Target>();
  for (let rep = 0; rep < ctx.opts.repeat; rep++) {
    for (const t of usable) {
      if (failed.has(t)) continue;
      log(`[${phase}] ${t.name} (run ${rep + 1}/${ctx.opts.repeat})`);
      let d: Daemon | null = null;
      try {
        d = await t.start(ctx.src, ctx.mnt);
      } catch (e) {
        failed.add(t);
        // Passthrough needs kernel support (6.9+) and root; its absence is a fact to note, not a failure.
        if (t === ptfsPassthrough) ctx.results.note(`${phase}: ${t.name} did not mount: ${firstLine(e)}`);
        else ctx.results.error(`${phase}: ${t.name} did not mount: ${String(e)}`);
        continue;
      }
      try {
        if (d && ctx.opts.pin) setAffinity(d.pid, '0');
        await body(d ? ctx.mnt : ctx.src, t, d, rep);
      } catch (e) {
        failed.add(t);
        ctx.results.error(`${phase}: ${t.name}: ${e instanceof Error ? e.message : String(e)}${d ? `\ndaemon output:\n${d.output().trim()}` : ''}`);
      } finally {
        await d?.stop();
        if (isMountPoint(ctx.mnt)) ctx.results.error(`${phase}: ${ctx.mnt} still mounted after stopping ${t.name}`);
      }
    }
  }
}

function firstLine(e: unknown): string {
  const m = e instanceof Error ? e.message : String(e);
  const lines = m.split('\n').map((l) => l.trim()).filter(Boolean);
  return lines.slice(-1)[0] ?? m;
}

export interface Row {
  phase: string;
  op: string;
  target: string;
  unit: string;
  better: Better;
  median: number;
  n: number;
  /** Spread: (max - min) / median of the samples. */
  spread: number;
  /** Speed relative to native (>1 faster); undefined when there is no native figure. */
  vsNative?: number;
  reference?: string;
  /** Speed relative to the reference filesystem. */
  vsRef?: number;
}

/** Relative speed of a against b: >1 means a is better, whatever the unit. */
export function speedup(a: number, b: number, better: Better): number {
  return better === 'higher' ? a / b : b / a;
}

export function rows(results: Results, targetsByName: Map<string, Target>): Row[] {
  const out: Row[] = [];
  for (const s of results.series.values()) {
    const m = median(s.samples);
    const row: Row = {
      phase: s.phase, op: s.op, target: s.target, unit: s.unit, better: s.better, median: m, n: s.samples.length,
      spread: m ? (Math.max(...s.samples) - Math.min(...s.samples)) / m : 0,
    };
    const nat = results.get(s.phase, s.op, native.name);
    if (nat && s.target !== native.name) row.vsNative = speedup(m, median(nat.samples), s.better);
    const t = targetsByName.get(s.target);
    const refName = results.references.get(`${s.phase}\0${s.target}`) ?? (t && referenceFor(t, results.ran.get(s.phase) ?? []))?.name;
    const rs = refName && results.get(s.phase, s.op, refName);
    if (refName && rs) {
      row.reference = refName;
      row.vsRef = speedup(m, median(rs.samples), s.better);
    }
    out.push(row);
  }
  const order = (p: string) => {
    const i = PHASE_ORDER.indexOf(p);
    return i < 0 ? PHASE_ORDER.length : i;
  };
  return out.sort((a, b) => order(a.phase) - order(b.phase)); // stable: keeps run order within a phase
}

const PHASE_ORDER = ['round trips', 'daemon', 'metadata', 'data (fio)', 'developer workload', 'virtiofs', 'scale'];
