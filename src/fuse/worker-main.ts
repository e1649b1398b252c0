/** Entry point of a serving worker thread (see worker.ts). */
import { parentPort, workerData } from 'node:worker_threads';
import { pathToFileURL } from 'node:url';
import type { ConnectionInfo, DeviceNumber, FileSystem } from '../fs/filesystem.js';
import { FuseDevice } from '../transport/fusedev/device.js';
import { stderrLog, type LogLevel } from './log.js';
import type { SessionOptions } from './options.js';
import { Server } from './server.js';
import { FuseDevLoop } from '../transport/fusedev/loop.js';
import type { WorkerSpec } from './worker.js';


const { spec, fd, mountDevice, opts, conn } = workerData as {
  spec: WorkerSpec;
  fd: number;
  mountDevice?: DeviceNumber;
  opts: SessionOptions & { logLevel?: LogLevel };
  conn?: ConnectionInfo;
};
const log = stderrLog(opts.logLevel ?? 'warn');
const url = /^[a-z]+:/.test(spec.module) ? spec.module : pathToFileURL(spec.module).href;
const mod = (await import(url)) as Record<string, (args: unknown) => FileSystem | Promise<FileSystem>>;
const factory = mod[spec.export];
if (typeof factory !== 'function') throw new Error(`${spec.module} has no export ${spec.export}`);
const fs = await factory(spec.args);
const dev = new FuseDevice(fd, mountDevice);
const server = new Server(fs, dev, { ...opts, log, debug: opts.logLevel === 'debug' });
if (conn) await server.adopt(conn);
else server.onInit = (c) => parentPort?.postMessage({ type: 'init', conn: c });
parentPort?.postMessage({ type: 'ready' });
await new FuseDevLoop(server, dev, log).run(true);
