/**
 * The capabilities of the thread that serves a PassthroughFs.
 *
 * A root daemon would otherwise serve every request with all of root's
 * capabilities, and the host kernel would let callers past limits it
 * enforces on processes without them: CAP_SYS_RESOURCE, for one, lets writes
 * ignore quota limits. (The ext4 reserved blocks are another matter: ext4
 * lets its resuid, root, use them by fsuid whatever the capabilities, so
 * writes carry the writer's fsuid: creds.ts asFsuid.) So the serving thread
 * keeps only what passing requests through needs, virtiofsd's set:
 *
 *   CHOWN, DAC_OVERRIDE, FOWNER, FSETID  act on files of any owner as root
 *                                        callers may (the kernel has already
 *                                        checked the caller's own rights)
 *   SETUID, SETGID                       the per-request switch to the
 *                                        caller's fsuid/fsgid/groups (creds.ts)
 *   MKNOD                                device nodes (root callers)
 *   SETFCAP                              security.capability xattrs
 *
 * (virtiofsd adds DAC_READ_SEARCH for file handles, which this daemon does not
 * use.) `--modcaps=+cap:-cap` changes the set as virtiofsd's option does.
 * With --passthrough, SYS_ADMIN stays permitted but not effective: the kernel
 * wants it for FUSE_DEV_IOC_BACKING_OPEN/CLOSE, and the device raises it for
 * those two ioctls only (transport/fusedev/device.ts).
 *
 * What is reduced, and what is not. Capabilities are per thread, and Node
 * starts its threads (V8's platform workers, the signal watchdog; libuv's
 * pool on first use) with the process's, so only the serving thread is
 * changed: its effective, permitted and inheritable sets become the kept set
 * (ambient follows inheritable: empty) and its bounding set is emptied, so
 * nothing it could execute regains more. The syscalls made for requests run
 * on that thread, and the kernel checks them against its capabilities (with
 * setfsuid(caller), the filesystem ones leave even the kept set for the
 * request); the exceptions, fsync, syncfs, waiting locks and poll, run on the
 * pool and are subject to no capability check. The other threads keep the
 * process's capabilities: the pool runs the unmount a signal starts, which
 * needs SYS_ADMIN. /proc/PID/status shows the main thread, which serves. This
 * narrows what requests can make the kernel do; it is no sandbox against code
 * running inside the daemon.
 *
 * Without SYS_ADMIN the host refuses trusted.* xattrs (reading and writing)
 * and writing security.* xattrs other than security.capability, as with
 * virtiofsd; `--modcaps=+sys_admin` brings them back.
 */
import {
  CAP, callAsync, capBit, capFromName, capLastCap, capMask, capName, capbset, capbsetDrop, capget, capset, capsIn,
  formatCaps, geteuid, libc,
} from '../sys/index.js';
import type { LogLevel } from '../fuse/log.js';
import type { FileHandleMode } from './mounts.js';

/** What the serving thread keeps by default (virtiofsd's set; DAC_READ_SEARCH joins it for file handles, see capPolicy). */
export const DEFAULT_CAPS: readonly number[] = [
  CAP.CHOWN, CAP.DAC_OVERRIDE, CAP.FOWNER, CAP.FSETID, CAP.SETGID, CAP.SETUID, CAP.MKNOD, CAP.SETFCAP,
];

/** A bad --modcaps value or combination (the CLI makes it a usage error). */
export class CapPolicyError extends Error {}

export interface CapChange {
  cap: number;
  add: boolean;
}

/**
 * `+name:-name…` (':' or ',' between entries, as virtiofsd's ':' and the
 * issue's ','). Names are case-insensitive, with or without the cap_ prefix.
 * Empty entries, a missing sign and unknown names are errors.
 */
export function parseModcaps(text: string): CapChange[] {
  const out: CapChange[] = [];
  for (const entry of text.split(/[:,]/)) {
    if (entry === '') throw new CapPolicyError(`--modcaps: empty entry in "${text}" (expected +name or -name, separated by ':' or ',')`);
    const sign = entry[0];
    if (sign !== '+' && sign !== '-') throw new CapPolicyError(`--modcaps: "${entry}" must start with + (keep) or - (drop)`);
    const cap = capFromName(entry.slice(1));
    if (cap === undefined) throw new CapPolicyError(`--modcaps: unknown capability "${entry.slice(1)}"`);
    out.push({ cap, add: sign === '+' });
  }
  return out;
}

/** What the serving thread is to keep, before looking at what the process has. */
export interface CapPolicy {
  /** Kept in the effective and permitted sets. */
  keep: bigint;
  /** Kept permitted but not effective (raised around one kind of call). */
  permittedOnly: bigint;
  /** Named with '+': an error if the process does not have them. */
  required: bigint;
  passthroughIo: boolean;
  /**
   * Inode file handles can work: CAP_DAC_READ_SEARCH (which open_by_handle_at
   * needs) is kept, as virtiofsd keeps it for them. False when handles are off
   * or the operator dropped it (the CLI then turns `prefer` into `never`).
   */
  fileHandles: boolean;
}

/**
 * The default set changed by `changes` in order (a later entry wins), for a
 * daemon with or without --passthrough. Refuses what would break the daemon
 * silently rather than loudly.
 */
export function capPolicy(changes: readonly CapChange[], opts: { passthroughIo: boolean; fileHandles?: FileHandleMode }): CapPolicy {
  let keep = capMask(DEFAULT_CAPS);
  let required = 0n;
  let dropped = 0n;
  for (const { cap, add } of changes) {
    const b = capBit(cap);
    if (add) {
      keep |= b;
      required |= b;
      dropped &= ~b;
    } else {
      keep &= ~b;
      required &= ~b;
      dropped |= b;
    }
  }
  // Without them setfsuid/setfsgid fail without an error and files would be created as root.
  for (const cap of [CAP.SETUID, CAP.SETGID]) {
    if ((dropped & capBit(cap)) !== 0n) {
      throw new CapPolicyError(`--modcaps: ${capName(cap)} cannot be dropped: the daemon needs it to create files as the calling user`);
    }
  }
  const handles = opts.fileHandles ?? 'never';
  const search = capBit(CAP.DAC_READ_SEARCH);
  let fileHandles = false;
  if (handles !== 'never') {
    if ((dropped & search) !== 0n) {
      if (handles === 'mandatory') {
        throw new CapPolicyError('--inode-file-handles=mandatory needs CAP_DAC_READ_SEARCH (open_by_handle_at requires it): drop -dac_read_search from --modcaps, or use --inode-file-handles=prefer|never');
      }
    } else {
      keep |= search;
      fileHandles = true;
    }
  }
  let permittedOnly = 0n;
  const admin = capBit(CAP.SYS_ADMIN);
  if (opts.passthroughIo && (keep & admin) === 0n) {
    if ((dropped & admin) !== 0n) {
      throw new CapPolicyError('--passthrough needs CAP_SYS_ADMIN (the kernel requires it to register backing files): drop -sys_admin from --modcaps, or --passthrough');
    }
    permittedOnly = admin;
  }
  return { keep, permittedOnly, required, passthroughIo: opts.passthroughIo, fileHandles };
}

export type Log = (level: LogLevel, msg: string) => void;

/** The serving thread's sets once restricted. */
export interface ServingCaps {
  effective: bigint;
  permitted: bigint;
  bounding: bigint;
}

/**
 * Checks that the process has every capability named with '+'; call it
 * before mounting so that a refusal leaves nothing behind. A process that
 * lacks one (a non-root daemon has none) cannot gain it.
 */
export function checkCapPolicy(p: CapPolicy): void {
  const missing = p.required & ~capget().permitted;
  if (missing !== 0n) {
    const who = geteuid() === 0 ? 'root here' : `uid ${geteuid()}`;
    const names = capsIn(missing).map(capName);
    throw new Error(`--modcaps: cannot keep ${names.join(', ')}: the daemon (${who}) does not have ${names.length > 1 ? 'them' : 'it'}`);
  }
}

const gettid_ = libc.func('int gettid(void)');

/**
 * Restrict the calling thread (the one that will serve) to the policy, and
 * log the result once. libuv creates its pool threads on first use, from the
 * thread that first uses it, with that thread's capabilities: the pool is
 * started first so that it keeps what it needs to unmount.
 */
export async function restrictServingThread(p: CapPolicy, log: Log): Promise<ServingCaps> {
  await callAsync(gettid_ as unknown as { async: (...a: unknown[]) => void }, 'gettid', [], false);
  const before = capget();
  const keep = (p.keep | p.permittedOnly) & before.permitted;
  const effective = p.keep & before.permitted;
  // Emptying the bounding set needs CAP_SETPCAP, which root has and other users do not;
  // for them it only limits what an exec could gain, and this thread does not exec.
  if ((before.effective & capBit(CAP.SETPCAP)) !== 0n) {
    const last = capLastCap();
    for (let c = 0; c <= last; c++) capbsetDrop(c);
  }
  capset({ effective, permitted: keep, inheritable: 0n });
  const after = capget();
  const result: ServingCaps = { effective: after.effective, permitted: after.permitted, bounding: capbset() };
  if (result.effective !== effective || result.permitted !== keep) {
    throw new Error(`capset: the serving thread has ${formatCaps(after.permitted)}, not ${formatCaps(keep)}`);
  }

  if (before.permitted === 0n) {
    log('info', `capabilities: none (uid ${geteuid()}); --modcaps has nothing to drop`);
  } else {
    const parts = [`capabilities of the serving thread: ${formatCaps(effective)}`];
    if ((keep & ~effective) !== 0n) {
      parts.push(`${formatCaps(keep & ~effective)} permitted but not effective, raised only to register passthrough backing files (--passthrough)`);
    }
    parts.push(`bounding set ${result.bounding === 0n ? 'empty' : formatCaps(result.bounding)}`);
    const notHeld = (p.keep | p.permittedOnly) & ~before.permitted;
    if (notHeld !== 0n) parts.push(`not held, so not kept: ${formatCaps(notHeld)}`);
    parts.push('other threads (unmount, fsync, waiting locks) keep the process\'s');
    log('info', parts.join('; '));
  }
  if (p.passthroughIo && (keep & capBit(CAP.SYS_ADMIN)) === 0n) {
    log('warn', '--passthrough: the daemon does not have CAP_SYS_ADMIN, so the kernel refuses backing files and file data goes through the daemon');
  }
  return result;
}

