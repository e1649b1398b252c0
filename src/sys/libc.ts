/**
 * The libc handle and the raw koffi declarations. Everything here is a direct
 * synchronous call on the calling thread (~0.1–0.4 µs of overhead); wrappers
 * that check results and throw SysError live in calls.ts.
 */
import koffi from 'koffi';

export const libc = koffi.load('libc.so.6');

/** errno of the last call made through koffi on this thread. */
export const lastErrno: () => number = koffi.errno as () => number;

export { koffi };
