/**
 * A small ext4 filesystem on a loop device, for tests that need what tmpfs or the test machine's own disk may not
 * offer or must not be filled: reserved blocks (-m), chattr +a; or a filesystem to mount inside another. Everything is
 * undone in reverse order: unmount, detach the loop device, remove the temp dirs.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { makeTempDir, removeTempDir } from './helpers.js';

function run(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: exit ${r.status}: ${r.stderr}`);
  return r.stdout.trim();
}

export interface Ext4Options {
  sizeMiB: number;
  /** Percentage of blocks reserved for root (mkfs.ext4 -m), default 5. */
  reservedPercent?: number;
}

/**
 * Make an empty ext4 image (in a temp dir of its own) and loop-mount it on the existing directory `at` (root dir
 * 0755). Returns what undoes it all, in reverse order: unmount (lazily if busy), detach the loop device, remove the
 * image. A failure half-way undoes what was done and throws.
 */
export function mountExt4(o: Ext4Options, at: string): () => void {
  const base = makeTempDir('ptfs-ext4-img-');
  let device: string | undefined;
  let mounted = false;
  const undo = () => {
    try {
      if (mounted && spawnSync('umount', [at]).status !== 0) spawnSync('umount', ['-l', at]);
    } finally {
      try {
        if (device) spawnSync('losetup', ['-d', device]);
      } finally {
        removeTempDir(base);
      }
    }
  };
  try {
    const img = join(base, 'image');
    fs.writeFileSync(img, '');
    fs.truncateSync(img, o.sizeMiB * 2 ** 20);
    run('mkfs.ext4', ['-q', '-F', '-b', '4096', '-m', String(o.reservedPercent ?? 5), img]);
    device = run('losetup', ['--find', '--show', img]);
    run('mount', ['-t', 'ext4', device, at]);
    mounted = true;
    fs.chmodSync(at, 0o755);
    return undo;
  } catch (e) {
    undo();
    throw e;
  }
}

/** Make, loop-mount and hand over an empty ext4 (root dir 0755); `fn` gets its mountpoint. */
export async function withExt4<T>(o: Ext4Options, fn: (dir: string) => Promise<T>): Promise<T> {
  const base = makeTempDir('ptfs-ext4-');
  const dir = join(base, 'fs');
  let undo: (() => void) | undefined;
  try {
    fs.chmodSync(base, 0o755);
    fs.mkdirSync(dir);
    undo = mountExt4(o, dir);
    return await fn(dir);
  } finally {
    try {
      undo?.();
    } finally {
      removeTempDir(base);
    }
  }
}
