/** Scenarios for file data: sparse files, fallocate, copy_file_range, concurrent appends, partial and large I/O. */
import * as fs from 'node:fs';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import {
  FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE, FALLOC_FL_ZERO_RANGE, SEEK_CUR, SEEK_DATA, SEEK_END, SEEK_HOLE,
  copyFileRange, fallocate, lseek,
} from './libc.js';
import { CHILD, childAsync, code, ls, valOr, type Scenario } from './harness.js';
import { LINE, appendLine } from './child.js';

const GiB = 2 ** 30;
const MiB = 2 ** 20;
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex').slice(0, 16);
const isZero = (b: Buffer) => b.every((x) => x === 0);

/** Deterministic pseudo-random bytes (xorshift32). */
export function pattern(size: number, seed: number): Buffer {
  const b = Buffer.alloc(size);
  let x = seed | 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = x & 0xff;
  }
  return b;
}

function pread(fd: number, len: number, pos: number): Buffer {
  const b = Buffer.alloc(len);
  return b.subarray(0, fs.readSync(fd, b, 0, len, pos));
}

export const sparse: Scenario = {
  name: 'sparse files: 5 GiB and 1 TiB offsets, holes read as zeros, truncate up and down',
  run(root) {
    const f = join(root, 'sparse');
    const fd = fs.openSync(f, 'w+');
    const off = 5 * GiB;
    fs.writeSync(fd, Buffer.from('END'), 0, 3, off);
    const st = fs.fstatSync(fd);
    const r: Record<string, unknown> = {
      size: st.size,
      sparse: st.blocks * 512 < MiB,
      statSize: fs.statSync(f).size,
      holeZeros: isZero(pread(fd, 65536, GiB)),
      tail: pread(fd, 10, off - 2).toString('hex'),
      pastEnd: pread(fd, 10, off + 3).length,
      seekEnd: lseek(fd, 0, SEEK_END),
      seekNegative: code(() => lseek(fd, -1, 0)),
    };
    fs.writeSync(fd, Buffer.from('T'), 0, 1, 2 ** 40);
    r.teraSize = fs.fstatSync(fd).size;
    r.teraSparse = fs.fstatSync(fd).blocks * 512 < MiB;
    r.teraRead = pread(fd, 4, 2 ** 40 - 3).toString('hex');
    fs.ftruncateSync(fd, 2 ** 41);
    r.truncatedUp = [fs.fstatSync(fd).size, isZero(pread(fd, 4096, 2 ** 41 - 4096))];
    fs.ftruncateSync(fd, 10 * GiB);
    r.truncatedDown = [fs.fstatSync(fd).size, pread(fd, 3, 5 * GiB).toString(), pread(fd, 3, 10 * GiB - 1).length];
    fs.closeSync(fd);
    r.reopened = fs.statSync(f).size;
    fs.unlinkSync(f);
    return r;
  },
  expect: {
    size: 5 * GiB + 3,
    sparse: true,
    statSize: 5 * GiB + 3,
    holeZeros: true,
    tail: '0000454e44',
    pastEnd: 0,
    seekEnd: 5 * GiB + 3,
    seekNegative: 'EINVAL',
    teraSize: 2 ** 40 + 1,
    teraSparse: true,
    teraRead: '00000054',
    truncatedUp: [2 ** 41, true],
    truncatedDown: [10 * GiB, 'END', 1],
    reopened: 10 * GiB,
  },
};

export const seekHoles: Scenario = {
  name: 'SEEK_DATA/SEEK_HOLE on a sparse file',
  run(root) {
    const f = join(root, 'sparse');
    const fd = fs.openSync(f, 'w+');
    const off = 5 * GiB;
    fs.writeSync(fd, Buffer.from('END'), 0, 3, off);
    fs.writeSync(fd, Buffer.alloc(8192, 'd'), 0, 8192, MiB);
    const seek = (at: number, whence: number) => valOr(() => lseek(fd, at, whence));
    const r = {
      dataFrom0: seek(0, SEEK_DATA),
      holeFrom0: seek(0, SEEK_HOLE),
      holeInFirstData: seek(MiB + 100, SEEK_HOLE),
      dataAfterFirst: seek(MiB + 8192, SEEK_DATA),
      holeInLastData: seek(off, SEEK_HOLE),
      dataPastEnd: seek(off + 100, SEEK_DATA),
      holePastEnd: seek(off + 100, SEEK_HOLE),
      position: lseek(fd, 0, SEEK_CUR),
    };
    fs.closeSync(fd);
    fs.unlinkSync(f);
    return r;
  },
  expect: {
    dataFrom0: MiB,
    holeFrom0: 0,
    holeInFirstData: MiB + 8192,
    dataAfterFirst: 5 * GiB,
    holeInLastData: 5 * GiB + 3,
    dataPastEnd: 'ENXIO',
    holePastEnd: 'ENXIO',
    position: 5 * GiB + 3,
  },
};

export const efbig: Scenario = {
  name: 'write past the maximum file size: EFBIG',
  run(root) {
    const fd = fs.openSync(join(root, 'f'), 'w+');
    const r = {
      beyondMax: code(() => fs.writeSync(fd, Buffer.from('x'), 0, 1, 2 ** 44)),
      truncateBeyondMax: code(() => fs.ftruncateSync(fd, 2 ** 44)),
      size: fs.fstatSync(fd).size,
      close: code(() => fs.closeSync(fd)),
    };
    return r;
  },
  expect: { beyondMax: 'EFBIG', truncateBeyondMax: 'EFBIG', size: 0, close: 'OK' },
};

export const fallocateScenario: Scenario = {
  name: 'fallocate: allocate, KEEP_SIZE, PUNCH_HOLE, ZERO_RANGE, errors',
  run(root) {
    const f = join(root, 'falloc');
    const fd = fs.openSync(f, 'w+');
    const st = () => fs.fstatSync(fd);
    const r: Record<string, unknown> = {};
    fallocate(fd, 0, 0, MiB);
    r.allocated = [st().size, st().blocks >= 2048, isZero(pread(fd, MiB, 0))];
    const b1 = st().blocks;
    fallocate(fd, FALLOC_FL_KEEP_SIZE, MiB, MiB);
    r.keepSize = [st().size, st().blocks - b1 >= 2048, lseek(fd, 0, SEEK_END)];
    fs.writeSync(fd, Buffer.alloc(MiB, 'x'), 0, MiB, 0);
    const b2 = st().blocks;
    fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 4096, 8192);
    r.punched = [st().size, b2 - st().blocks, isZero(pread(fd, 8192, 4096)), pread(fd, 1, 4095).toString(), pread(fd, 1, 12288).toString()];
    r.holeSeek = [lseek(fd, 0, SEEK_HOLE), lseek(fd, 4096, SEEK_DATA)];
    r.punchWithoutKeep = code(() => fallocate(fd, FALLOC_FL_PUNCH_HOLE, 0, 4096));
    r.zeroRange = code(() => fallocate(fd, FALLOC_FL_ZERO_RANGE, 20000, 100));
    r.zeroed = [isZero(pread(fd, 100, 20000)), pread(fd, 1, 19999).toString(), pread(fd, 1, 20100).toString()];
    r.unaligned = code(() => fallocate(fd, 0, 3 * MiB + 17, 5));
    r.grownTo = st().size;
    r.negativeLen = code(() => fallocate(fd, 0, 0, -1));
    r.zeroLen = code(() => fallocate(fd, 0, 0, 0));
    fs.closeSync(fd);
    const rfd = fs.openSync(f, 'r');
    r.readOnlyFd = code(() => fallocate(rfd, 0, 0, 4096));
    fs.closeSync(rfd);
    return r;
  },
  expect: {
    allocated: [MiB, true, true],
    keepSize: [MiB, true, MiB],
    punched: [MiB, 16, true, 'x', 'x'],
    holeSeek: [4096, 12288],
    punchWithoutKeep: 'EOPNOTSUPP',
    zeroRange: 'OK',
    zeroed: [true, 'x', 'x'],
    unaligned: 'OK',
    grownTo: 3 * MiB + 22,
    negativeLen: 'EINVAL',
    zeroLen: 'EINVAL',
    readOnlyFd: 'EBADF',
  },
};

export const copy: Scenario = {
  name: 'copy: copyFile (FICLONE fallback), copy_file_range with and without offsets',
  run(root) {
    const p = (s: string) => join(root, s);
    const data = pattern(300_000, 7);
    fs.writeFileSync(p('src'), data);
    fs.copyFileSync(p('src'), p('clone'), fs.constants.COPYFILE_FICLONE);
    fs.copyFileSync(p('src'), p('plain'));
    const r: Record<string, unknown> = {
      clone: sha(fs.readFileSync(p('clone'))),
      plain: sha(fs.readFileSync(p('plain'))),
      excl: code(() => fs.copyFileSync(p('src'), p('plain'), fs.constants.COPYFILE_EXCL)),
    };
    const fin = fs.openSync(p('src'), 'r');
    const fout = fs.openSync(p('cfr'), 'w+');
    r.copied = copyFileRange(fin, null, fout, null, 100_000);
    r.positions = [lseek(fin, 0, SEEK_CUR), lseek(fout, 0, SEEK_CUR)];
    r.copiedRest = copyFileRange(fin, null, fout, null, 1_000_000);
    r.atEof = copyFileRange(fin, null, fout, null, 10);
    const offIn = new BigInt64Array([1000n]);
    const offOut = new BigInt64Array([50n]);
    r.withOffsets = copyFileRange(fin, offIn, fout, offOut, 10);
    r.offsetsAfter = [Number(offIn[0]), Number(offOut[0]), lseek(fin, 0, SEEK_CUR)];
    r.cfr = sha(fs.readFileSync(p('cfr')));
    const expected = Buffer.from(data);
    data.copy(expected, 50, 1000, 1010);
    r.cfrExpected = sha(expected);
    const same = fs.openSync(p('plain'), 'r+');
    r.overlap = code(() => copyFileRange(same, new BigInt64Array([0n]), same, new BigInt64Array([10n]), 100));
    r.sameFileApart = copyFileRange(same, new BigInt64Array([0n]), same, new BigInt64Array([200_000n]), 100);
    r.toReadOnly = code(() => copyFileRange(fin, new BigInt64Array([0n]), fin, new BigInt64Array([200_000n]), 10));
    for (const fd of [fin, fout, same]) fs.closeSync(fd);
    r.src = sha(data);
    return r;
  },
  expect: {
    clone: (v: unknown) => v === sha(pattern(300_000, 7)),
    plain: (v: unknown) => v === sha(pattern(300_000, 7)),
    excl: 'EEXIST',
    copied: 100_000,
    positions: [100_000, 100_000],
    copiedRest: 200_000,
    atEof: 0,
    withOffsets: 10,
    offsetsAfter: [1010, 60, 300_000],
    cfr: (v: unknown) => {
      const d = pattern(300_000, 7);
      d.copy(d, 50, 1000, 1010);
      return v === sha(d);
    },
    cfrExpected: (v: unknown) => typeof v === 'string',
    overlap: 'EINVAL',
    sameFileApart: 100,
    toReadOnly: 'EBADF',
    src: (v: unknown) => v === sha(pattern(300_000, 7)),
  },
};

export const concurrentAppend: Scenario = {
  name: 'O_APPEND from two processes: 2000 intact lines',
  async run(root) {
    const f = join(root, 'log');
    fs.writeFileSync(f, '');
    const go = (tag: string) =>
      new Promise<number | null>((res) => spawn(process.execPath, [CHILD, 'append', f, tag, '1000'], { stdio: 'ignore' }).on('exit', res));
    const status = await Promise.all([go('A'), go('B')]);
    const text = fs.readFileSync(f, 'utf8');
    const lines = text.split('\n').slice(0, -1);
    const order = { A: 0, B: 0 };
    let intact = 0;
    let inOrder = true;
    for (const l of lines) {
      const tag = l[0] as 'A' | 'B';
      if ((tag === 'A' || tag === 'B') && l + '\n' === appendLine(tag, order[tag])) {
        intact++;
        order[tag]++;
      } else inOrder = false;
    }
    return { status, size: fs.statSync(f).size, lines: lines.length, intact, inOrder, perWriter: order, endsWithNewline: text.endsWith('\n') };
  },
  expect: { status: [0, 0], size: 2000 * LINE, lines: 2000, intact: 2000, inOrder: true, perWriter: { A: 1000, B: 1000 }, endsWithNewline: true },
};

export const partialWrites: Scenario = {
  name: 'I/O: partial writes through O_WRONLY, unaligned and large reads/writes, fsync',
  run(root) {
    const p = (s: string) => join(root, s);
    fs.writeFileSync(p('w'), Buffer.alloc(10_000, 'a'));
    let fd = fs.openSync(p('w'), fs.constants.O_WRONLY);
    fs.writeSync(fd, 'XYZ', 5000);
    fs.writeSync(fd, 'Q', 9999);
    fs.writeSync(fd, 'tail', 12_000);
    const r: Record<string, unknown> = { fsync: code(() => fs.fsyncSync(fd)), fdatasync: code(() => fs.fdatasyncSync(fd)) };
    fs.closeSync(fd);
    const w = fs.readFileSync(p('w'));
    r.wronly = [w.length, w.toString('utf8', 4999, 5004), w.toString('utf8', 9998, 10_000), isZero(w.subarray(10_000, 12_000)), w.toString('utf8', 12_000)];

    // a 4 MiB file built by writes of odd sizes at odd offsets, some larger than a FUSE request
    const size = 4 * MiB;
    const model = Buffer.alloc(size);
    fd = fs.openSync(p('big'), 'w+');
    const src = pattern(2 * MiB, 99);
    let seed = 12345;
    const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff), seed % n);
    for (let i = 0; i < 60; i++) {
      const len = i % 10 === 0 ? MiB + rnd(MiB) : 1 + rnd(70_000);
      const at = rnd(size - len);
      const from = rnd(src.length - len);
      fs.writeSync(fd, src, from, len, at);
      src.copy(model, at, from, from + len);
    }
    fs.ftruncateSync(fd, size);
    const whole = Buffer.alloc(size);
    let got = 0;
    for (let n; got < size && (n = fs.readSync(fd, whole, got, Math.min(size - got, 333_333), got)) > 0;) got += n;
    r.big = [got, whole.equals(model)];
    const rfd = fs.openSync(p('big'), 'r');
    const slices = [[0, 1], [4095, 2], [131_071, 131_074], [size - 5, 100], [size + 10, 10]].map(([at, len]) => {
      const b = pread(rfd, len!, at!);
      return b.equals(model.subarray(at!, at! + len!)) ? b.length : 'mismatch';
    });
    r.slices = slices;
    r.dirFsync = code(() => {
      const dfd = fs.openSync(root, 'r');
      fs.fsyncSync(dfd);
      fs.closeSync(dfd);
    });
    for (const x of [fd, rfd]) fs.closeSync(x);
    r.readFile = fs.readFileSync(p('big')).equals(model);
    return r;
  },
  expect: {
    fsync: 'OK',
    fdatasync: 'OK',
    wronly: [12_004, 'aXYZa', 'aQ', true, 'tail'],
    big: [4 * MiB, true],
    slices: [1, 2, 131_074, 5, 0],
    dirFsync: 'OK',
    readFile: true,
  },
};

export const parallelClients: Scenario = {
  name: 'four processes creating, renaming, reading and unlinking in one directory at once',
  async run(root) {
    const d = join(root, 'shared');
    fs.mkdirSync(d);
    const plan = (k: number) => {
      const ops: (string | number)[][] = [];
      for (let i = 0; i < 100; i++) {
        const n = join(d, `c${k}-${i}`);
        ops.push(['write', n, `client ${k} file ${i}`], ['rename', n, `${n}.r`], ['read', `${n}.r`]);
        if (i % 2) ops.push(['unlink', `${n}.r`]);
        else ops.push(['mkdir', `${n}.d`], ['rmdir', `${n}.d`]);
      }
      return ops;
    };
    const results = (await Promise.all([0, 1, 2, 3].map((k) => childAsync(['ops', JSON.stringify(plan(k))])))) as unknown[][];
    const expected = [0, 1, 2, 3].map((k) => plan(k).map((o) => (o[0] === 'read' ? `client ${k} file ${/-(\d+)\.r$/.exec(o[1] as string)![1]}` : 'OK')));
    const left = ls(d);
    return {
      allAsExpected: results.every((r, k) => JSON.stringify(r) === JSON.stringify(expected[k])),
      failures: results.flat().filter((x) => typeof x === 'string' && /^E[A-Z]+$/.test(x)),
      left: left.length,
      leftNames: left.every((n) => /^c\d-\d*[02468]\.r$/.test(n)),
      nlink: fs.statSync(d).nlink,
    };
  },
  expect: { allAsExpected: true, failures: [], left: 200, leftNames: true, nlink: 2 },
};

export const scenarios = [sparse, seekHoles, efbig, fallocateScenario, copy, concurrentAppend, partialWrites, parallelClients];
