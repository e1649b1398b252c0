import type { Context } from '../fs/context.js';
import type { InHeader, Request, RequestExt } from './request.js';

/** Context of one request; the abort signal is created only if someone asks for it. */
export class RequestContext implements Context {
  readonly unique: bigint;
  readonly uid: number;
  readonly gid: number;
  readonly pid: number;
  readonly umask: number;
  readonly suppGroup?: number;
  readonly secctx?: { name: string; value: Buffer };
  private ac: AbortController | undefined;
  private aborted = false;

  constructor(h: InHeader, ext: RequestExt, r: Request) {
    this.unique = h.unique;
    this.uid = h.uid;
    this.gid = h.gid;
    this.pid = h.pid;
    this.umask = 'umask' in r ? r.umask : 0;
    if (ext.suppGroup !== undefined) this.suppGroup = ext.suppGroup;
    if (ext.secctx !== undefined) this.secctx = ext.secctx;
  }

  get signal(): AbortSignal {
    this.ac ??= new AbortController();
    if (this.aborted && !this.ac.signal.aborted) this.ac.abort();
    return this.ac.signal;
  }

  /** FUSE_INTERRUPT arrived for this request. */
  abort(): void {
    this.aborted = true;
    this.ac?.abort();
  }
}
