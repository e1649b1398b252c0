/**
 * vhost-user transport for virtio-fs, in three layers as rust-vmm has them:
 * the socket protocol (message.ts, connection.ts), the ring and memory
 * plumbing with the back-end state machine (memory.ts, virtqueue.ts,
 * backend.ts, event-loop.ts), and the device (fs-device.ts). serve.ts puts
 * them together behind serve().
 */
export { serve, serveConnection, type ServeOptions } from './serve.js';
export { VirtioFsDevice, DEFAULT_MAX_REQUEST_SIZE, type FsDeviceOptions } from './fs-device.js';
export { VhostUserBackend, RING_FEATURES, PROTOCOL_FEATURES, rateLimited, type VirtioDevice, type BackendOptions } from './backend.js';
export { runLoop, type LoopOptions } from './event-loop.js';
export { Connection, type Message } from './connection.js';
export { GuestMemory, MemoryRegion } from './memory.js';
export { Virtqueue, type DescriptorChain, type Segment } from './virtqueue.js';
export * as message from './message.js';
