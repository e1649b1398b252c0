/**
 * The daemon's RLIMIT_NOFILE. It decides how many descriptors the filesystem
 * may hold (passthrough/fdbudget.ts, read when the filesystem is made), so it
 * is set first: the soft limit is raised to the hard one, or set to what
 * --rlimit-nofile asks. Raising the hard limit needs CAP_SYS_RESOURCE, which
 * the daemon may not have; then a figure above it is refused with the reason.
 */
import { RLIMIT_NOFILE, SysError, errno as E, getrlimit, setrlimit } from '../sys/index.js';
import { MIN_BUDGET, RESERVE } from '../passthrough/fdbudget.js';

/** The least --rlimit-nofile that leaves the filesystem a working budget. */
export const MIN_RLIMIT_NOFILE = RESERVE + MIN_BUDGET;

/** Apply `wanted` (undefined: the hard limit; 0: leave as is); returns the soft limit now in force. */
export function applyNofileLimit(wanted: number | undefined): { soft: number; hard: number } {
  const now = getrlimit(RLIMIT_NOFILE);
  if (wanted === 0) return now;
  const soft = wanted ?? now.hard;
  if (soft === now.soft) return now;
  const hard = Math.max(now.hard, soft);
  try {
    setrlimit(RLIMIT_NOFILE, { soft, hard });
  } catch (e) {
    if (e instanceof SysError && e.errno === E.EPERM) {
      throw new Error(`--rlimit-nofile=${soft}: above the hard limit of ${now.hard}, which only CAP_SYS_RESOURCE can raise`);
    }
    throw e;
  }
  return getrlimit(RLIMIT_NOFILE);
}
