/** passthroughfs: a FUSE server library and a passthrough filesystem for Linux. */
export type { FileSystem, ConnectionInfo, FileSystemMethod, SessionServices, DeviceNumber, BackingFiles } from './fs/filesystem.js';
export type { Context } from './fs/context.js';
export * from './fs/types.js';
export { FsError } from './fs/errors.js';
export { SysError, errno, errnoName } from './sys/errno.js';
export { FuseSession, type MountConfig } from './fuse/session.js';
export type { MountOptions } from './fuse/mount.js';
export { mountFuse, unmountFuse, isMountPoint } from './fuse/mount.js';
export { CAPABILITIES, DEFAULT_CAPABILITIES, type Capability, type SessionOptions } from './fuse/options.js';
export { Notifier } from './fuse/notify.js';
export { Server, type TransportServices } from './fuse/server.js';
export type { ReplySink, RequestHandler } from './fuse/sink.js';
export { FuseDevLoop, type Channel } from './transport/fusedev/loop.js';
export { FuseDevice } from './transport/fusedev/device.js';
export { serveInWorkers, type WorkerSpec, type ServingThreads } from './fuse/worker.js';
export {
  PassthroughFs, createPassthroughFs, sessionOptionsFor, defaultOptions, type PassthroughOptions, type CachePolicy,
} from './passthrough/index.js';
export { serve as serveVhostUser, type ServeOptions as VhostUserServeOptions } from './transport/vhost-user/index.js';
