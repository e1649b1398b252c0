/** Session options and the INIT capability negotiation. */
import { InitFlag } from './abi.js';

/** Capabilities a session may ask the kernel for, by name. */
export const CAPABILITIES = {
  asyncRead: InitFlag.ASYNC_READ,
  posixLocks: InitFlag.POSIX_LOCKS,
  atomicOTrunc: InitFlag.ATOMIC_O_TRUNC,
  exportSupport: InitFlag.EXPORT_SUPPORT,
  bigWrites: InitFlag.BIG_WRITES,
  dontMask: InitFlag.DONT_MASK,
  flockLocks: InitFlag.FLOCK_LOCKS,
  ioctlDir: InitFlag.HAS_IOCTL_DIR,
  autoInvalData: InitFlag.AUTO_INVAL_DATA,
  readdirplus: InitFlag.DO_READDIRPLUS,
  readdirplusAuto: InitFlag.READDIRPLUS_AUTO,
  asyncDio: InitFlag.ASYNC_DIO,
  writebackCache: InitFlag.WRITEBACK_CACHE,
  noOpenSupport: InitFlag.NO_OPEN_SUPPORT,
  parallelDirops: InitFlag.PARALLEL_DIROPS,
  handleKillpriv: InitFlag.HANDLE_KILLPRIV,
  posixAcl: InitFlag.POSIX_ACL,
  abortError: InitFlag.ABORT_ERROR,
  maxPages: InitFlag.MAX_PAGES,
  cacheSymlinks: InitFlag.CACHE_SYMLINKS,
  noOpendirSupport: InitFlag.NO_OPENDIR_SUPPORT,
  explicitInvalData: InitFlag.EXPLICIT_INVAL_DATA,
  submounts: InitFlag.SUBMOUNTS,
  handleKillprivV2: InitFlag.HANDLE_KILLPRIV_V2,
  setxattrExt: InitFlag.SETXATTR_EXT,
  initExt: InitFlag.INIT_EXT,
  securityCtx: InitFlag.SECURITY_CTX,
  createSuppGroup: InitFlag.CREATE_SUPP_GROUP,
  directIoAllowMmap: InitFlag.DIRECT_IO_ALLOW_MMAP,
  passthrough: InitFlag.PASSTHROUGH,
  noExportSupport: InitFlag.NO_EXPORT_SUPPORT,
} as const;

export type Capability = keyof typeof CAPABILITIES;

/** Asked for unless the options say otherwise (and granted only if the kernel offers them). */
export const DEFAULT_CAPABILITIES: readonly Capability[] = [
  'asyncRead', 'atomicOTrunc', 'bigWrites', 'autoInvalData', 'readdirplus', 'readdirplusAuto',
  'asyncDio', 'parallelDirops', 'maxPages', 'cacheSymlinks', 'initExt', 'setxattrExt',
  'posixLocks', 'flockLocks', 'ioctlDir', 'directIoAllowMmap', 'exportSupport',
];

export interface SessionOptions {
  /** Largest WRITE payload, bytes. Default 1 MiB (the kernel caps it at max_pages_limit pages). */
  maxWrite?: number;
  maxReadahead?: number;
  /** Timestamp granularity in ns the filesystem keeps (1 = nanoseconds). */
  timeGran?: number;
  maxBackground?: number;
  congestionThreshold?: number;
  /** Capabilities to turn on (true) or off (false) on top of DEFAULT_CAPABILITIES. */
  capabilities?: Partial<Record<Capability, boolean>>;
  /** Where protocol errors and unexpected filesystem exceptions go. Default: stderr. */
  log?: (level: 'error' | 'warn' | 'info' | 'debug', msg: string) => void;
  /**
   * Serve only these uids (libfuse's allow_root: the mounting user and root);
   * others get EACCES, except for requests continuing an open file.
   */
  onlyUids?: readonly number[];
  /** Emit a debug line per request. */
  debug?: boolean;
}

export const PAGE_SIZE = 4096;
export const DEFAULT_MAX_WRITE = 1 << 20;

/** Capability bits requested, given the options and which methods the filesystem has. */
export function requestedFlags(opts: SessionOptions, has: (m: string) => boolean): bigint {
  const on = new Set<Capability>(DEFAULT_CAPABILITIES);
  if (!has('getlk') && !has('setlk')) { on.delete('posixLocks'); on.delete('flockLocks'); }
  if (!has('readdirplus')) { on.delete('readdirplus'); on.delete('readdirplusAuto'); }
  if (!has('ioctl')) on.delete('ioctlDir');
  if (!has('lookup')) on.delete('exportSupport');
  for (const [name, v] of Object.entries(opts.capabilities ?? {}) as [Capability, boolean][]) {
    if (!(name in CAPABILITIES)) throw new TypeError(`unknown FUSE capability ${name}`);
    if (v) on.add(name); else on.delete(name);
  }
  let flags = 0n;
  for (const c of on) flags |= CAPABILITIES[c];
  return flags;
}

export function capabilityNames(flags: bigint): Capability[] {
  return (Object.keys(CAPABILITIES) as Capability[]).filter((c) => (flags & CAPABILITIES[c]) !== 0n);
}
