/**
 * O_DIRECT scenarios (for mounts with --allow-direct-io): dd with oflag/iflag=direct, aligned and misaligned, and
 * O_DIRECT mixed with buffered I/O on the same file. The host rejects misaligned offsets and sizes with EINVAL and
 * the mount must do the same; what counts as aligned is the host's logical block size (512 or 4096), so the
 * expectations accept either result for 512-byte I/O and the comparison with the native run decides.
 */
import * as fs from 'node:fs';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { alignedBuffer, setFileFlags } from './libc.js';
import { code, valOr, type Scenario } from './harness.js';
import { pattern } from './data.js';

const { O_DIRECT, O_RDWR, O_RDONLY } = fs.constants;
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex').slice(0, 16);
const okOr512 = (v: unknown) => v === 'OK' || v === 'EINVAL';

/** dd with `args`: 'OK', or the errno of its failure (from its message), plus how many bytes it wrote. */
function dd(...args: string[]): string {
  const r = spawnSync('dd', [...args, 'status=none'], { encoding: 'utf8' });
  if (r.status === 0) return 'OK';
  if (/Invalid argument/.test(r.stderr)) return 'EINVAL';
  return `exit ${r.status}: ${r.stderr.trim().replace(/'[^']*'/g, 'PATH')}`;
}

/** A pattern file of `size` bytes in `dir` (the same for the native and the mounted run). */
function source(dir: string, name: string, size: number, seed: number): string {
  const p = join(dir, name);
  if (!fs.existsSync(p) || fs.statSync(p).size !== size) fs.writeFileSync(p, pattern(size, seed));
  return p;
}

export const ddDirect: Scenario = {
  name: 'O_DIRECT with dd: aligned, misaligned, short last block, 1 MiB requests',
  run(root, ctx) {
    const small = source(ctx.outside, 'direct-70000', 70000, 7);
    const big = source(ctx.outside, 'direct-3M', 3 * 2 ** 20 + 4096, 11);
    const f = join(root, 'f');
    const out = join(root, 'out');
    const r: Record<string, unknown> = {};
    // dd turns O_DIRECT off (fcntl) for a short last block: 17 direct blocks, then a buffered one.
    r.copyWithTail = dd(`if=${small}`, `of=${f}`, 'bs=4k', 'oflag=direct');
    r.sizeAfterCopy = fs.statSync(f).size;
    r.copied = sha(fs.readFileSync(f)) === sha(fs.readFileSync(small));
    r.block512 = dd(`if=${big}`, `of=${f}`, 'bs=512', 'count=3', 'seek=7', 'oflag=direct', 'conv=notrunc');
    r.misalignedSize = dd(`if=${big}`, `of=${f}`, 'bs=1000', 'count=1', 'oflag=direct', 'conv=notrunc');
    r.misalignedOffset = dd(`if=${big}`, `of=${f}`, 'bs=4096', 'count=1', 'seek=100', 'oflag=direct,seek_bytes', 'conv=notrunc');
    r.pastEnd = dd(`if=${big}`, `of=${f}`, 'bs=4096', 'count=2', 'seek=30', 'oflag=direct', 'conv=notrunc');
    r.sizeAfterWrites = fs.statSync(f).size;
    r.readAll = dd(`if=${f}`, `of=${out}`, 'bs=4k', 'iflag=direct');
    r.readBack = sha(fs.readFileSync(out)) === sha(fs.readFileSync(f));
    r.readMisalignedSize = dd(`if=${f}`, 'of=/dev/null', 'bs=1000', 'iflag=direct');
    r.readMisalignedOffset = dd(`if=${f}`, 'of=/dev/null', 'bs=4096', 'skip=100', 'iflag=direct,skip_bytes');
    r.read512 = dd(`if=${f}`, 'of=/dev/null', 'bs=512', 'skip=3', 'count=5', 'iflag=direct');
    r.write1M = dd(`if=${big}`, `of=${f}`, 'bs=1M', 'oflag=direct');
    r.read1M = dd(`if=${f}`, `of=${out}`, 'bs=1M', 'iflag=direct');
    r.big = [fs.statSync(f).size, sha(fs.readFileSync(out)) === sha(fs.readFileSync(big))];
    r.content = sha(fs.readFileSync(f));
    return r;
  },
  expect: {
    copyWithTail: 'OK', sizeAfterCopy: 70000, copied: true, block512: okOr512, misalignedSize: 'EINVAL',
    misalignedOffset: 'EINVAL', pastEnd: 'OK', sizeAfterWrites: 32 * 4096, readAll: 'OK', readBack: true,
    readMisalignedSize: 'EINVAL', readMisalignedOffset: 'EINVAL', read512: okOr512, write1M: 'OK', read1M: 'OK',
    big: [3 * 2 ** 20 + 4096, true], content: (v: unknown) => typeof v === 'string',
  },
};

export const directMixed: Scenario = {
  name: 'O_DIRECT and buffered opens of one file see each other\'s writes; fcntl toggles O_DIRECT',
  run(root) {
    const f = join(root, 'mixed');
    const a = alignedBuffer(16384);
    const b = Buffer.alloc(16384);
    const r: Record<string, unknown> = {};
    fs.writeFileSync(f, Buffer.alloc(8192, 'a'));
    // Every fd is closed whatever fails: one left open would keep the mount busy.
    const buffered = fs.openSync(f, 'r+');
    let direct: number | undefined;
    try {
      const d = fs.openSync(f, O_RDWR | O_DIRECT);
      direct = d;
      fs.readSync(buffered, b, 0, 8192, 0); // into the page cache, if there is one
      a.fill('b');
      r.directWrite = fs.writeSync(d, a, 0, 4096, 0);
      fs.readSync(buffered, b, 0, 8192, 0);
      r.bufferedSeesDirect = b.toString('latin1', 0, 1) + b.toString('latin1', 4096, 4097);
      fs.writeSync(buffered, Buffer.alloc(4096, 'c'), 0, 4096, 4096);
      fs.readSync(d, a, 0, 8192, 0);
      r.directSeesBuffered = a.toString('latin1', 0, 1) + a.toString('latin1', 4096, 4097);
      a.fill('d');
      r.directExtends = fs.writeSync(d, a, 0, 4096, 8192);
      r.size = [fs.fstatSync(buffered).size, fs.fstatSync(d).size];
      fs.readSync(buffered, b, 0, 4096, 8192);
      r.bufferedTail = b.toString('latin1', 0, 1);
      fs.ftruncateSync(d, 4096 + 1000);
      r.shortReadAtEof = fs.readSync(d, a, 0, 8192, 0);
      r.readPastEof = fs.readSync(d, a, 0, 4096, 16384);
      r.misalignedSize = code(() => fs.readSync(d, a, 0, 1000, 0));
      r.misalignedOffset = code(() => fs.writeSync(d, a, 0, 4096, 100));
      // O_DIRECT off (as dd does for its last block): misaligned I/O is fine.
      setFileFlags(d, 0, O_DIRECT);
      r.offRead = valOr(() => fs.readSync(d, a, 0, 1000, 3));
      r.offWrite = valOr(() => fs.writeSync(d, a, 0, 100, 5000));
      // And on again; also on the buffered open, which was opened without it.
      setFileFlags(d, O_DIRECT);
      r.onAgain = code(() => fs.readSync(d, a, 0, 1000, 0));
      r.onAgainAligned = valOr(() => fs.readSync(d, a, 0, 4096, 4096));
      setFileFlags(buffered, O_DIRECT);
      r.bufferedTurnedDirect = [code(() => fs.readSync(buffered, a, 0, 1000, 0)), valOr(() => fs.readSync(buffered, a, 0, 4096, 0))];
    } finally {
      if (direct !== undefined) fs.closeSync(direct);
      fs.closeSync(buffered);
    }
    r.content = sha(fs.readFileSync(f));
    const ro = fs.openSync(f, O_RDONLY | O_DIRECT);
    r.readOnlyDirect = valOr(() => fs.readSync(ro, a, 0, 8192, 0));
    fs.closeSync(ro);
    return r;
  },
  expect: {
    directWrite: 4096, bufferedSeesDirect: 'ba', directSeesBuffered: 'bc', directExtends: 4096, size: [12288, 12288],
    bufferedTail: 'd', shortReadAtEof: 5096, readPastEof: 0, misalignedSize: 'EINVAL', misalignedOffset: 'EINVAL',
    offRead: 1000, offWrite: 100, onAgain: 'EINVAL', onAgainAligned: 1004, bufferedTurnedDirect: ['EINVAL', 4096],
    content: (v: unknown) => typeof v === 'string', readOnlyDirect: 5100,
  },
};

export const scenarios = [ddDirect, directMixed];
