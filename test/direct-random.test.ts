/**
 * Randomized O_DIRECT I/O through the mount (in the manner of fsx -Z): block-aligned direct writes, reads and
 * truncates to any size, mixed with buffered reads and writes through a second open of the file, all checked
 * against an in-memory model after every step, and the host file against the model at the end.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { makeTempDir, startDaemon, stopDaemonAndRemove, type Daemon } from './helpers.js';
import { alignedBuffer } from './conformance/libc.js';

const BLOCK = 4096;
const MAX_SIZE = 2 * 2 ** 20;
const OPS = 1500;

/** xorshift32: a reproducible sequence from the seed. */
function rng(seed: number): (n: number) => number {
  let x = seed | 1;
  return (n) => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) % n;
  };
}

/**
 * `inside`: buffered writes stay inside the file. Under the writeback cache a buffered write past the end grows
 * the file in the kernel only, until writeback; a direct read between the host's end and the kernel's then comes
 * back short instead of reading the hole as zeros (the kernel flushes only the pages in the read's range): a limit
 * of the kernel's writeback cache, like FUSE_LSEEK's (see conformance.test.ts).
 */
function run(file: string, host: string, seed: number, inside = false): void {
  const rand = rng(seed);
  const abuf = alignedBuffer(64 * BLOCK);
  let model = Buffer.alloc(0);
  const direct = fs.openSync(file, fs.constants.O_RDWR | fs.constants.O_CREAT | fs.constants.O_DIRECT, 0o644);
  const buffered = fs.openSync(file, 'r+');
  const resize = (size: number) => {
    if (size <= model.length) model = model.subarray(0, size);
    else model = Buffer.concat([model, Buffer.alloc(size - model.length)]);
  };
  const expectRead = (off: number, len: number) => model.subarray(Math.min(off, model.length), Math.min(off + len, model.length));
  try {
    for (let i = 0; i < OPS; i++) {
      const what = `seed ${seed}, op ${i}`;
      const op = rand(100);
      if (op < 40) {
        const off = rand(MAX_SIZE / BLOCK) * BLOCK;
        const len = (1 + rand(64)) * BLOCK;
        for (let j = 0; j < len; j += 4) abuf.writeUInt32LE(rand(2 ** 31), j);
        assert.equal(fs.writeSync(direct, abuf, 0, len, off), len, `${what}: direct write`);
        if (off + len > model.length) resize(off + len);
        abuf.copy(model, off, 0, len);
      } else if (op < 70) {
        const off = rand(MAX_SIZE / BLOCK) * BLOCK;
        const len = (1 + rand(64)) * BLOCK;
        const n = fs.readSync(direct, abuf, 0, len, off);
        assert.ok(abuf.subarray(0, n).equals(expectRead(off, len)), `${what}: direct read of ${len} at ${off} (got ${n})`);
      } else if (op < 78) {
        const size = rand(MAX_SIZE);
        fs.ftruncateSync(rand(2) ? direct : buffered, size);
        resize(size);
      } else if (op < 92) {
        const off = rand(MAX_SIZE);
        const len = 1 + rand(100_000);
        const b = Buffer.alloc(len);
        const n = fs.readSync(buffered, b, 0, len, off);
        assert.ok(b.subarray(0, n).equals(expectRead(off, len)), `${what}: buffered read of ${len} at ${off} (got ${n})`);
      } else {
        let off = rand(MAX_SIZE);
        let len = 1 + rand(20_000);
        if (inside) {
          off = Math.min(off, model.length);
          len = Math.min(len, model.length - off);
          if (len === 0) continue;
        }
        const b = Buffer.alloc(len, 1 + rand(255));
        assert.equal(fs.writeSync(buffered, b, 0, len, off), len, `${what}: buffered write`);
        if (off + len > model.length) resize(off + len);
        b.copy(model, off);
      }
      if (i % 50 === 0) assert.equal(fs.fstatSync(direct).size, model.length, `${what}: size`);
    }
    fs.fsyncSync(buffered);
  } finally {
    fs.closeSync(direct);
    fs.closeSync(buffered);
  }
  assert.ok(fs.readFileSync(host).equals(model), `seed ${seed}: host file differs from the model`);
}

for (const args of [['--cache=auto'], ['--cache=never'], ['--cache=always', '--writeback'], ['--cache=auto', '--writeback']]) {
  const writeback = args.includes('--writeback');
  describe(`O_DIRECT, randomized (--allow-direct-io ${args.join(' ')})`, { timeout: 300_000 }, () => {
    let base = '';
    let daemon: Daemon | undefined;
    before(async () => {
      base = makeTempDir('ptfs-direct-');
      fs.mkdirSync(join(base, 'src'));
      fs.mkdirSync(join(base, 'mnt'));
      daemon = await startDaemon('bin/passthroughfs.js', ['mount', join(base, 'src'), join(base, 'mnt'), '--foreground', '--allow-direct-io', ...args], join(base, 'mnt'));
    });
    after(() => stopDaemonAndRemove(daemon, base));

    for (const seed of [1, 0x5eed]) {
      it(`${OPS} operations, seed ${seed}${writeback ? ', buffered writes inside the file' : ''}`, () =>
        run(join(base, 'mnt', `f${seed}`), join(base, 'src', `f${seed}`), seed, writeback));
    }
    it('the same sequence natively (checks the model itself)', () => {
      const f = join(base, 'native');
      run(f, f, 1, writeback);
    });
  });
}
