/**
 * What a phase runs against: the native directory, passthroughfs in several
 * configurations, and the reference filesystems (libfuse's passthrough_hp,
 * bindfs) when present. A target either is available or says why not.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dist, startDaemon, which, type Daemon } from './util.js';

export type Cache = 'cached' | 'uncached';

export interface Target {
  name: string;
  /** For choosing the reference to compare against: cached vs uncached configurations. */
  cache: Cache;
  /** A reference filesystem (not ours). */
  reference?: boolean;
  /** Why it cannot run here, or undefined if it can. */
  unavailable(): string | undefined;
  /** Mount `src` at `mnt`; null for the native directory (operate on `src` itself). */
  start(src: string, mnt: string): Promise<Daemon | null>;
}

const CLI = dist('src/cli/main.js');
const PT_IMPL = dist('src/passthrough/index.js');
/** The command as users run it (it loads dist/src/cli/main.js). */
const BIN = fileURLToPath(new URL('../../bin/passthroughfs.js', import.meta.url));

export function ptfsMissing(): string | undefined {
  const missing = [CLI, PT_IMPL].filter((p) => !existsSync(p));
  return missing.length ? `passthroughfs daemon not built yet (missing ${missing.map((p) => p.slice(dist('').length)).join(', ')})` : undefined;
}

export const native: Target = {
  name: 'native',
  cache: 'cached',
  unavailable: () => undefined,
  start: async () => null,
};

function ptfs(name: string, cache: Cache, flags: string[]): Target {
  return {
    name,
    cache,
    unavailable: ptfsMissing,
    start: (src, mnt) => startDaemon(process.execPath, [BIN, 'mount', src, mnt, '--foreground', ...flags], mnt),
  };
}

export const ptfsAlways = ptfs('passthroughfs cache=always', 'cached', ['--cache=always']);
export const ptfsNever = ptfs('passthroughfs cache=never', 'uncached', ['--cache=never']);
export const ptfsAuto = ptfs('passthroughfs', 'cached', []);
export const ptfsPassthrough = ptfs('passthroughfs --passthrough', 'cached', ['--passthrough']);
export const ptfsWriteback = ptfs('passthroughfs --writeback', 'cached', ['--writeback']);
/** The configuration closest to passthrough_hp's defaults (one-day timeouts and the writeback cache). */
export const ptfsAlwaysWriteback = ptfs('passthroughfs cache=always --writeback', 'cached', ['--cache=always', '--writeback']);

const bindfsMissing = () => (which('bindfs') ? undefined : 'bindfs not installed (apt-get install bindfs)');

/** bindfs (libfuse 2, single-threaded) with its default 1 s attribute/entry timeouts. */
export const bindfs: Target = {
  name: 'bindfs',
  cache: 'cached',
  reference: true,
  unavailable: bindfsMissing,
  start: (src, mnt) => startDaemon('bindfs', ['-f', src, mnt], mnt),
};

export const bindfsNoCache: Target = {
  name: 'bindfs no-cache',
  cache: 'uncached',
  reference: true,
  unavailable: bindfsMissing,
  start: (src, mnt) => startDaemon('bindfs', ['-f', '-o', 'attr_timeout=0,entry_timeout=0,negative_timeout=0', src, mnt], mnt),
};

const HP = process.env.PASSTHROUGH_HP;
const hpMissing = () =>
  !HP ? 'PASSTHROUGH_HP not set (path to libfuse example/passthrough_hp)' : existsSync(HP) ? undefined : `PASSTHROUGH_HP=${HP} does not exist`;

export const hp: Target = {
  name: 'passthrough_hp',
  cache: 'cached',
  reference: true,
  unavailable: hpMissing,
  start: (src, mnt) => startDaemon(HP!, ['--foreground', src, mnt], mnt),
};

export const hpNoCache: Target = {
  name: 'passthrough_hp --nocache',
  cache: 'uncached',
  reference: true,
  unavailable: hpMissing,
  start: (src, mnt) => startDaemon(HP!, ['--foreground', '--nocache', src, mnt], mnt),
};

/**
 * The reference for a target: passthrough_hp when given, else bindfs, in the
 * same cache configuration; undefined when neither is available.
 */
export function referenceFor(t: Target, available: Target[]): Target | undefined {
  if (t === native || t.reference) return undefined;
  for (const family of [[hp, hpNoCache], [bindfs, bindfsNoCache]]) {
    const same = family.find((r) => r.cache === t.cache && available.includes(r));
    if (same) return same;
    const any = family.find((r) => available.includes(r));
    if (any) return any;
  }
  return undefined;
}

function nullfs(name: string, mode: 'worker' | 'main', threads = 1): Target {
  return {
    name,
    cache: 'uncached',
    unavailable: () => undefined,
    start: (_src, mnt) => startDaemon(process.execPath, [dist('bench/nullserve.js'), mnt, mode, String(threads)], mnt),
  };
}

export const nullWorker = nullfs('nullfs worker thread', 'worker');
export const nullWorker2 = nullfs('nullfs 2 worker threads', 'worker', 2);
export const nullMain = nullfs('nullfs main thread', 'main');

export const ALL_TARGETS: Target[] = [
  native, nullWorker, nullWorker2, nullMain, ptfsAlways, ptfsNever, ptfsAuto, ptfsPassthrough, ptfsWriteback, bindfs, bindfsNoCache, hp, hpNoCache,
];
