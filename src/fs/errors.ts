import { errno as errnoTable, errnoName } from '../sys/errno.js';

/**
 * An error a filesystem method throws to answer with an errno. Any thrown
 * object with a numeric `errno` or a string `code` (SysError, Node's fs errors)
 * works as well; anything else is answered with EIO and logged.
 */
export class FsError extends Error {
  readonly errno: number;
  readonly code: string;
  constructor(code: string | number, message?: string) {
    const num = typeof code === 'number' ? code : errnoTable[code];
    if (num === undefined) throw new TypeError(`unknown errno ${code}`);
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    super(message ?? errnoName(num));
    Error.stackTraceLimit = limit;
    this.errno = num;
    this.code = errnoName(num);
  }
}
FsError.prototype.name = 'FsError';
