/** The libc layer: constants, struct codecs, and checked wrappers around each call. */
export * from './errno.js';
export { libc, lastErrno, koffi } from './libc.js';
export * from './constants.js';
export * from './structs.js';
export * from './util.js';
export * from './dirent.js';
export * from './file.js';
export * from './xattr.js';
export * from './lock.js';
export * from './cred.js';
export * from './mount.js';
export * from './io.js';
export * from './caps.js';
export * from './mem.js';
export * from './socket.js';
export * from './rlimit.js';
