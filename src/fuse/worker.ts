/**
 * Serving on dedicated worker threads. Each worker builds its FileSystem from
 * a module export (functions cannot cross threads) and runs the request loop
 * in blocking mode: while idle it sleeps in read(2) on its own /dev/fuse fd,
 * so a request costs no event-loop turn and no thread hop. The main thread
 * stays free for signals and unmounting.
 *
 * With several threads, the first one answers INIT; the others read cloned
 * fds (FUSE_DEV_IOC_CLONE) and start once the connection is negotiated. Their
 * FileSystem instances must then share state that requests depend on.
 */
import { Worker } from 'node:worker_threads';
import type { ConnectionInfo } from '../fs/filesystem.js';
import type { FuseDevice } from '../transport/fusedev/device.js';
import type { SessionOptions } from './options.js';

export interface WorkerSpec {
  /** Absolute URL or path of an ES module. */
  module: string;
  /** Name of an export `(args) => FileSystem | Promise<FileSystem>`. */
  export: string;
  /** Structured-cloneable argument for the factory. */
  args: unknown;
}

type PlainSessionOptions = Omit<SessionOptions, 'log'> & { logLevel?: string };

export interface ServingThreads {
  readonly workers: Worker[];
  /** Resolves when every thread's loop ended (connection gone); rejects if one failed. */
  done: Promise<void>;
  /** Resolves when the first thread is ready to serve (its filesystem is built). */
  ready: Promise<void>;
}

function start(spec: WorkerSpec, dev: FuseDevice, opts: PlainSessionOptions, conn?: ConnectionInfo): { worker: Worker; done: Promise<void> } {
  const worker = new Worker(new URL('./worker-main.js', import.meta.url), {
    workerData: { spec, fd: dev.fd, mountDevice: dev.mountDevice, opts, conn },
    stdout: false,
    stderr: false,
  });
  const done = new Promise<void>((resolve, reject) => {
    let failure: unknown;
    worker.on('error', (e) => (failure = e));
    worker.on('exit', (code) => {
      if (failure !== undefined) reject(failure);
      else if (code !== 0) reject(new Error(`serving thread exited with code ${code}`));
      else resolve();
    });
  });
  return { worker, done };
}

/** Serve `dev` on `threads` worker threads (default 1). */
export function serveInWorkers(spec: WorkerSpec, dev: FuseDevice, opts: PlainSessionOptions, threads = 1): ServingThreads {
  const first = start(spec, dev, opts);
  const workers = [first.worker];
  const dones: Promise<void>[] = [first.done];
  let allDone: () => void;
  const extra = new Promise<void>((r) => (allDone = r));
  let readyResolve: () => void;
  const ready = new Promise<void>((r) => (readyResolve = r));
  first.worker.on('message', (m: { type: string; conn?: ConnectionInfo }) => {
    if (m.type === 'ready') readyResolve();
    if (m.type !== 'init' || !m.conn) return;
    for (let i = 1; i < threads; i++) {
      let clone: FuseDevice;
      try {
        clone = dev.clone();
      } catch {
        break; // The connection is already gone.
      }
      const w = start(spec, clone, opts, m.conn);
      workers.push(w.worker);
      dones.push(w.done.finally(() => clone.close()));
    }
    allDone();
  });
  // Extra threads exist only after INIT; if the connection dies first, don't wait for them.
  first.done.finally(() => allDone());
  const done = first.done.then(() => extra).then(() => Promise.all(dones)).then(() => undefined);
  return { workers, done, ready };
}
