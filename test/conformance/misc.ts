/** Scenarios for access(2), exec and mmap, O_TMPFILE, and changes made on the host side behind the mount. */
import * as fs from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { AT_SYMLINK_FOLLOW, MAP_PRIVATE, MAP_SHARED, O_TMPFILE, PROT_READ, PROT_WRITE, linkat, withMmap } from './libc.js';
import { code, ls, snap, snapOr, valOr, type Scenario } from './harness.js';

const { R_OK, W_OK, X_OK, F_OK } = fs.constants;

export const access: Scenario = {
  name: 'access(2) as root: execute needs an x bit, read/write do not',
  run(root) {
    const p = (s: string) => join(root, s);
    const mk = (n: string, mode: number) => (fs.writeFileSync(p(n), ''), fs.chmodSync(p(n), mode));
    mk('f644', 0o644);
    mk('f744', 0o744);
    mk('f001', 0o001);
    mk('f000', 0o000);
    fs.mkdirSync(p('d000'));
    fs.chmodSync(p('d000'), 0);
    fs.symlinkSync('nowhere', p('dangling'));
    const a = (n: string, m: number) => code(() => fs.accessSync(p(n), m));
    return {
      f644: [a('f644', R_OK | W_OK), a('f644', X_OK)],
      f744: a('f744', X_OK),
      f001: a('f001', X_OK),
      f000: [a('f000', R_OK | W_OK), a('f000', X_OK), a('f000', F_OK)],
      d000: [a('d000', R_OK | W_OK | X_OK), ls(p('d000'))],
      dangling: a('dangling', F_OK),
      missing: a('missing', F_OK),
    };
  },
  expect: {
    f644: ['OK', 'EACCES'],
    f744: 'OK',
    f001: 'OK',
    f000: ['OK', 'EACCES', 'OK'],
    d000: ['OK', []],
    dangling: 'ENOENT',
    missing: 'ENOENT',
  },
};

export const execMmap: Scenario = {
  name: 'exec of binaries and scripts, mmap shared and private',
  run(root) {
    const p = (s: string) => join(root, s);
    fs.copyFileSync('/bin/echo', p('echo'));
    fs.chmodSync(p('echo'), 0o755);
    fs.writeFileSync(p('script'), '#!/bin/sh\necho "script ran: $1"\n', { mode: 0o755 });
    fs.writeFileSync(p('noexec'), '#!/bin/sh\necho no\n', { mode: 0o644 });
    const run = (cmd: string, ...args: string[]) => {
      const r = spawnSync(cmd, args, { encoding: 'utf8' });
      return r.error ? (r.error as NodeJS.ErrnoException).code : [r.status, r.stdout];
    };
    const r: Record<string, unknown> = {
      binary: run(p('echo'), 'hi'),
      script: run(p('script'), 'arg'),
      notExecutable: run(p('noexec')),
    };
    fs.writeFileSync(p('m'), Buffer.alloc(8192, 'a'));
    const fd = fs.openSync(p('m'), 'r+');
    r.mapRead = valOr(() => withMmap(fd, 8192, PROT_READ, MAP_SHARED, (mem) => mem.toString('utf8', 8190)));
    r.mapShared = valOr(() => withMmap(fd, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, (mem) => mem.write('shared', 4096)));
    r.mapPrivate = valOr(() => withMmap(fd, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE, (mem) => (mem.write('private', 0), mem.toString('utf8', 0, 7))));
    fs.writeSync(fd, 'W', 100);
    r.mapSeesWrite = valOr(() => withMmap(fd, 8192, PROT_READ, MAP_SHARED, (mem) => mem.toString('utf8', 99, 102)));
    fs.closeSync(fd);
    const data = fs.readFileSync(p('m'), 'utf8');
    r.file = [data.length, data.slice(0, 3), data.slice(4094, 4104), data.slice(99, 102)];
    const ro = fs.openSync(p('m'), 'r');
    r.sharedWriteOnReadOnlyFd = code(() => withMmap(ro, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, () => 0));
    fs.closeSync(ro);
    return r;
  },
  expect: {
    binary: [0, 'hi\n'],
    script: [0, 'script ran: arg\n'],
    notExecutable: 'EACCES',
    mapRead: 'aa',
    mapShared: 6,
    mapPrivate: 'private',
    mapSeesWrite: 'aWa',
    file: [8192, 'aaa', 'aasharedaa', 'aWa'],
    sharedWriteOnReadOnlyFd: 'EACCES',
  },
};

export const tmpfile: Scenario = {
  name: 'O_TMPFILE: unnamed file, then linked into the directory',
  run(root) {
    const r: Record<string, unknown> = {};
    let fd: number;
    try {
      fd = fs.openSync(root, O_TMPFILE | fs.constants.O_RDWR, 0o640);
    } catch (e) {
      return { open: (e as NodeJS.ErrnoException).code };
    }
    r.open = 'OK';
    fs.writeSync(fd, 'anonymous');
    r.invisible = ls(root);
    const st = fs.fstatSync(fd);
    r.fstat = [st.nlink, st.size, (st.mode & 0o7777).toString(8)];
    r.link = code(() => linkat(`/proc/self/fd/${fd}`, join(root, 'named'), AT_SYMLINK_FOLLOW));
    fs.closeSync(fd);
    r.named = [snapOr(join(root, 'named')), fs.readFileSync(join(root, 'named'), 'utf8')];
    r.onFile = code(() => fs.openSync(join(root, 'named'), O_TMPFILE | fs.constants.O_RDWR));
    return r;
  },
  expect: {
    open: 'OK',
    invisible: [],
    fstat: [0, 9, '640'],
    link: 'OK',
    named: [{ type: 'file', mode: '0640', nlink: 1, uid: 0, gid: 0, size: 9 }, 'anonymous'],
    onFile: 'ENOTDIR',
  },
};

export const hostChanges: Scenario = {
  name: 'changes made on the host side are seen at once (no caching)',
  run(root, ctx) {
    const p = (s: string) => join(root, s);
    const h = (s: string) => join(ctx.host(root), s);
    const r: Record<string, unknown> = {};
    r.missingFirst = code(() => fs.statSync(p('f')));
    fs.writeFileSync(h('f'), 'v1');
    r.appears = fs.readFileSync(p('f'), 'utf8');
    const fd = fs.openSync(p('f'), 'r');
    fs.writeFileSync(h('f'), 'version two');
    r.contentChange = [fs.readFileSync(p('f'), 'utf8'), snap(p('f')).size];
    fs.appendFileSync(h('f'), '+');
    const b = Buffer.alloc(64);
    r.openFdSeesAppend = b.toString('utf8', 0, fs.readSync(fd, b, 0, 64, 0));
    fs.closeSync(fd);
    fs.chmodSync(h('f'), 0o600);
    fs.utimesSync(h('f'), 1000, 2000);
    r.attrChange = [snap(p('f')).mode, fs.statSync(p('f')).mtimeMs];
    fs.renameSync(h('f'), h('g'));
    r.renamed = [snapOr(p('f')), fs.readFileSync(p('g'), 'utf8')];
    fs.unlinkSync(h('g'));
    r.unlinked = snapOr(p('g'));
    fs.mkdirSync(h('d'));
    fs.writeFileSync(h('d/x'), '');
    r.dirAppears = ls(p('d'));
    fs.rmSync(h('d'), { recursive: true });
    r.dirGone = [snapOr(p('d')), ls(root)];
    fs.writeFileSync(h('n'), 'file');
    r.wasFile = snap(p('n')).type;
    fs.unlinkSync(h('n'));
    fs.mkdirSync(h('n'));
    r.nowDir = snap(p('n')).type;
    fs.symlinkSync('n', h('l'));
    r.linkAppears = fs.readlinkSync(p('l'));
    fs.unlinkSync(h('l'));
    fs.symlinkSync('other', h('l'));
    r.linkRetargeted = fs.readlinkSync(p('l'));
    return r;
  },
  expect: {
    missingFirst: 'ENOENT',
    appears: 'v1',
    contentChange: ['version two', 11],
    openFdSeesAppend: 'version two+',
    attrChange: ['0600', 2_000_000],
    renamed: ['ENOENT', 'version two+'],
    unlinked: 'ENOENT',
    dirAppears: ['x'],
    dirGone: ['ENOENT', []],
    wasFile: 'file',
    nowDir: 'dir',
    linkAppears: 'n',
    linkRetargeted: 'other',
  },
};

export const negativeNotCached: Scenario = {
  name: 'a name created on the host side after a failed lookup is seen at once',
  run(root, ctx) {
    const r = { before: code(() => fs.statSync(join(root, 'late'))), again: code(() => fs.statSync(join(root, 'late'))) };
    fs.writeFileSync(join(ctx.host(root), 'late'), 'here');
    return { ...r, after: code(() => fs.statSync(join(root, 'late'))), content: fs.readFileSync(join(root, 'late'), 'utf8') };
  },
  expect: { before: 'ENOENT', again: 'ENOENT', after: 'OK', content: 'here' },
};

export const scenarios = [access, execMmap, tmpfile];
