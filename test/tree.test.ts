/**
 * A 10 000-file tree (100 dirs × 100 files, 0–64 KiB each) written through a `--cache=auto` mount, checked
 * byte for byte from both sides (sha256 of every file, `diff -r`), then removed through the mount.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { makeTempDir, stopDaemonAndRemove, startDaemon, type Daemon } from './helpers.js';
import { pattern } from './conformance/data.js';

const DIRS = 100;
const FILES = 100;
const POOL = pattern(256 * 1024, 2024);

/** Deterministic size (0..65536, every file different) and content of file j in dir i. */
function content(i: number, j: number): Buffer {
  const k = i * FILES + j;
  const h = Math.imul(k + 1, 2654435761) >>> 0;
  const size = k % 97 === 0 ? 0 : k % 89 === 0 ? 65536 : h % 65537;
  const b = Buffer.from(POOL.subarray(h % (POOL.length - 65536), (h % (POOL.length - 65536)) + size));
  if (size >= 4) b.writeUInt32LE(k, 0); // no two files alike
  return b;
}

const name = (i: number, j?: number) => `d${String(i).padStart(3, '0')}` + (j === undefined ? '' : `/f${String(j).padStart(3, '0')}`);

function hashes(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const d of fs.readdirSync(dir).sort()) {
    for (const f of fs.readdirSync(join(dir, d)).sort()) {
      out.set(`${d}/${f}`, createHash('sha256').update(fs.readFileSync(join(dir, d, f))).digest('hex'));
    }
  }
  return out;
}

describe('10 000-file tree through a --cache=auto mount', { timeout: 300_000 }, () => {
  let base = '';
  let src = '';
  let mnt = '';
  let daemon: Daemon | undefined;

  before(async () => {
    base = makeTempDir('ptfs-tree-');
    src = join(base, 'src');
    mnt = join(base, 'mnt');
    fs.mkdirSync(src);
    fs.mkdirSync(mnt);
    daemon = await startDaemon('bin/passthroughfs.js', ['mount', src, mnt, '--foreground', '--cache=auto'], mnt);
  });

  after(() => stopDaemonAndRemove(daemon, base));

  it('writes the tree through the mount', () => {
    let bytes = 0;
    for (let i = 0; i < DIRS; i++) {
      fs.mkdirSync(join(mnt, name(i)));
      for (let j = 0; j < FILES; j++) {
        const b = content(i, j);
        fs.writeFileSync(join(mnt, name(i, j)), b);
        bytes += b.length;
      }
    }
    assert.ok(bytes > 200 * 2 ** 20, `wrote ${bytes} bytes`);
    assert.equal(fs.readdirSync(src).length, DIRS);
  });

  it('every file has the same sha256 on the host side, through the mount, and as written', () => {
    const host = hashes(src);
    const through = hashes(mnt);
    assert.equal(host.size, DIRS * FILES);
    assert.deepEqual(through, host);
    for (const i of [0, 17, 99]) {
      for (const j of [0, 1, 50, 99]) {
        assert.equal(host.get(name(i, j)), createHash('sha256').update(content(i, j)).digest('hex'), name(i, j));
      }
    }
  });

  it('diff -r of the source and the mount finds no difference', () => {
    const r = spawnSync('diff', ['-r', src, mnt], { encoding: 'utf8', maxBuffer: 1 << 24 });
    assert.equal(r.status, 0, r.stdout.slice(0, 2000) + r.stderr);
  });

  it('sizes and names agree from both sides', () => {
    for (let i = 0; i < DIRS; i += 7) {
      assert.deepEqual(fs.readdirSync(join(mnt, name(i))).sort(), fs.readdirSync(join(src, name(i))).sort());
      for (let j = 0; j < FILES; j += 13) {
        assert.equal(fs.statSync(join(mnt, name(i, j))).size, content(i, j).length);
      }
    }
  });

  it('rm -r through the mount leaves the source empty', () => {
    const r = spawnSync('rm', ['-r', ...fs.readdirSync(mnt).map((d) => join(mnt, d))], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(fs.readdirSync(src), []);
    assert.deepEqual(fs.readdirSync(mnt), []);
  });
});
