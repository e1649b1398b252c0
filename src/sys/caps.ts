/**
 * Capabilities of the calling thread: capget(2)/capset(2) with
 * _LINUX_CAPABILITY_VERSION_3 (64-bit sets), the bounding set through
 * prctl(2), and capability names.
 *
 * Capabilities are per thread. glibc's capget/capset are plain syscall stubs
 * (no setxid-style broadcast to the other threads, unlike setuid), and
 * PR_CAPBSET_DROP changes the calling thread's bounding set only: everything
 * here acts on the calling thread and nothing else.
 *
 * A set is a bigint mask: bit n is capability n.
 */
import { readFileSync } from 'node:fs';
import { libc, lastErrno } from './libc.js';
import { SysError } from './errno.js';
import { prctl } from './cred.js';
import { PR_CAPBSET_DROP, PR_CAPBSET_READ } from './constants.js';

const capget_ = libc.func('int capget(void *hdr, void *data)');
const capset_ = libc.func('int capset(void *hdr, void *data)');

const LINUX_CAPABILITY_VERSION_3 = 0x20080522;

/** Capability numbers (linux/capability.h), by name without the CAP_ prefix. */
export const CAP = {
  CHOWN: 0, DAC_OVERRIDE: 1, DAC_READ_SEARCH: 2, FOWNER: 3, FSETID: 4, KILL: 5, SETGID: 6, SETUID: 7, SETPCAP: 8,
  LINUX_IMMUTABLE: 9, NET_BIND_SERVICE: 10, NET_BROADCAST: 11, NET_ADMIN: 12, NET_RAW: 13, IPC_LOCK: 14, IPC_OWNER: 15,
  SYS_MODULE: 16, SYS_RAWIO: 17, SYS_CHROOT: 18, SYS_PTRACE: 19, SYS_PACCT: 20, SYS_ADMIN: 21, SYS_BOOT: 22, SYS_NICE: 23,
  SYS_RESOURCE: 24, SYS_TIME: 25, SYS_TTY_CONFIG: 26, MKNOD: 27, LEASE: 28, AUDIT_WRITE: 29, AUDIT_CONTROL: 30, SETFCAP: 31,
  MAC_OVERRIDE: 32, MAC_ADMIN: 33, SYSLOG: 34, WAKE_ALARM: 35, BLOCK_SUSPEND: 36, AUDIT_READ: 37, PERFMON: 38, BPF: 39,
  CHECKPOINT_RESTORE: 40,
} as const;

/** Capability names by number, lower case without the cap_ prefix. */
export const CAP_NAMES: readonly string[] = Object.keys(CAP).map((n) => n.toLowerCase());

/** A capability number from its name: case-insensitive, with or without the cap_ prefix. */
export function capFromName(name: string): number | undefined {
  let n = name.toLowerCase();
  if (n.startsWith('cap_')) n = n.slice(4);
  const i = CAP_NAMES.indexOf(n);
  return i < 0 ? undefined : i;
}

/** "CAP_CHOWN"; numbers past the table (a newer kernel) as "CAP_41". */
export function capName(cap: number): string {
  return `CAP_${(CAP_NAMES[cap] ?? String(cap)).toUpperCase()}`;
}

/** The highest capability number this kernel knows (/proc/sys/kernel/cap_last_cap). */
export function capLastCap(): number {
  try {
    const n = Number(readFileSync('/proc/sys/kernel/cap_last_cap', 'utf8').trim());
    if (Number.isInteger(n) && n >= 0 && n < 64) return n;
  } catch {
    // No /proc: fall back to the names this module knows.
  }
  return CAP_NAMES.length - 1;
}

export function capBit(cap: number): bigint {
  return 1n << BigInt(cap);
}

export function capMask(caps: Iterable<number>): bigint {
  let m = 0n;
  for (const c of caps) m |= capBit(c);
  return m;
}

/** Capability numbers in a mask, ascending. */
export function capsIn(mask: bigint): number[] {
  const out: number[] = [];
  for (let c = 0; mask >> BigInt(c) !== 0n; c++) if ((mask & capBit(c)) !== 0n) out.push(c);
  return out;
}

/** "chown,dac_override,…" (or "none"), the form /proc and capsh users read. */
export function formatCaps(mask: bigint): string {
  const names = capsIn(mask).map((c) => capName(c).slice(4).toLowerCase());
  return names.length ? names.join(',') : 'none';
}

export interface CapSets {
  effective: bigint;
  permitted: bigint;
  inheritable: bigint;
}

const header = Buffer.alloc(8);
const data = Buffer.alloc(24);

function setHeader(): void {
  header.writeUInt32LE(LINUX_CAPABILITY_VERSION_3, 0);
  header.writeInt32LE(0, 4); // pid 0: the calling thread
}

/** The calling thread's effective, permitted and inheritable sets. */
export function capget(): CapSets {
  setHeader();
  if ((capget_(header, data) as number) < 0) throw new SysError(lastErrno(), 'capget');
  // Two struct __user_cap_data_struct { u32 effective, permitted, inheritable }: bits 0–31, then 32–63.
  const at = (i: number) => BigInt(data.readUInt32LE(i)) | (BigInt(data.readUInt32LE(12 + i)) << 32n);
  return { effective: at(0), permitted: at(4), inheritable: at(8) };
}

/**
 * Sets the calling thread's three sets. The kernel allows only lowering the
 * permitted set, an effective set within the permitted one, and an
 * inheritable set within permitted ∪ old inheritable (without CAP_SETPCAP);
 * anything else is EPERM. The ambient set shrinks to permitted ∩ inheritable.
 */
export function capset(s: CapSets): void {
  setHeader();
  const lo = (v: bigint) => Number(v & 0xffffffffn);
  const hi = (v: bigint) => Number((v >> 32n) & 0xffffffffn);
  data.writeUInt32LE(lo(s.effective), 0);
  data.writeUInt32LE(lo(s.permitted), 4);
  data.writeUInt32LE(lo(s.inheritable), 8);
  data.writeUInt32LE(hi(s.effective), 12);
  data.writeUInt32LE(hi(s.permitted), 16);
  data.writeUInt32LE(hi(s.inheritable), 20);
  if ((capset_(header, data) as number) < 0) throw new SysError(lastErrno(), 'capset');
}

/** Whether `cap` is in the calling thread's bounding set (EINVAL: not a capability of this kernel). */
export function capbsetRead(cap: number): boolean {
  return prctl(PR_CAPBSET_READ, cap) === 1;
}

/** Removes `cap` from the calling thread's bounding set (needs CAP_SETPCAP). */
export function capbsetDrop(cap: number): void {
  prctl(PR_CAPBSET_DROP, cap);
}

/** The calling thread's bounding set. */
export function capbset(last = capLastCap()): bigint {
  let m = 0n;
  for (let c = 0; c <= last; c++) if (capbsetRead(c)) m |= capBit(c);
  return m;
}

/**
 * Run `fn` with `cap` in the calling thread's effective set, raised from the
 * permitted set for the call and lowered again after (a thread that keeps a
 * capability permitted but not effective, for one kind of call). When it is
 * already effective, or not permitted (the call then fails as it would), `fn`
 * runs as is. `fn` must not change the thread's capabilities itself (setfsuid
 * does): the sets found before it are put back after it.
 */
export function withEffectiveCap<T>(cap: number, fn: () => T): T {
  const bit = capBit(cap);
  const s = capget();
  if ((s.effective & bit) !== 0n || (s.permitted & bit) === 0n) return fn();
  capset({ ...s, effective: s.effective | bit });
  try {
    return fn();
  } finally {
    capset(s);
  }
}
