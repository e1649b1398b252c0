/**
 * listxattr through a mount with --xattr and allow_other lists what it lists
 * natively to the same caller: trusted.* names only to a caller with
 * CAP_SYS_ADMIN (root; not root without it, not nobody), and a size query
 * reports the size of that list.
 *
 * Callers are setpriv(1) children: nobody runs getfattr(1) (it must not need
 * to read the checkout), root without CAP_SYS_ADMIN also runs a size query
 * through the test's libc bindings.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { ROOT, makeTempDir, startDaemon, stopDaemonAndRemove, type Daemon } from './helpers.js';

const CALLERS: Record<string, string[]> = {
  root: [],
  'root without CAP_SYS_ADMIN': ['--bounding-set=-sys_admin'],
  nobody: ['--reuid=65534', '--regid=65534', '--clear-groups'],
};

function run(caller: string, cmd: string[]): string {
  const r = spawnSync('setpriv', [...CALLERS[caller]!, ...cmd], { encoding: 'utf8', timeout: 15_000, cwd: '/' });
  assert.equal(r.status, 0, `${caller}: ${cmd.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/** Attribute names `caller` gets from listxattr of `path` (getfattr -m - lists every namespace). */
function names(caller: string, path: string): string[] {
  return run(caller, ['getfattr', '-h', '--absolute-names', '-m', '-', path])
    .split('\n').filter((l) => l && !l.startsWith('#')).sort();
}

/** listxattr(path, NULL, 0): the size the caller is told to allocate. */
function sizeQuery(caller: string, path: string): number {
  const libc = join(ROOT, 'dist/test/conformance/libc.js');
  const script = `import(${JSON.stringify(libc)}).then((l) => process.stdout.write(String(l.listxattr(process.argv[1], 0, true))))`;
  return Number(run(caller, [process.execPath, '-e', script, path]));
}

describe('listxattr shows trusted.* names only to callers with CAP_SYS_ADMIN, as natively', () => {
  let dir: string;
  let src: string;
  let mnt: string;
  let daemon: Daemon | undefined;

  before(async () => {
    dir = makeTempDir('ptfs-xattrlist-');
    src = join(dir, 'src');
    mnt = join(dir, 'mnt');
    fs.mkdirSync(join(src, 'd'), { recursive: true });
    fs.mkdirSync(mnt);
    for (const d of [dir, src, join(src, 'd')]) fs.chmodSync(d, 0o755);
    fs.writeFileSync(join(src, 'f'), 'x', { mode: 0o644 });
    fs.symlinkSync('f', join(src, 'l'));
    const set = (p: string, n: string) => assert.equal(spawnSync('setfattr', ['-h', '-n', n, '-v', '1', p]).status, 0, `setfattr ${n}`);
    set(join(src, 'f'), 'trusted.t');
    set(join(src, 'f'), 'user.u');
    set(join(src, 'd'), 'trusted.only');
    set(join(src, 'l'), 'trusted.onlink');
    // The daemon must hold CAP_SYS_ADMIN for the host to list trusted.* to it
    // at all: the filter is ours then. Where the daemon drops capabilities by
    // default, it is asked to keep this one.
    const help = spawnSync(process.execPath, [join(ROOT, 'bin/passthroughfs.js'), '--help'], { encoding: 'utf8' }).stdout;
    const keep = help.includes('--modcaps') ? ['--modcaps=+sys_admin'] : [];
    daemon = await startDaemon('bin/passthroughfs.js', ['mount', src, mnt, '--xattr', '-o', 'allow_other', ...keep, '-f'], mnt);
  });

  after(() => stopDaemonAndRemove(daemon, dir));

  for (const caller of Object.keys(CALLERS)) {
    it(`${caller}: the same names as natively`, () => {
      for (const name of ['f', 'd', 'l']) {
        const native = names(caller, join(src, name));
        assert.deepEqual(names(caller, join(mnt, name)), native, `${caller}, ${name}`);
        const trusted = native.some((n) => n.startsWith('trusted.'));
        assert.equal(trusted, caller === 'root', `${caller} natively ${trusted ? 'sees' : 'does not see'} trusted.* on ${name}`);
      }
    });
  }

  it('a size query reports the size of the filtered list', () => {
    for (const caller of ['root', 'root without CAP_SYS_ADMIN']) {
      for (const name of ['f', 'd']) {
        assert.equal(sizeQuery(caller, join(mnt, name)), sizeQuery(caller, join(src, name)), `${caller}, ${name}`);
      }
    }
    assert.equal(sizeQuery('root without CAP_SYS_ADMIN', join(mnt, 'f')), 'user.u\0'.length);
    assert.equal(sizeQuery('root without CAP_SYS_ADMIN', join(mnt, 'd')), 0);
  });
});
