/** The passthrough filesystem: what the CLI and library users mount. */
import type { SessionOptions } from '../fuse/options.js';
import { PassthroughFs } from './passthrough.js';
import type { PassthroughOptions } from './options.js';

export { PassthroughFs } from './passthrough.js';
export * from './options.js';

/** Factory used by the serving worker thread (functions cannot cross threads; options can). */
export function createPassthroughFs(opts: PassthroughOptions): PassthroughFs {
  return new PassthroughFs(opts);
}

/** The FUSE session options that go with a passthrough configuration. */
export function sessionOptionsFor(o: PassthroughOptions): SessionOptions {
  return {
    capabilities: {
      writebackCache: o.writeback,
      // cache=never means nothing is cached, attributes from readdirplus included.
      readdirplus: o.readdirplus && o.cache !== 'never',
      readdirplusAuto: o.readdirplus && o.cache !== 'never',
      passthrough: o.passthroughIo,
      // POSIX record locks are handled by the kernel (exact semantics for every
      // process using the mount); flock locks are taken on the host files.
      posixLocks: false,
      flockLocks: true,
      // Lookups of "." and ".." would let a client walk above a directory moved out of the tree.
      exportSupport: false,
      createSuppGroup: true,
      // With other users, the kernel checks POSIX ACLs (fetched from us; this
      // implies default_permissions). The umask is left to the host, which
      // ignores it under a default ACL, as natively.
      posixAcl: o.allowOther,
      dontMask: true,
      // Granted only on virtio-fs; see PassthroughOptions.announceSubmounts.
      submounts: o.announceSubmounts,
    },
  };
}
