import { constants } from 'node:os';

/** errno number → symbolic name (ENOENT…), from Node's table for this platform. */
const names: string[] = [];
for (const [name, num] of Object.entries(constants.errno)) {
  if (names[num] === undefined) names[num] = name;
}
export const errno = constants.errno as Readonly<Record<string, number>>;

export function errnoName(num: number): string {
  return names[num] ?? `E${num}`;
}

/** A failed system call. `errno` is the positive errno number, `code` its name. */
export interface SysError extends Error {
  readonly errno: number;
  readonly code: string;
  readonly syscall: string;
}

interface SysErrorConstructor {
  new (errnoNum: number, syscall: string): SysError;
  readonly prototype: SysError;
}

/*
 * These are thrown on hot paths (ENOENT on lookup), where constructing a real
 * Error costs ~0.8 µs even with stack capture off, more than the syscall. So a
 * SysError is a plain object whose prototype chain includes Error.prototype
 * (instanceof Error holds, inspect/toString print it as an error) with
 * `message` and `stack` computed on demand: ~0.05 µs to create. There is no
 * stack trace; `stack` is just "SysError: <syscall>: <code>".
 */
function SysErrorImpl(this: { errno: number; code: string; syscall: string }, errnoNum: number, syscall: string): void {
  if (new.target === undefined) throw new TypeError("Class constructor SysError cannot be invoked without 'new'");
  this.errno = errnoNum;
  this.code = errnoName(errnoNum);
  this.syscall = syscall;
}

function ownValue(obj: object, key: string, value: unknown): void {
  Object.defineProperty(obj, key, { value, writable: true, configurable: true, enumerable: false });
}

SysErrorImpl.prototype = Object.create(Error.prototype, {
  constructor: { value: SysErrorImpl, writable: true, configurable: true },
  name: { value: 'SysError', writable: true, configurable: true },
  message: {
    get(this: SysError): string {
      return `${this.syscall}: ${this.code}`;
    },
    set(this: SysError, v: unknown) {
      ownValue(this, 'message', v);
    },
    configurable: true,
  },
  stack: {
    get(this: SysError): string {
      return `${this.name}: ${this.message}`;
    },
    set(this: SysError, v: unknown) {
      ownValue(this, 'stack', v);
    },
    configurable: true,
  },
});
Object.defineProperty(SysErrorImpl, 'name', { value: 'SysError' });

export const SysError = SysErrorImpl as unknown as SysErrorConstructor;

/** Extract a positive errno from anything thrown: SysError, Node fs errors, FsError. */
export function toErrno(e: unknown): number {
  if (e !== null && typeof e === 'object') {
    const n = (e as { errno?: unknown }).errno;
    if (typeof n === 'number' && n !== 0) return Math.abs(n);
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && errno[code] !== undefined) return errno[code]!;
  }
  return errno.EIO!;
}
