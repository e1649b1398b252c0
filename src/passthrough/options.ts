/** Options of the passthrough filesystem and what each cache policy means. */
import { FOPEN } from '../fuse/abi.js';
import type { FileHandleMode } from './mounts.js';

export type CachePolicy = 'never' | 'metadata' | 'auto' | 'always';
export const CACHE_POLICIES: readonly CachePolicy[] = ['never', 'metadata', 'auto', 'always'];

export interface PassthroughOptions {
  /** The shared directory (absolute path). */
  source: string;
  cache: CachePolicy;
  /** Seconds; default from the cache policy (never 0, auto 1, metadata/always 86400). */
  entryTimeout?: number;
  attrTimeout?: number;
  /** Seconds a missing name may be cached; default: the entry timeout. 0 disables negative entries. */
  negativeTimeout?: number;
  /** Writeback caching was asked for (effective only if the kernel grants it). */
  writeback: boolean;
  readdirplus: boolean;
  /** Honour O_DIRECT from the client (otherwise it is dropped). */
  allowDirectIo: boolean;
  /** Serve extended attributes (otherwise the xattr operations answer ENOSYS). */
  xattr: boolean;
  /** Use the kernel's FUSE passthrough data path when it is available. */
  passthroughIo: boolean;
  readOnly: boolean;
  /**
   * Users other than the daemon's own may use the mount (-o allow_other). Then
   * the kernel checks permissions (default_permissions, POSIX ACLs) before
   * anything reaches us; otherwise every caller has the daemon's identity and
   * the host's own checks are the native ones.
   */
  allowOther: boolean;
  /** Serve FUSE_STATX (birth times), at one round trip per stat from callers asking for btime. */
  statx: boolean;
  /**
   * Inodes held by file handle (no fd each) where the host allows it
   * (mounts.ts): never, prefer (fall back to an fd per inode), or mandatory
   * (refuse to start, or an inode, where it cannot).
   */
  inodeFileHandles: FileHandleMode;
  /**
   * Ask the kernel for FUSE_SUBMOUNTS and mark directories on another mount
   * than their parent with FUSE_ATTR_SUBMOUNT, so each nested mount gets its
   * own st_dev. Only virtio-fs connections are offered it; inode numbers are
   * made unique across nested filesystems either way (inomap.ts).
   */
  announceSubmounts: boolean;
}

export function defaultOptions(source: string): PassthroughOptions {
  return {
    source, cache: 'auto', writeback: false, readdirplus: true, allowDirectIo: false, xattr: false,
    passthroughIo: false, readOnly: false, allowOther: false, statx: false, inodeFileHandles: 'prefer',
    announceSubmounts: true,
  };
}

export interface Timeouts {
  entry: number;
  attr: number;
  negative: number;
}

export function timeouts(o: PassthroughOptions): Timeouts {
  const base = o.cache === 'never' ? 0 : o.cache === 'auto' ? 1 : 86400;
  const entry = o.entryTimeout ?? base;
  return { entry, attr: o.attrTimeout ?? base, negative: o.negativeTimeout ?? entry };
}

/** FOPEN_* flags for open, opendir and create under a cache policy. */
export function openFlagsFor(cache: CachePolicy, kind: 'file' | 'dir'): number {
  switch (cache) {
    case 'never': return kind === 'file' ? FOPEN.DIRECT_IO : 0;
    case 'metadata': return kind === 'file' ? FOPEN.DIRECT_IO : FOPEN.CACHE_DIR | FOPEN.KEEP_CACHE;
    case 'auto': return 0;
    case 'always': return kind === 'file' ? FOPEN.KEEP_CACHE : FOPEN.KEEP_CACHE | FOPEN.CACHE_DIR;
  }
}
