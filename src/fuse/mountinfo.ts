/**
 * /proc/self/mountinfo, parsed: which mounts exist in this mount namespace,
 * where, of which type and on which device. The one place that reads it, so
 * the CLI's checks (is it mounted, is it ours) and the daemon's (which device
 * is our own mount) agree on the format and its escapes.
 */
import { readFileSync } from 'node:fs';

export interface MountEntry {
  mountId: number;
  parentId: number;
  /** st_dev of files on this mount. */
  major: number;
  minor: number;
  /** Path inside the mounted filesystem that is its root here. */
  root: string;
  /** Where it is mounted (unescaped). */
  mountPoint: string;
  /** Filesystem type, e.g. "ext4" or "fuse.passthroughfs". */
  fsType: string;
  /** The mount source ("fsname" for FUSE), unescaped. */
  source: string;
  superOptions: string;
}

/** mountinfo escapes space, tab, newline and backslash as \ooo. */
export function unescapeMountinfo(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/** Parse mountinfo text (one mount per line; optional fields end at "-"). */
export function parseMountinfo(text: string): MountEntry[] {
  const out: MountEntry[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    const f = line.split(' ');
    const sep = f.indexOf('-', 6);
    if (f.length < 7 || sep < 0 || f.length < sep + 3) continue;
    const [maj, min] = f[2]!.split(':');
    out.push({
      mountId: Number(f[0]),
      parentId: Number(f[1]),
      major: Number(maj),
      minor: Number(min),
      root: unescapeMountinfo(f[3]!),
      mountPoint: unescapeMountinfo(f[4]!),
      fsType: f[sep + 1]!,
      source: unescapeMountinfo(f[sep + 2]!),
      superOptions: f[sep + 3] ?? '',
    });
  }
  return out;
}

export function readMountinfo(): MountEntry[] {
  return parseMountinfo(readFileSync('/proc/self/mountinfo', 'utf8'));
}

/**
 * The mount visible at `path` (an absolute, canonical path): the last one
 * listed there, since later mounts stack on earlier ones.
 */
export function mountAt(path: string, mounts: MountEntry[] = readMountinfo()): MountEntry | undefined {
  let found: MountEntry | undefined;
  for (const m of mounts) if (m.mountPoint === path) found = m;
  return found;
}
