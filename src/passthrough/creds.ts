/**
 * Acting as the caller. Objects a client creates must belong to it, so the
 * creating syscall runs with the caller's fsuid/fsgid (and the supplementary
 * group the kernel sent) on this thread. setfsuid/setfsgid and the raw
 * setgroups syscall are per-thread; a switch costs three or four syscalls
 * and is skipped when the caller is the daemon's own user.
 */
import type { Context } from '../fs/context.js';
import { geteuid, getegid, getgroups, setfsgid, setfsuid, setgroups } from '../sys/index.js';

export class Credentials {
  private readonly uid = geteuid();
  private readonly gid = getegid();
  private readonly groups = getgroups();
  /** Only root can switch; an unprivileged daemon creates everything as itself. */
  readonly canSwitch = this.uid === 0;

  /**
   * Run `fn` with only the filesystem uid switched to `uid`, for calls on an
   * open file that allocate space: the host's permission checks were made at
   * open, but its space accounting looks at the fsuid (ext4 lets its resuid,
   * root by default, use the reserved blocks), so a user's writes must not
   * carry root's. No group switch: nothing here checks groups (an ext4 resgid
   * other than root aside).
   */
  asFsuid<T>(uid: number, fn: () => T): T {
    if (!this.canSwitch || uid === this.uid) return fn();
    setfsuid(uid);
    try {
      return fn();
    } finally {
      setfsuid(this.uid);
    }
  }

  run<T>(ctx: Context, fn: () => T): T {
    if (!this.canSwitch || (ctx.uid === this.uid && ctx.gid === this.gid && ctx.suppGroup === undefined)) return fn();
    const supp = ctx.suppGroup;
    // The daemon's own groups must not leak into the caller's rights.
    setgroups(supp !== undefined ? [supp] : []);
    setfsgid(ctx.gid);
    setfsuid(ctx.uid);
    try {
      return fn();
    } finally {
      setfsuid(this.uid);
      setfsgid(this.gid);
      setgroups(this.groups);
    }
  }
}
