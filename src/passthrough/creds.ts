/**
 * Acting as the caller. Objects a client creates must belong to it, so the
 * creating syscall runs with the caller's fsuid/fsgid (and the supplementary
 * group the kernel sent) on this thread. setfsuid/setfsgid and the raw
 * setgroups syscall are per-thread; a switch costs three or four syscalls
 * and is skipped when the caller is the daemon's own user.
 *
 * Writes to an open file run as whoever opened it (the handle keeps that
 * identity): the kernel may send them without the writer's credentials
 * (writeback), and the host's space checks (ext4's reserved blocks, whose
 * owner is uid 0 by default) must see the user, not the daemon.
 */
import type { Context } from '../fs/context.js';
import { geteuid, getegid, getgroups, setfsgid, setfsuid, setgroups } from '../sys/index.js';

/** Whom to act as: a request's caller, or the opener of a handle. */
export type Identity = Pick<Context, 'uid' | 'gid' | 'suppGroup'>;

export class Credentials {
  private readonly uid = geteuid();
  private readonly gid = getegid();
  private readonly groups = getgroups();
  /** Only root can switch; an unprivileged daemon creates everything as itself. */
  readonly canSwitch = this.uid === 0;

  /** Whether acting as `id` takes a switch (false for the daemon's own identity, or when it cannot switch). */
  differs(id: Identity): boolean {
    return this.canSwitch && !(id.uid === this.uid && id.gid === this.gid && id.suppGroup === undefined);
  }

  /** `id` to keep for later (on a handle), or undefined when acting as it needs no switch. */
  keep(id: Identity): Identity | undefined {
    if (!this.differs(id)) return undefined;
    return id.suppGroup === undefined ? { uid: id.uid, gid: id.gid } : { uid: id.uid, gid: id.gid, suppGroup: id.suppGroup };
  }

  run<T>(ctx: Identity, fn: () => T): T {
    if (!this.differs(ctx)) return fn();
    const supp = ctx.suppGroup;
    // The daemon's own groups must not leak into the caller's rights. Each
    // credential change costs ~2 µs, so the groups are left alone when they
    // are the caller's already (a daemon with no supplementary groups).
    const groups = supp !== undefined ? [supp] : [];
    const swapGroups = !sameGroups(groups, this.groups);
    if (swapGroups) setgroups(groups);
    setfsgid(ctx.gid);
    setfsuid(ctx.uid);
    try {
      return fn();
    } finally {
      setfsuid(this.uid);
      setfsgid(this.gid);
      if (swapGroups) setgroups(this.groups);
    }
  }
}

function sameGroups(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((g, i) => g === b[i]);
}
