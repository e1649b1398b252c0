/**
 * Daemon for the round-trip phase: mounts NullFs at MNT and serves it either
 * on a worker thread (as the passthroughfs daemon does) or on the main thread.
 * Usage: node dist/bench/nullserve.js MNT worker|main [THREADS]. Unmounts on SIGTERM/SIGINT.
 */
import { FuseSession, mountFuse, unmountFuse } from '../src/index.js';
import { serveInWorkers } from '../src/fuse/worker.js';
import { NullFs } from './nullfs.js';

const [mnt, mode, threadsArg] = process.argv.slice(2);
const threads = Number(threadsArg ?? 1);
if (!mnt || (mode !== 'worker' && mode !== 'main') || !(threads >= 1)) {
  process.stderr.write('usage: nullserve MNT worker|main [THREADS]\n');
  process.exit(2);
}

if (mode === 'main') {
  const s = FuseSession.mount(new NullFs(), mnt, { mount: { fsname: 'nullfs', subtype: 'nullfs' } }).unmountOnSignals();
  await s.serve();
} else {
  const dev = mountFuse(mnt, { fsname: 'nullfs', subtype: 'nullfs' });
  const w = serveInWorkers({ module: new URL('./nullfs.js', import.meta.url).href, export: 'createNullFs', args: null }, dev, {}, threads);
  const stop = () => {
    try {
      unmountFuse(mnt, true);
    } catch {
      // already unmounted
    }
  };
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, stop);
  try {
    await w.done;
  } finally {
    dev.close();
  }
}
