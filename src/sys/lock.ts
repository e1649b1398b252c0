/**
 * fcntl(2) and flock(2). The waiting forms (F_SETLKW, F_OFD_SETLKW, flock
 * without LOCK_NB) can block indefinitely, so they have async variants that run
 * on libuv's thread pool through koffi's `.async`. Each waiting call occupies a
 * pool thread (UV_THREADPOOL_SIZE, default 4) until it is granted, and cannot be
 * cancelled from JS; a signal restarts it (EINTR is retried).
 */
import { libc, lastErrno } from './libc.js';
import { SysError } from './errno.js';
import { encodeFlock, decodeFlock, SIZEOF_FLOCK, type Flock } from './structs.js';

// fcntl is variadic in C; declaring the third argument's type is ABI-compatible
// on x86_64 and arm64 Linux (the argument travels in the same register).
const fcntlInt_ = libc.func('fcntl', 'int', ['int', 'int', 'intptr_t']);
const fcntlPtr_ = libc.func('fcntl', 'int', ['int', 'int', 'void *']);
const flock_ = libc.func('int flock(int fd, int op)');

const EINTR = 4;
const flockBuf = Buffer.alloc(SIZEOF_FLOCK);

/** fcntl with an integer (or no) argument: F_GETFL, F_SETFL, F_GETFD, F_SETFD, F_DUPFD_CLOEXEC, F_SETPIPE_SZ… */
export function fcntl(fd: number, cmd: number, arg = 0): number {
  const r = fcntlInt_(fd, cmd, arg) as number;
  if (r < 0) throw new SysError(lastErrno(), 'fcntl');
  return r;
}

/** fcntl with a raw pointer argument (caller-encoded struct). */
export function fcntlPtr(fd: number, cmd: number, arg: Uint8Array | null): number {
  const r = fcntlPtr_(fd, cmd, arg) as number;
  if (r < 0) throw new SysError(lastErrno(), 'fcntl');
  return r;
}

/**
 * Record locks: F_GETLK/F_SETLK/F_SETLKW or F_OFD_GETLK/F_OFD_SETLK/F_OFD_SETLKW
 * (OFD locks need pid 0). Returns the struct as the kernel left it: for the
 * GETLK forms the conflicting lock, or type F_UNLCK if there is none. A
 * conflicting non-waiting SETLK throws EAGAIN (or EACCES).
 */
export function fcntlLock(fd: number, cmd: number, lock: Flock): Flock {
  encodeFlock(lock, flockBuf);
  if ((fcntlPtr_(fd, cmd, flockBuf) as number) < 0) throw new SysError(lastErrno(), 'fcntl');
  return decodeFlock(flockBuf);
}

export function flock(fd: number, op: number): void {
  if ((flock_(fd, op) as number) < 0) throw new SysError(lastErrno(), 'flock');
}

type AsyncFn = { async: (...args: unknown[]) => void };

/** Runs a koffi function on the thread pool; errno is read in the callback (koffi restores the worker's errno there). */
export function callAsync(fn: AsyncFn, name: string, args: unknown[], retryEintr = true): Promise<number> {
  return new Promise((resolve, reject) => {
    const run = (): void => {
      fn.async(...args, (err: unknown, r: number) => {
        if (err) return reject(err);
        if (r >= 0) return resolve(r);
        const e = lastErrno();
        if (e === EINTR && retryEintr) return run();
        reject(new SysError(e, name));
      });
    };
    run();
  });
}

/** Waiting record lock (F_SETLKW or F_OFD_SETLKW) off the main thread. */
export function fcntlLockAsync(fd: number, cmd: number, lock: Flock): Promise<void> {
  const b = encodeFlock(lock); // own buffer: the call outlives this tick
  return callAsync(fcntlPtr_ as unknown as AsyncFn, 'fcntl', [fd, cmd, b]).then(() => undefined);
}

/** flock off the main thread (for LOCK_SH/LOCK_EX without LOCK_NB). */
export function flockAsync(fd: number, op: number): Promise<void> {
  return callAsync(flock_ as unknown as AsyncFn, 'flock', [fd, op]).then(() => undefined);
}
