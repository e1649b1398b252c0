/** Resource limits of the process (getrlimit/setrlimit; struct rlimit is two u64 on x86-64). */
import { libc, lastErrno } from './libc.js';
import { SysError } from './errno.js';

export const RLIMIT_NOFILE = 7;
/** rlim_t's "no limit". */
export const RLIM_INFINITY = 0xffffffffffffffffn;

const getrlimit_ = libc.func('int getrlimit(int resource, void *rlim)');
const setrlimit_ = libc.func('int setrlimit(int resource, void *rlim)');
const buf = Buffer.alloc(16);

export interface Rlimit {
  soft: number;
  hard: number;
}

/** Limits above 2^53 (in practice only RLIM_INFINITY) read as Infinity. */
function num(v: bigint): number {
  return v >= 2n ** 53n ? Infinity : Number(v);
}

export function getrlimit(resource: number): Rlimit {
  if ((getrlimit_(resource, buf) as number) < 0) throw new SysError(lastErrno(), 'getrlimit');
  return { soft: num(buf.readBigUInt64LE(0)), hard: num(buf.readBigUInt64LE(8)) };
}

export function setrlimit(resource: number, l: Rlimit): void {
  const big = (n: number) => (n === Infinity ? RLIM_INFINITY : BigInt(n));
  buf.writeBigUInt64LE(big(l.soft), 0);
  buf.writeBigUInt64LE(big(l.hard), 8);
  if ((setrlimit_(resource, buf) as number) < 0) throw new SysError(lastErrno(), 'setrlimit');
}
