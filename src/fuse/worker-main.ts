/** Entry point of a serving worker thread (see worker.ts). */
import { parentPort, workerData } from 'node:worker_threads';
import { pathToFileURL } from 'node:url';
import type { ConnectionInfo, FileSystem } from '../fs/filesystem.js';
import { FuseDevice } from '../transport/fusedev.js';
import type { SessionOptions } from './options.js';
import { Server } from './server.js';
import type { WorkerSpec } from './worker.js';

type Level = 'error' | 'warn' | 'info' | 'debug';
const RANK: Record<Level, number> = { error: 0, warn: 1, info: 2, debug: 3 };

const { spec, fd, opts, conn } = workerData as {
  spec: WorkerSpec;
  fd: number;
  opts: SessionOptions & { logLevel?: Level };
  conn?: ConnectionInfo;
};
const max = RANK[opts.logLevel ?? 'warn'];
const log = (level: Level, msg: string) => {
  if (RANK[level] <= max) process.stderr.write(`passthroughfs: ${level}: ${msg}\n`);
};
const url = /^[a-z]+:/.test(spec.module) ? spec.module : pathToFileURL(spec.module).href;
const mod = (await import(url)) as Record<string, (args: unknown) => FileSystem | Promise<FileSystem>>;
const factory = mod[spec.export];
if (typeof factory !== 'function') throw new Error(`${spec.module} has no export ${spec.export}`);
const fs = await factory(spec.args);
const dev = new FuseDevice(fd);
const server = new Server(fs, dev, { ...opts, log, debug: max >= RANK.debug });
if (conn) await server.adopt(conn);
else server.onInit = (c) => parentPort?.postMessage({ type: 'init', conn: c });
parentPort?.postMessage({ type: 'ready' });
await server.run(true);
