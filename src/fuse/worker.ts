/**
 * Serving on a dedicated worker thread. The worker builds its FileSystem from
 * a module export (functions cannot cross threads), then runs the request loop
 * in blocking mode: while idle it parks in poll(2), so a request costs no
 * event-loop turn and no thread hop. The main thread stays free for signals
 * and unmounting.
 */
import { Worker } from 'node:worker_threads';
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

export interface ServingWorker {
  worker: Worker;
  /** Resolves when the loop ended (connection gone); rejects if the worker failed. */
  done: Promise<void>;
}

export function serveInWorker(spec: WorkerSpec, deviceFd: number, opts: PlainSessionOptions): ServingWorker {
  const worker = new Worker(new URL('./worker-main.js', import.meta.url), {
    workerData: { spec, fd: deviceFd, opts },
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
