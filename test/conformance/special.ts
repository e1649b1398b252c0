/** Scenarios for locks, non-root callers, special files and statfs. */
import * as fs from 'node:fs';
import * as net from 'node:net';
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { F_GETLK, F_RDLCK, F_SETLK, F_UNLCK, F_WRLCK, fcntlLock, statfs } from './libc.js';
import { CHILD, NOBODY, asNobody, child, code, holder, snap, snapOr, type Scenario } from './harness.js';

export const flock: Scenario = {
  name: 'flock between processes (util-linux flock)',
  async run(root) {
    const f = join(root, 'f');
    fs.writeFileSync(f, '');
    const nb = (...args: string[]) => spawnSync('flock', ['-n', ...args, f, 'true']).status;
    const r: Record<string, unknown> = { free: nb('-x') };
    let h = await holder('flock', ['-x', f, 'sh', '-c', 'echo held; read x; exit 0'], /held/);
    r.exclusiveHeld = [nb('-x'), nb('-s')];
    r.holderExit = await h.release();
    r.afterRelease = nb('-x');
    h = await holder('flock', ['-s', f, 'sh', '-c', 'echo held; read x; exit 0'], /held/);
    r.sharedHeld = [nb('-s'), nb('-x')];
    r.sharedHolderExit = await h.release();
    r.onDir = spawnSync('flock', ['-n', root, 'true']).status;
    return r;
  },
  expect: { free: 0, exclusiveHeld: [1, 1], holderExit: 0, afterRelease: 0, sharedHeld: [0, 1], sharedHolderExit: 0, onDir: 0 },
};

export const posixLocks: Scenario = {
  name: 'POSIX fcntl locks between processes: F_SETLK conflicts, F_GETLK reports the holder',
  async run(root) {
    const f = join(root, 'f');
    fs.writeFileSync(f, Buffer.alloc(1000));
    const fd = fs.openSync(f, 'r+');
    const setlk = (type: number, start: number, len: number) => code(() => fcntlLock(fd, F_SETLK, { type, start, len }));
    const getlk = (type: number, start: number, len: number) => fcntlLock(fd, F_GETLK, { type, start, len });
    const r: Record<string, unknown> = {};
    let h = await holder(process.execPath, [CHILD, 'lock', f, 'w', '0', '100'], /locked|failed/);
    r.writeConflict = setlk(F_WRLCK, 0, 100);
    r.overlapConflict = setlk(F_WRLCK, 50, 10);
    r.readConflict = setlk(F_RDLCK, 99, 1);
    r.disjoint = setlk(F_WRLCK, 100, 10);
    const g = getlk(F_WRLCK, 0, 10);
    r.getlk = { type: g.type === F_WRLCK ? 'write' : g.type, start: g.start, len: g.len, holderPid: g.pid === h.pid };
    const free = getlk(F_WRLCK, 500, 10);
    r.getlkFree = free.type === F_UNLCK ? 'unlocked' : free.type;
    r.wholeFile = setlk(F_WRLCK, 0, 0);
    r.holderExit = await h.release();
    r.afterRelease = setlk(F_WRLCK, 0, 100);
    r.unlock = setlk(F_UNLCK, 0, 0);

    h = await holder(process.execPath, [CHILD, 'lock', f, 'r', '0', '0'], /locked|failed/);
    r.sharedRead = setlk(F_RDLCK, 0, 100);
    r.writeOverRead = setlk(F_WRLCK, 200, 10);
    const gr = getlk(F_WRLCK, 0, 0);
    r.getlkRead = { type: gr.type === F_RDLCK ? 'read' : gr.type, holderPid: gr.pid === h.pid };
    r.readHolderExit = await h.release();
    r.writeAfter = setlk(F_WRLCK, 200, 10);
    // closing any fd of the file drops this process's locks (POSIX semantics)
    fs.closeSync(fs.openSync(f, 'r'));
    h = await holder(process.execPath, [CHILD, 'lock', f, 'w', '200', '10'], /locked|failed/);
    r.afterCloseOtherFd = h.output().trim().replace(/\d+/, 'PID');
    await h.release();
    fs.closeSync(fd);
    return r;
  },
  expect: {
    writeConflict: 'EAGAIN',
    overlapConflict: 'EAGAIN',
    readConflict: 'EAGAIN',
    disjoint: 'OK',
    getlk: { type: 'write', start: 0, len: 100, holderPid: true },
    getlkFree: 'unlocked',
    wholeFile: 'EAGAIN',
    holderExit: 0,
    afterRelease: 'OK',
    unlock: 'OK',
    sharedRead: 'OK',
    writeOverRead: 'EAGAIN',
    getlkRead: { type: 'read', holderPid: true },
    readHolderExit: 0,
    writeAfter: 'OK',
    afterCloseOtherFd: 'locked PID',
  },
};

const owned = (type: string, mode: string, size: number, gid = NOBODY, nlink = 1) => ({ type, mode, nlink, uid: NOBODY, gid, size });

export const nonRoot: Scenario = {
  name: 'non-root caller: ownership of what it creates, EACCES/EPERM on what it may not touch',
  run(root) {
    const p = (s: string) => join(root, s);
    fs.chmodSync(root, 0o1777);
    fs.writeFileSync(p('secret'), 'top secret', { mode: 0o600 });
    fs.writeFileSync(p('public'), 'public', { mode: 0o644 });
    fs.writeFileSync(p('others'), 'not yours', { mode: 0o644 });
    fs.chownSync(p('others'), 1234, 1234);
    fs.mkdirSync(p('rootdir'), 0o755);
    fs.mkdirSync(p('sg'));
    fs.chownSync(p('sg'), 0, 1234);
    fs.chmodSync(p('sg'), 0o2777);
    fs.mkdirSync(p('open'));
    fs.chmodSync(p('open'), 0o777);
    fs.writeFileSync(p('open/rootowned'), '');
    const ops: [string, ...(string | number)[]][] = [
      ['write', p('mine'), 'my data'],
      ['mkdir', p('mydir')],
      ['symlink', 'mine', p('mylink')],
      ['read', p('secret')],
      ['read', p('public')],
      ['write', p('public'), 'x', 'a'],
      ['write', p('others'), 'x', 'a'],
      ['write', p('rootdir/x'), 'x'],
      ['mkdir', p('rootdir/y')],
      ['symlink', 'x', p('rootdir/z')],
      ['readdir', p('rootdir')],
      ['chmod', p('public'), 0o666],
      ['chown', p('public'), NOBODY, NOBODY],
      ['unlink', p('public')],
      ['unlink', p('others')],
      ['rename', p('others'), p('stolen')],
      ['rmdir', p('rootdir')],
      ['truncate', p('public'), 0],
      ['utimes', p('public'), 1, 1],
      ['touch', p('public')],
      ['touch', p('mine')],
      ['utimes', p('mine'), 1, 1],
      ['link', p('secret'), p('hardlink')],
      ['chmod', p('mine'), 0o4755],
      ['write', p('mine'), ' more', 'a'],
      ['chown', p('mine'), 0, 0],
      ['chown', p('mine'), -1, 1234],
      ['chown', p('mine'), -1, NOBODY],
      ['write', p('sg/f'), 'in sgid dir'],
      ['mkdir', p('sg/sub')],
      ['unlink', p('open/rootowned')],
      ['write', p('doomed'), ''],
      ['unlink', p('doomed')],
      ['mkdir', p('private')],
      ['chmod', p('private'), 0o700],
      ['write', p('private/inside'), 'hidden'],
    ];
    const results = child(['ops', JSON.stringify(ops)], asNobody) as unknown[];
    const r: Record<string, unknown> = {};
    ops.forEach((o, i) => {
      const path = o.slice(1).find((a) => typeof a === 'string' && a.startsWith(root + '/')) as string;
      r[`${i} ${o[0]} ${path.slice(root.length + 1)}`] = results[i];
    });
    r.mkfifo = spawnSync('mkfifo', [p('myfifo')], asNobody).status;
    r.owners = Object.fromEntries(['mine', 'mydir', 'mylink', 'myfifo', 'sg/f', 'sg/sub', 'private', 'private/inside', 'public', 'others'].map((n) => [n, snapOr(p(n))]));
    r.rootReadsPrivate = fs.readFileSync(p('private/inside'), 'utf8');
    r.left = fs.readdirSync(root).sort();
    return r;
  },
  expect: {
    '0 write mine': 'OK',
    '1 mkdir mydir': 'OK',
    '2 symlink mylink': 'OK',
    '3 read secret': 'EACCES',
    '4 read public': 'public',
    '5 write public': 'EACCES',
    '6 write others': 'EACCES',
    '7 write rootdir/x': 'EACCES',
    '8 mkdir rootdir/y': 'EACCES',
    '9 symlink rootdir/z': 'EACCES',
    '10 readdir rootdir': [],
    '11 chmod public': 'EPERM',
    '12 chown public': 'EPERM',
    '13 unlink public': 'EPERM',
    '14 unlink others': 'EPERM',
    '15 rename others': 'EPERM',
    '16 rmdir rootdir': 'EPERM',
    '17 truncate public': 'EACCES',
    '18 utimes public': 'EPERM',
    '19 touch public': 'EACCES',
    '20 touch mine': 'OK',
    '21 utimes mine': 'OK',
    '22 link secret': 'EPERM',
    '23 chmod mine': 'OK',
    '24 write mine': 'OK',
    '25 chown mine': 'EPERM',
    '26 chown mine': 'EPERM',
    '27 chown mine': 'OK',
    '28 write sg/f': 'OK',
    '29 mkdir sg/sub': 'OK',
    '30 unlink open/rootowned': 'OK',
    '31 write doomed': 'OK',
    '32 unlink doomed': 'OK',
    '33 mkdir private': 'OK',
    '34 chmod private': 'OK',
    '35 write private/inside': 'OK',
    mkfifo: 0,
    owners: {
      mine: owned('file', '0755', 12),
      mydir: owned('dir', '0755', 4096, NOBODY, 2),
      mylink: owned('symlink', '0777', 4),
      myfifo: owned('fifo', '0644', 0),
      'sg/f': owned('file', '0644', 11, 1234),
      'sg/sub': owned('dir', '2755', 4096, 1234, 2),
      private: owned('dir', '0700', 4096, NOBODY, 2),
      'private/inside': owned('file', '0644', 6),
      public: { type: 'file', mode: '0644', nlink: 1, uid: 0, gid: 0, size: 6 },
      others: { type: 'file', mode: '0644', nlink: 1, uid: 1234, gid: 1234, size: 9 },
    },
    rootReadsPrivate: 'hidden',
    left: ['mine', 'mydir', 'myfifo', 'mylink', 'open', 'others', 'private', 'public', 'rootdir', 'secret', 'sg'],
  },
};

export const posixAcl: Scenario = {
  name: 'POSIX ACLs: an ACL entry grants a non-root caller access that the mode bits do not',
  run(root) {
    const p = (s: string) => join(root, s);
    fs.chmodSync(root, 0o755);
    fs.writeFileSync(p('granted'), 'by acl', { mode: 0o600 });
    fs.writeFileSync(p('plain'), 'no acl', { mode: 0o600 });
    fs.mkdirSync(p('inherit'));
    const setfacl = (...args: string[]) => spawnSync('setfacl', args, { cwd: root, encoding: 'utf8' }).status;
    const getfacl = (n: string) => spawnSync('getfacl', ['-c', '-p', '-n', n], { cwd: root, encoding: 'utf8' }).stdout.trim().split('\n');
    const r: Record<string, unknown> = {
      setfacl: setfacl('-m', `u:${NOBODY}:r`, 'granted'),
      setDefault: setfacl('-m', `u:${NOBODY}:rwx,d:u:${NOBODY}:rwx`, 'inherit'),
    };
    fs.writeFileSync(p('inherit/child'), 'inherited', { mode: 0o660 });
    r.modes = ['granted', 'plain', 'inherit', 'inherit/child'].map((n) => snap(p(n)).mode);
    r.acl = getfacl('granted');
    r.inheritedAcl = getfacl('inherit/child');
    r.nobody = child(['ops', JSON.stringify([['read', p('granted')], ['read', p('plain')], ['read', p('inherit/child')], ['write', p('inherit/new'), 'x']])], asNobody);
    r.removed = setfacl('-b', 'granted');
    r.afterRemove = [snap(p('granted')).mode, child(['ops', JSON.stringify([['read', p('granted')]])], asNobody)];
    return r;
  },
  expect: {
    setfacl: 0,
    setDefault: 0,
    modes: ['0640', '0600', '0775', '0660'],
    acl: ['user::rw-', `user:${NOBODY}:r--`, 'group::---', 'mask::r--', 'other::---'],
    inheritedAcl: ['user::rw-', `user:${NOBODY}:rwx\t#effective:rw-`, 'group::r-x\t#effective:r--', 'mask::rw-', 'other::---'],
    nobody: ['by acl', 'EACCES', 'inherited', 'OK'],
    removed: 0,
    afterRemove: ['0600', ['EACCES']],
  },
};

export const specialFiles: Scenario = {
  name: 'mknod: fifo, unix socket, char and block devices',
  async run(root) {
    const p = (s: string) => join(root, s);
    const r: Record<string, unknown> = {};
    r.mkfifo = spawnSync('mkfifo', ['-m', '0640', 'p'], { cwd: root }).status;
    r.mkfifoAgain = spawnSync('mkfifo', ['p'], { cwd: root, stdio: 'ignore' }).status;
    r.fifo = snap(p('p'));
    const reader = spawn('cat', [p('p')]);
    let got = '';
    reader.stdout.on('data', (d) => (got += d));
    const readerDone = new Promise((res) => reader.on('exit', res));
    await fs.promises.writeFile(p('p'), 'through the fifo');
    r.fifoData = [await readerDone, got];

    const server = net.createServer((c) => c.on('data', (d) => c.end(`pong:${d}`)));
    await new Promise<void>((res) => server.listen(p('s'), res));
    r.socket = snap(p('s'));
    r.socketReply = await new Promise<string>((res, rej) => {
      const c = net.connect(p('s'));
      let reply = '';
      c.on('error', (e) => res((e as NodeJS.ErrnoException).code ?? String(e)));
      c.on('data', (d) => (reply += d));
      c.on('end', () => res(reply));
      c.write('ping');
      setTimeout(() => rej(new Error('socket timeout')), 5000).unref();
    });
    await new Promise((res) => server.close(res));
    r.socketAfterClose = snapOr(p('s'));
    r.bindExisting = await new Promise((res) => {
      const s2 = net.createServer();
      s2.on('error', (e) => res((e as NodeJS.ErrnoException).code));
      s2.listen(p('p'), () => s2.close(() => res('OK')));
    });

    r.mknodChr = spawnSync('mknod', ['-m', '0600', 'null', 'c', '1', '3'], { cwd: root }).status;
    r.mknodBlk = spawnSync('mknod', ['-m', '0660', 'loop', 'b', '7', '0'], { cwd: root }).status;
    r.mknodExists = spawnSync('mknod', ['null', 'c', '1', '3'], { cwd: root, stdio: 'ignore' }).status;
    r.chr = { ...snap(p('null')), rdev: fs.lstatSync(p('null')).rdev };
    r.blk = { ...snap(p('loop')), rdev: fs.lstatSync(p('loop')).rdev };
    r.types = fs.readdirSync(root, { withFileTypes: true }).map((e) => [e.name, e.isFIFO() ? 'p' : e.isSocket() ? 's' : e.isCharacterDevice() ? 'c' : e.isBlockDevice() ? 'b' : '?']).sort();
    return r;
  },
  expect: {
    mkfifo: 0,
    mkfifoAgain: 1,
    fifo: { type: 'fifo', mode: '0640', nlink: 1, uid: 0, gid: 0, size: 0 },
    fifoData: [0, 'through the fifo'],
    socket: { type: 'socket', mode: '0755', nlink: 1, uid: 0, gid: 0, size: 0 },
    socketReply: 'pong:ping',
    socketAfterClose: 'ENOENT',
    bindExisting: 'EADDRINUSE',
    mknodChr: 0,
    mknodBlk: 0,
    mknodExists: 1,
    chr: { type: 'chr', mode: '0600', nlink: 1, uid: 0, gid: 0, size: 0, rdev: 259 },
    blk: { type: 'blk', mode: '0660', nlink: 1, uid: 0, gid: 0, size: 0, rdev: 1792 },
    types: [['loop', 'b'], ['null', 'c'], ['p', 'p']],
  },
};

export const statfsScenario: Scenario = {
  name: 'statfs: block size, name length, totals of the underlying filesystem',
  run(root) {
    const k = statfs(root);
    const n = fs.statfsSync(root);
    return { bsize: k.bsize, frsize: k.frsize, namelen: k.namelen, blocks: k.blocks, files: k.files, node: [n.bsize, n.blocks, n.files] };
  },
  expect: (r) => {
    if (r.bsize !== 4096 || r.frsize !== 4096 || r.namelen !== 255 || !((r.blocks as number) > 0) || !((r.files as number) > 0)) {
      throw new Error(`statfs ${JSON.stringify(r)}`);
    }
  },
};

export const lockScenarios = [flock, posixLocks];
export const scenarios = [specialFiles, statfsScenario];
export const nonRootScenarios = [nonRoot, posixAcl];
