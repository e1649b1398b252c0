/**
 * Round-trip client: stats one path in a tight loop. Prints "ready", waits for
 * a line on stdin, loops for DURATION_MS, then prints {"count","ns"} as JSON.
 * Usage: node dist/bench/statloop.js PATH DURATION_MS node|statx
 *   node:  fs.statSync (libuv statx + a Stats object, ~1-2 µs of JS per call)
 *   statx: statx(2) through koffi into a reused buffer (~0.2 µs of overhead)
 */
import { statSync } from 'node:fs';
import koffi from 'koffi';

const [path, durArg, how] = process.argv.slice(2);
if (!path || !durArg || (how !== 'node' && how !== 'statx')) {
  process.stderr.write('usage: statloop PATH DURATION_MS node|statx\n');
  process.exit(2);
}
const durationNs = BigInt(Math.round(Number(durArg) * 1e6));

let once: () => void;
if (how === 'node') {
  once = () => void statSync(path);
} else {
  const libc = koffi.load('libc.so.6');
  const statx = libc.func('int statx(int dirfd, const uint8_t *path, int flags, unsigned int mask, void *buf)');
  const AT_FDCWD = -100;
  const STATX_BASIC_STATS = 0x7ff;
  const buf = Buffer.alloc(256);
  const cpath = Buffer.from(path + '\0');
  once = () => {
    if ((statx(AT_FDCWD, cpath, 0, STATX_BASIC_STATS, buf) as number) !== 0) throw new Error(`statx ${path} failed`);
  };
}
once(); // warm up (and fail early)

process.stdout.write('ready\n');
process.stdin.once('data', () => {
  let count = 0;
  const start = process.hrtime.bigint();
  const end = start + durationNs;
  let now = start;
  while (now < end) {
    // Check the clock every 64 calls: hrtime costs about as much as a cached stat.
    for (let i = 0; i < 64; i++) once();
    count += 64;
    now = process.hrtime.bigint();
  }
  process.stdout.write(JSON.stringify({ count, ns: Number(now - start) }) + '\n');
  process.exit(0);
});
