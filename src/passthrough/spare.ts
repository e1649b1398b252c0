/**
 * A spare file descriptor for the open that follows a creation.
 *
 * mkdir, mknod, symlink and create make the host object first and then open
 * it (the inode's O_PATH fd). If that open failed for want of a descriptor
 * (EMFILE, ENFILE), the client would be told the operation failed while the
 * object stays on the host. So a creating operation first holds a spare (or
 * fails then, while nothing exists yet), and the open after it gives the
 * spare up and tries once more if the table is full. The spare is its own
 * open file, so giving it up frees a slot in the system's file table too.
 *
 * One spare per serving thread (each has its own PassthroughFs). Another
 * thread, or another process for ENFILE, may still take the freed slot
 * first: callers undo what they created when even the retry fails.
 */
import { AT_FDCWD, O_CLOEXEC, O_DIRECTORY, O_PATH, SysError, close, errno as E, openat } from '../sys/index.js';

export function isFdShortage(e: unknown): boolean {
  return e instanceof SysError && (e.errno === E.EMFILE || e.errno === E.ENFILE);
}

export class SpareFd {
  private fd = -1;

  /** Before creating: hold a spare, or fail now (EMFILE/ENFILE), while nothing exists yet. Free when held. */
  hold(): void {
    if (this.fd < 0) this.fd = openat(AT_FDCWD, '/', O_PATH | O_DIRECTORY | O_CLOEXEC);
  }

  /** `open()`, and if the fd table is full, again without the spare. */
  open(open: () => number): number {
    try {
      return open();
    } catch (e) {
      if (this.fd < 0 || !isFdShortage(e)) throw e;
    }
    this.release();
    return open();
  }

  release(): void {
    if (this.fd < 0) return;
    close(this.fd);
    this.fd = -1;
  }
}
