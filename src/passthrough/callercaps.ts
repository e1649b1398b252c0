/**
 * Judging a caller's privilege where the host would judge it by capability.
 *
 * The kernel lists trusted.* attribute names only to a caller that is
 * capable(CAP_SYS_ADMIN), i.e. holds it in its effective set in the initial
 * user namespace. A request brings uid, gid and pid, not capabilities, so the
 * caller's are read from /proc/<pid>/status (CapEff) — uid 0 alone would show
 * the names to a root without CAP_SYS_ADMIN (a container, a capsh-dropped
 * shell) and hide them from a capable non-root. The rules:
 *  - pid 0 (a caller the daemon's pid namespace cannot name) is unprivileged;
 *  - the caller must be in the daemon's user namespace (same uid_map), since
 *    capabilities in a user namespace of its own count for nothing here;
 *  - its fsuid/fsgid must be the request's, a check that the process read is
 *    the caller. pid reuse cannot fool it either: the caller sleeps in its
 *    syscall until we answer, and if it is killed, the answer goes nowhere;
 *  - anything unreadable (hidepid, the process gone) is unprivileged.
 * Reads happen only when a list holds such a name, which is rare.
 */
import { readFileSync } from 'node:fs';
import type { Context } from '../fs/context.js';

let ownUidMap: string | undefined;

function read(path: string): string | undefined {
  try {
    return readFileSync(path, 'latin1');
  } catch {
    return undefined;
  }
}

/** Does the process that sent `ctx` hold capability `cap` (effective, in our user namespace)? */
export function callerHasCapability(ctx: Context, cap: number): boolean {
  if (ctx.pid <= 0) return false;
  const status = read(`/proc/${ctx.pid}/status`);
  const uidMap = read(`/proc/${ctx.pid}/uid_map`);
  ownUidMap ??= read('/proc/self/uid_map');
  if (status === undefined || uidMap === undefined || uidMap !== ownUidMap) return false;
  // "Uid:\treal\teffective\tsaved\tfs", the same for Gid.
  const uid = /\nUid:\t\d+\t\d+\t\d+\t(\d+)\n/.exec(status);
  const gid = /\nGid:\t\d+\t\d+\t\d+\t(\d+)\n/.exec(status);
  const eff = /\nCapEff:\t([0-9a-f]+)\n/.exec(status);
  if (!uid || !gid || !eff || Number(uid[1]) !== ctx.uid || Number(gid[1]) !== ctx.gid) return false;
  return ((BigInt(`0x${eff[1]}`) >> BigInt(cap)) & 1n) === 1n;
}
