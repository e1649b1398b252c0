/** The example in-memory filesystem, mounted through the kernel and used with ordinary tools. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { makeTempDir, removeTempDir, startDaemon, type Daemon } from './helpers.js';

describe('memfs example through the kernel', () => {
  let dir: string;
  let mnt: string;
  let d: Daemon;

  before(async () => {
    dir = makeTempDir();
    mnt = join(dir, 'mnt');
    fs.mkdirSync(mnt);
    d = await startDaemon('dist/examples/memfs.js', [mnt], mnt);
  });

  after(async () => {
    try {
      if (d) assert.equal(await d.stop(), 0, d.output());
    } finally {
      removeTempDir(dir);
    }
  });

  it('creates, reads, lists and stats files', () => {
    fs.writeFileSync(join(mnt, 'a.txt'), 'hello');
    assert.equal(fs.readFileSync(join(mnt, 'a.txt'), 'utf8'), 'hello');
    fs.appendFileSync(join(mnt, 'a.txt'), ' world');
    assert.equal(execFileSync('cat', [join(mnt, 'a.txt')], { encoding: 'utf8' }), 'hello world');
    const st = fs.statSync(join(mnt, 'a.txt'));
    assert.equal(st.size, 11);
    assert.ok(st.isFile());
    assert.deepEqual(fs.readdirSync(mnt).sort(), ['a.txt']);
    assert.match(execFileSync('ls', ['-la', mnt], { encoding: 'utf8' }), /a\.txt/);
  });

  it('answers errnos like a filesystem', () => {
    assert.throws(() => fs.statSync(join(mnt, 'missing')), { code: 'ENOENT' });
    fs.mkdirSync(join(mnt, 'd'));
    assert.throws(() => fs.mkdirSync(join(mnt, 'd')), { code: 'EEXIST' });
    fs.writeFileSync(join(mnt, 'd', 'f'), 'x');
    assert.throws(() => fs.rmdirSync(join(mnt, 'd')), { code: 'ENOTEMPTY' });
    assert.throws(() => fs.unlinkSync(join(mnt, 'd')), (e: NodeJS.ErrnoException) => e.code === 'EISDIR' || e.code === 'EPERM');
    fs.rmSync(join(mnt, 'd'), { recursive: true });
    assert.equal(fs.existsSync(join(mnt, 'd')), false);
  });

  it('mkdir, mv, symlink, truncate, rm -r with child processes', () => {
    execFileSync('mkdir', ['-p', join(mnt, 'x/y/z')]);
    fs.writeFileSync(join(mnt, 'x/y/z/f'), 'data');
    execFileSync('mv', [join(mnt, 'x'), join(mnt, 'w')]);
    assert.equal(fs.readFileSync(join(mnt, 'w/y/z/f'), 'utf8'), 'data');
    fs.symlinkSync('y/z/f', join(mnt, 'w/link'));
    assert.equal(fs.readlinkSync(join(mnt, 'w/link')), 'y/z/f');
    assert.equal(fs.readFileSync(join(mnt, 'w/link'), 'utf8'), 'data');
    fs.truncateSync(join(mnt, 'w/y/z/f'), 2);
    assert.equal(fs.readFileSync(join(mnt, 'w/y/z/f'), 'utf8'), 'da');
    const st = execFileSync('stat', ['-c', '%s %F', join(mnt, 'w/y/z/f')], { encoding: 'utf8' });
    assert.equal(st.trim(), '2 regular file');
    execFileSync('rm', ['-r', join(mnt, 'w')]);
    assert.equal(fs.existsSync(join(mnt, 'w')), false);
  });

  it('takes a 1000-file tree with cp -r and gives it back identical', () => {
    const src = join(dir, 'src');
    for (let i = 0; i < 20; i++) {
      fs.mkdirSync(join(src, `d${i}`), { recursive: true });
      for (let j = 0; j < 50; j++) {
        const size = (i * 50 + j) * 37 % 20000;
        fs.writeFileSync(join(src, `d${i}`, `f${j}`), Buffer.alloc(size, i * 50 + j));
      }
    }
    execFileSync('cp', ['-r', src, join(mnt, 'tree')]);
    const back = join(dir, 'back');
    execFileSync('cp', ['-r', join(mnt, 'tree'), back]);
    const diff = spawnSync('diff', ['-r', src, back], { encoding: 'utf8' });
    assert.equal(diff.status, 0, diff.stdout + diff.stderr);
    const diff2 = spawnSync('diff', ['-r', src, join(mnt, 'tree')], { encoding: 'utf8' });
    assert.equal(diff2.status, 0, diff2.stdout + diff2.stderr);
    assert.equal(fs.readdirSync(join(mnt, 'tree')).length, 20);
  });
});
