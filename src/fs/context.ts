/** Who is asking: the credentials the kernel attached to a request. */
export interface Context {
  /** Request id, unique among requests in flight. */
  readonly unique: bigint;
  readonly uid: number;
  readonly gid: number;
  /**
   * The calling thread's id (its own pid, not the thread group's, as the kernel
   * sends it, in the mounter's pid namespace); 0 when the request has no caller
   * there (e.g. writeback, or a caller in another pid namespace).
   */
  readonly pid: number;
  /** Umask of the creating process (create, mkdir, mknod, tmpfile); 0 otherwise. */
  readonly umask: number;
  /** Supplementary group the kernel sent with CREATE_SUPP_GROUP, if any. */
  readonly suppGroup?: number;
  /** Security context (e.g. SELinux label) sent with SECURITY_CTX for new objects. */
  readonly secctx?: { name: string; value: Buffer };
  /** Aborted when the kernel interrupts the request (FUSE_INTERRUPT). */
  readonly signal?: AbortSignal;
}
