/** Scenarios for names: lookup, create/open, mkdir/rmdir, unlink, rename, link, symlink, readdir. */
import * as fs from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { RENAME_EXCHANGE, RENAME_NOREPLACE, getdents64, renameat2 } from './libc.js';
import { code, ls, snap, snapOr, type Scenario } from './harness.js';

const { O_RDONLY, O_WRONLY, O_RDWR, O_CREAT, O_EXCL, O_TRUNC, O_APPEND, O_DIRECTORY, O_NOFOLLOW } = fs.constants;

const file = (mode: string, size: number, nlink = 1) => ({ type: 'file', mode, nlink, uid: 0, gid: 0, size });
const dir = (mode: string, nlink: number, size = 4096) => ({ type: 'dir', mode, nlink, uid: 0, gid: 0, size });

function readFd(fd: number, len = 64, pos: number | null = 0): string {
  const b = Buffer.alloc(len);
  return b.toString('utf8', 0, fs.readSync(fd, b, 0, len, pos));
}

export const lookup: Scenario = {
  name: 'lookup/stat: errors and symlink resolution',
  run(root) {
    const p = (s: string) => join(root, s);
    fs.writeFileSync(p('f'), 'data');
    fs.mkdirSync(p('d'));
    fs.symlinkSync('loop2', p('loop1'));
    fs.symlinkSync('loop1', p('loop2'));
    fs.symlinkSync('loop1', p('toloop'));
    fs.symlinkSync('f', p('lf'));
    fs.symlinkSync('d', p('ld'));
    const n255 = 'n'.repeat(255);
    const n256 = 'n'.repeat(256);
    // 85 three-byte characters: 255 bytes, a legal name that is far from 255 UTF-16 units
    const wide = '\u20ac'.repeat(85);
    return {
      file: snap(p('f')),
      dir: snap(p('d')),
      missing: code(() => fs.statSync(p('nope'))),
      missingParent: code(() => fs.statSync(p('nope/x'))),
      fileAsDir: code(() => fs.statSync(p('f/x'))),
      fileTrailingSlash: code(() => fs.statSync(p('f') + '/')),
      dirTrailingSlash: code(() => fs.statSync(p('d') + '/')),
      dotdot: code(() => fs.statSync(p('d/../f'))),
      name255: code(() => fs.writeFileSync(p(n255), 'ok')),
      name255stat: code(() => fs.statSync(p(n255))),
      name256stat: code(() => fs.statSync(p(n256))),
      name256create: code(() => fs.writeFileSync(p(n256), 'x')),
      name256mkdir: code(() => fs.mkdirSync(p(n256))),
      wide255: code(() => fs.writeFileSync(p(wide), 'ok')),
      wide256: code(() => fs.writeFileSync(p(wide + 'x'), 'ok')),
      loopStat: code(() => fs.statSync(p('loop1'))),
      loopViaLink: code(() => fs.readFileSync(p('toloop'))),
      loopLstat: snap(p('loop1')).type,
      noFollowOnSymlink: code(() => fs.openSync(p('lf'), O_RDONLY | O_NOFOLLOW)),
      noFollowOnFile: code(() => fs.closeSync(fs.openSync(p('f'), O_RDONLY | O_NOFOLLOW))),
      throughLink: fs.readFileSync(p('lf'), 'utf8'),
      throughDirLink: fs.readdirSync(p('ld')),
      linkInPath: code(() => fs.statSync(p('ld/../f'))),
      names: ls(root).map((n) => (n.length > 20 ? `${n.slice(0, 3)}…(${Buffer.byteLength(n)} bytes)` : n)),
    };
  },
  expect: {
    file: file('0644', 4),
    dir: dir('0755', 2),
    missing: 'ENOENT',
    missingParent: 'ENOENT',
    fileAsDir: 'ENOTDIR',
    fileTrailingSlash: 'ENOTDIR',
    dirTrailingSlash: 'OK',
    dotdot: 'OK',
    name255: 'OK',
    name255stat: 'OK',
    name256stat: 'ENAMETOOLONG',
    name256create: 'ENAMETOOLONG',
    name256mkdir: 'ENAMETOOLONG',
    wide255: 'OK',
    wide256: 'ENAMETOOLONG',
    loopStat: 'ELOOP',
    loopViaLink: 'ELOOP',
    loopLstat: 'symlink',
    noFollowOnSymlink: 'ELOOP',
    noFollowOnFile: 'OK',
    throughLink: 'data',
    throughDirLink: [],
    linkInPath: 'OK',
    names: ['d', 'f', 'ld', 'lf', 'loop1', 'loop2', 'nnn…(255 bytes)', 'toloop', '€€€…(255 bytes)'],
  },
};

export const createOpen: Scenario = {
  name: 'create/open: O_EXCL, O_TRUNC, O_APPEND, O_DIRECTORY, EISDIR, umask',
  run(root) {
    const p = (s: string) => join(root, s);
    fs.writeFileSync(p('f'), 'hello world');
    fs.mkdirSync(p('d'));
    const r: Record<string, unknown> = {};
    r.exclOnExisting = code(() => fs.openSync(p('f'), O_CREAT | O_EXCL | O_WRONLY));
    r.exclOnDir = code(() => fs.openSync(p('d'), O_CREAT | O_EXCL | O_WRONLY));
    let fd = fs.openSync(p('f'), O_CREAT | O_RDWR);
    r.creatOnExistingKeeps = readFd(fd);
    fs.closeSync(fd);
    r.dirForWrite = code(() => fs.openSync(p('d'), O_WRONLY));
    r.dirForReadWrite = code(() => fs.openSync(p('d'), O_RDWR));
    r.dirCreat = code(() => fs.openSync(p('d'), O_CREAT | O_WRONLY));
    r.dirForRead = code(() => fs.closeSync(fs.openSync(p('d'), O_RDONLY)));
    r.directoryOnFile = code(() => fs.openSync(p('f'), O_RDONLY | O_DIRECTORY));
    r.directoryOnDir = code(() => fs.closeSync(fs.openSync(p('d'), O_RDONLY | O_DIRECTORY)));
    r.createTrailingSlash = code(() => fs.openSync(p('new/'), O_CREAT | O_WRONLY));
    r.missingNoCreat = code(() => fs.openSync(p('missing'), O_RDWR));

    fs.writeFileSync(p('t'), 'some content');
    fs.closeSync(fs.openSync(p('t'), O_WRONLY | O_TRUNC));
    r.truncated = snap(p('t')).size;
    fs.writeFileSync(p('t2'), 'some content');
    fs.closeSync(fs.openSync(p('t2'), O_RDONLY | O_TRUNC)); // Linux truncates even for O_RDONLY
    r.truncatedRdonly = snap(p('t2')).size;

    fs.writeFileSync(p('a'), 'abc');
    fd = fs.openSync(p('a'), O_WRONLY | O_APPEND);
    fs.writeSync(fd, 'def');
    fs.writeSync(fd, 'X', 0); // the position is ignored with O_APPEND
    fs.closeSync(fd);
    fd = fs.openSync(p('a'), O_RDWR | O_APPEND);
    r.appendReadsFromStart = readFd(fd, 3, null);
    fs.writeSync(fd, 'Y');
    r.appendPosAfterWrite = readFd(fd, 10, null);
    fs.closeSync(fd);
    r.appended = fs.readFileSync(p('a'), 'utf8');

    fd = fs.openSync(p('w'), O_WRONLY | O_CREAT | O_EXCL, 0o640);
    r.readOnWriteOnly = code(() => readFd(fd));
    fs.closeSync(fd);
    fd = fs.openSync(p('f'), O_RDONLY);
    r.writeOnReadOnly = code(() => fs.writeSync(fd, 'x'));
    fs.closeSync(fd);

    fs.symlinkSync('target', p('dangling'));
    r.exclOnDangling = code(() => fs.openSync(p('dangling'), O_CREAT | O_EXCL | O_WRONLY));
    fs.writeFileSync(p('dangling'), 'made through a link');
    r.createdThroughLink = fs.readFileSync(p('target'), 'utf8');

    fs.closeSync(fs.openSync(p('m0600'), O_CREAT | O_WRONLY, 0o600));
    fs.closeSync(fs.openSync(p('m0777'), O_CREAT | O_WRONLY, 0o777));
    fs.closeSync(fs.openSync(p('m4777'), O_CREAT | O_WRONLY, 0o4777));
    const sh = spawnSync('sh', ['-c', 'umask 027; touch u027; mkdir ud027; umask 0; touch u0; mkdir ud0; umask 777; touch u777'], { cwd: root });
    r.shStatus = sh.status;
    for (const n of ['w', 'm0600', 'm0777', 'm4777', 'u027', 'ud027', 'u0', 'ud0', 'u777']) r[n] = snap(p(n)).mode;
    r.listing = ls(root);
    return r;
  },
  expect: {
    exclOnExisting: 'EEXIST',
    exclOnDir: 'EEXIST',
    creatOnExistingKeeps: 'hello world',
    dirForWrite: 'EISDIR',
    dirForReadWrite: 'EISDIR',
    dirCreat: 'EISDIR',
    dirForRead: 'OK',
    directoryOnFile: 'ENOTDIR',
    directoryOnDir: 'OK',
    createTrailingSlash: 'EISDIR',
    missingNoCreat: 'ENOENT',
    truncated: 0,
    truncatedRdonly: 0,
    appendReadsFromStart: 'abc',
    appendPosAfterWrite: '',
    appended: 'abcdefXY',
    readOnWriteOnly: 'EBADF',
    writeOnReadOnly: 'EBADF',
    exclOnDangling: 'EEXIST',
    createdThroughLink: 'made through a link',
    shStatus: 0,
    w: '0640',
    m0600: '0600',
    m0777: '0755',
    m4777: '4755',
    u027: '0640',
    ud027: '0750',
    u0: '0666',
    ud0: '0777',
    u777: '0000',
    listing: ['a', 'd', 'dangling', 'f', 'm0600', 'm0777', 'm4777', 't', 't2', 'target', 'u0', 'u027', 'u777', 'ud0', 'ud027', 'w'],
  },
};

export const mkdirRmdir: Scenario = {
  name: 'mkdir/rmdir: errors, parent link counts, mkdir -p',
  run(root) {
    const p = (s: string) => join(root, s);
    const nl = () => fs.statSync(root).nlink;
    const r: Record<string, unknown> = { nlink0: nl() };
    fs.mkdirSync(p('a'));
    r.nlinkAfterMkdir = nl();
    fs.mkdirSync(p('b'), 0o700);
    fs.mkdirSync(p('c'), 0o3777); // mkdir keeps the sticky bit, not setgid
    r.nlinkAfter3 = nl();
    fs.writeFileSync(p('f'), '');
    r.nlinkAfterFile = nl();
    r.exists = code(() => fs.mkdirSync(p('a')));
    r.existsFile = code(() => fs.mkdirSync(p('f')));
    r.existsTrailing = code(() => fs.mkdirSync(p('a/')));
    r.underFile = code(() => fs.mkdirSync(p('f/x')));
    r.underMissing = code(() => fs.mkdirSync(p('nope/x')));
    fs.writeFileSync(p('a/inner'), 'x');
    r.notEmpty = code(() => fs.rmdirSync(p('a')));
    r.rmdirFile = code(() => fs.rmdirSync(p('f')));
    r.rmdirMissing = code(() => fs.rmdirSync(p('nope')));
    r.rmdirDot = code(() => fs.rmdirSync(p('b') + '/.'));
    r.rmdirDotDot = code(() => fs.rmdirSync(p('b') + '/..'));
    r.rmdirTrailing = code(() => fs.rmdirSync(p('b') + '/'));
    r.nlinkAfterRmdir = nl();
    fs.mkdirSync(p('x/y/z'), { recursive: true });
    r.mkdirP = spawnSync('mkdir', ['-p', 'q/r/s', 'x/y/z2'], { cwd: root }).status;
    r.tree = ['a', 'c', 'x', 'x/y', 'x/y/z', 'x/y/z2', 'q', 'q/r', 'q/r/s'].map((d) => [d, snap(p(d)).mode, snap(p(d)).nlink]);
    r.nlinkEnd = nl();
    return r;
  },
  expect: {
    nlink0: 2,
    nlinkAfterMkdir: 3,
    nlinkAfter3: 5,
    nlinkAfterFile: 5,
    exists: 'EEXIST',
    existsFile: 'EEXIST',
    existsTrailing: 'EEXIST',
    underFile: 'ENOTDIR',
    underMissing: 'ENOENT',
    notEmpty: 'ENOTEMPTY',
    rmdirFile: 'ENOTDIR',
    rmdirMissing: 'ENOENT',
    rmdirDot: 'EINVAL',
    rmdirDotDot: 'ENOTEMPTY',
    rmdirTrailing: 'OK',
    nlinkAfterRmdir: 4,
    mkdirP: 0,
    tree: [['a', '0755', 2], ['c', '1755', 2], ['x', '0755', 3], ['x/y', '0755', 4], ['x/y/z', '0755', 2], ['x/y/z2', '0755', 2], ['q', '0755', 3], ['q/r', '0755', 3], ['q/r/s', '0755', 2]],
    nlinkEnd: 6,
  },
};

export const unlink: Scenario = {
  name: 'unlink: errors, link counts, open file survives',
  run(root) {
    const p = (s: string) => join(root, s);
    fs.mkdirSync(p('d'));
    fs.writeFileSync(p('f'), 'still here');
    fs.linkSync(p('f'), p('g'));
    const r: Record<string, unknown> = {};
    r.missing = code(() => fs.unlinkSync(p('nope')));
    r.dir = code(() => fs.unlinkSync(p('d')));
    r.trailingSlash = code(() => fs.unlinkSync(p('f') + '/'));
    r.nlinkBefore = snap(p('f')).nlink;
    fs.unlinkSync(p('g'));
    r.nlinkAfter = snap(p('f')).nlink;
    const fd = fs.openSync(p('f'), 'r+');
    fs.unlinkSync(p('f'));
    r.gone = snapOr(p('f'));
    r.readAfterUnlink = readFd(fd);
    fs.writeSync(fd, ' and more', 10);
    r.readAfterWrite = readFd(fd);
    const st = fs.fstatSync(fd);
    r.fstat = { nlink: st.nlink, size: st.size, type: st.isFile() };
    fs.closeSync(fd);
    fs.writeFileSync(p('f'), 'new');
    r.recreated = fs.readFileSync(p('f'), 'utf8');
    fs.symlinkSync('f', p('l'));
    fs.unlinkSync(p('l'));
    r.unlinkSymlinkKeepsTarget = fs.readFileSync(p('f'), 'utf8');
    r.listing = ls(root);
    return r;
  },
  expect: {
    missing: 'ENOENT',
    dir: 'EISDIR',
    trailingSlash: 'ENOTDIR',
    nlinkBefore: 2,
    nlinkAfter: 1,
    gone: 'ENOENT',
    readAfterUnlink: 'still here',
    readAfterWrite: 'still here and more',
    fstat: { nlink: 0, size: 19, type: true },
    recreated: 'new',
    unlinkSymlinkKeepsTarget: 'new',
    listing: ['d', 'f'],
  },
};

export const rename: Scenario = {
  name: 'rename: overwrite, directories, errors, renameat2 flags',
  run(root) {
    const p = (s: string) => join(root, s);
    const w = (s: string, data: string) => fs.writeFileSync(p(s), data);
    const rd = (s: string) => fs.readFileSync(p(s), 'utf8');
    const r: Record<string, unknown> = {};

    w('a', 'A');
    w('b', 'B');
    const inoA = fs.statSync(p('a')).ino;
    fs.renameSync(p('a'), p('b'));
    r.overwrite = { b: rd('b'), a: snapOr(p('a')), sameInode: fs.statSync(p('b')).ino === inoA };

    fs.mkdirSync(p('d1'));
    w('d1/in', 'inside');
    fs.mkdirSync(p('d2'));
    r.nlinkRootBefore = fs.statSync(root).nlink;
    fs.renameSync(p('d1'), p('d2'));
    r.dirOverEmpty = { content: rd('d2/in'), d1: snapOr(p('d1')), nlinkRoot: fs.statSync(root).nlink };

    fs.mkdirSync(p('d3'));
    r.dirOverNonEmpty = code(() => fs.renameSync(p('d3'), p('d2')));
    r.fileOverDir = code(() => fs.renameSync(p('b'), p('d3')));
    r.dirOverFile = code(() => fs.renameSync(p('d3'), p('b')));
    fs.mkdirSync(p('d3/sub'));
    r.intoOwnSubdir = code(() => fs.renameSync(p('d3'), p('d3/sub/x')));
    r.intoItself = code(() => fs.renameSync(p('d3'), p('d3/x')));
    r.missing = code(() => fs.renameSync(p('nope'), p('x')));
    r.intoMissingDir = code(() => fs.renameSync(p('b'), p('nope/x')));
    r.fileTrailingSlash = code(() => fs.renameSync(p('b') + '/', p('c')));
    r.dirTrailingSlash = code(() => fs.renameSync(p('d3') + '/', p('d4') + '/'));
    r.dot = code(() => fs.renameSync(p('d4') + '/.', p('d5')));

    r.toItself = code(() => fs.renameSync(p('b'), p('b')));
    fs.linkSync(p('b'), p('b2'));
    r.toOwnHardLink = code(() => fs.renameSync(p('b'), p('b2')));
    r.hardLinksKept = [snapOr(p('b')), snapOr(p('b2'))];

    fs.mkdirSync(p('s'));
    fs.mkdirSync(p('t'));
    w('s/f', 'moving');
    fs.mkdirSync(p('s/sub'));
    fs.renameSync(p('s/f'), p('t/g'));
    fs.renameSync(p('s/sub'), p('t/sub'));
    r.crossDir = { s: ls(p('s')), t: ls(p('t')), g: rd('t/g'), nlinkS: fs.statSync(p('s')).nlink, nlinkT: fs.statSync(p('t')).nlink };
    fs.mkdirSync(p('t/sub/deep'));
    fs.renameSync(p('t/sub'), p('moved'));
    r.dotdotFollowsMove = fs.readdirSync(p('moved/deep/..')).sort();

    w('n1', 'one');
    w('n2', 'two');
    r.noReplaceExisting = code(() => renameat2(p('n1'), p('n2'), RENAME_NOREPLACE));
    r.noReplaceFree = code(() => renameat2(p('n1'), p('n3'), RENAME_NOREPLACE));
    r.afterNoReplace = [snapOr(p('n1')), rd('n2'), rd('n3')];
    r.exchange = code(() => renameat2(p('n2'), p('n3'), RENAME_EXCHANGE));
    r.afterExchange = [rd('n2'), rd('n3')];
    r.exchangeMissing = code(() => renameat2(p('n2'), p('nope'), RENAME_EXCHANGE));
    r.exchangeFileDir = code(() => renameat2(p('n2'), p('moved'), RENAME_EXCHANGE));
    r.afterFileDir = [snap(p('n2')).type, snap(p('moved')).type, ls(p('n2'))];
    r.bothFlags = code(() => renameat2(p('n3'), p('b'), RENAME_EXCHANGE | RENAME_NOREPLACE));
    r.listing = ls(root);
    return r;
  },
  expect: {
    overwrite: { b: 'A', a: 'ENOENT', sameInode: true },
    nlinkRootBefore: 4,
    dirOverEmpty: { content: 'inside', d1: 'ENOENT', nlinkRoot: 3 },
    dirOverNonEmpty: 'ENOTEMPTY',
    fileOverDir: 'EISDIR',
    dirOverFile: 'ENOTDIR',
    intoOwnSubdir: 'EINVAL',
    intoItself: 'EINVAL',
    missing: 'ENOENT',
    intoMissingDir: 'ENOENT',
    fileTrailingSlash: 'ENOTDIR',
    dirTrailingSlash: 'OK',
    dot: 'EBUSY',
    toItself: 'OK',
    toOwnHardLink: 'OK',
    hardLinksKept: [file('0644', 1, 2), file('0644', 1, 2)],
    crossDir: { s: [], t: ['g', 'sub'], g: 'moving', nlinkS: 2, nlinkT: 3 },
    dotdotFollowsMove: ['deep'],
    noReplaceExisting: 'EEXIST',
    noReplaceFree: 'OK',
    afterNoReplace: ['ENOENT', 'two', 'one'],
    exchange: 'OK',
    afterExchange: ['one', 'two'],
    exchangeMissing: 'ENOENT',
    exchangeFileDir: 'OK',
    afterFileDir: ['dir', 'file', ['deep']],
    bothFlags: 'EINVAL',
    listing: ['b', 'b2', 'd2', 'd4', 'moved', 'n2', 'n3', 's', 't'],
  },
};

export const link: Scenario = {
  name: 'link: hard links, link counts, errors',
  run(root) {
    const p = (s: string) => join(root, s);
    fs.writeFileSync(p('f'), 'shared');
    fs.mkdirSync(p('d'));
    fs.symlinkSync('f', p('sl'));
    const r: Record<string, unknown> = {};
    fs.linkSync(p('f'), p('g'));
    fs.linkSync(p('g'), p('d/h'));
    r.nlinks = [snap(p('f')).nlink, snap(p('g')).nlink, snap(p('d/h')).nlink];
    r.sameInode = fs.statSync(p('f')).ino === fs.statSync(p('d/h')).ino;
    fs.appendFileSync(p('d/h'), ' data');
    r.writeVisible = fs.readFileSync(p('f'), 'utf8');
    r.exists = code(() => fs.linkSync(p('f'), p('g')));
    r.existsDir = code(() => fs.linkSync(p('f'), p('d')));
    r.ofDir = code(() => fs.linkSync(p('d'), p('d2')));
    r.missing = code(() => fs.linkSync(p('nope'), p('x')));
    r.intoMissing = code(() => fs.linkSync(p('f'), p('nope/x')));
    r.underFile = code(() => fs.linkSync(p('f'), p('f/x')));
    fs.linkSync(p('sl'), p('sl2')); // link(2) does not follow the symlink
    r.symlinkLinked = [snap(p('sl2')), fs.readlinkSync(p('sl2')), snap(p('f')).nlink];
    fs.unlinkSync(p('f'));
    r.afterUnlink = [snap(p('g')).nlink, fs.readFileSync(p('d/h'), 'utf8')];
    fs.renameSync(p('g'), p('d/h'));
    r.afterRenameOntoLink = [ls(root), ls(p('d')), snap(p('d/h')).nlink];
    return r;
  },
  expect: {
    nlinks: [3, 3, 3],
    sameInode: true,
    writeVisible: 'shared data',
    exists: 'EEXIST',
    existsDir: 'EEXIST',
    ofDir: 'EPERM',
    missing: 'ENOENT',
    intoMissing: 'ENOENT',
    underFile: 'ENOTDIR',
    symlinkLinked: [{ type: 'symlink', mode: '0777', nlink: 2, uid: 0, gid: 0, size: 1 }, 'f', 3],
    afterUnlink: [2, 'shared data'],
    afterRenameOntoLink: [['d', 'g', 'sl', 'sl2'], ['h'], 2],
  },
};

export const symlink: Scenario = {
  name: 'symlink/readlink: targets kept as strings, errors, lstat',
  run(root, ctx) {
    const p = (s: string) => join(root, s);
    fs.writeFileSync(p('f'), 'target data');
    fs.mkdirSync(p('d'));
    const targets: Record<string, string> = {
      rel: 'f',
      relUp: '../' + 'x/../f',
      dangling: 'does/not/exist',
      abs: '/nonexistent-ptfs-dir/deep/file',
      absOutside: join(ctx.outside, 'hello.txt'),
      dotdots: '../../../../../../../../../../..',
      spaces: ' a b \t c ',
      utf8: 'caf\u00e9/\u65e5\u672c',
      long: 'x/'.repeat(2047) + 'y', // 4095 bytes: the longest target Linux takes
    };
    const r: Record<string, unknown> = {};
    for (const [k, t] of Object.entries(targets)) {
      fs.symlinkSync(t, p(`l-${k}`));
      const st = snap(p(`l-${k}`));
      r[k] = { same: fs.readlinkSync(p(`l-${k}`)) === t, bytes: Buffer.byteLength(t), lstat: st };
    }
    r.tooLong = code(() => fs.symlinkSync('x'.repeat(4096), p('l-toolong')));
    r.readRel = fs.readFileSync(p('l-rel'), 'utf8');
    r.readDangling = code(() => fs.readFileSync(p('l-dangling')));
    r.readOutside = fs.readFileSync(p('l-absOutside'), 'utf8');
    r.statDangling = code(() => fs.statSync(p('l-dangling')));
    r.readlinkFile = code(() => fs.readlinkSync(p('f')));
    r.readlinkDir = code(() => fs.readlinkSync(p('d')));
    r.readlinkMissing = code(() => fs.readlinkSync(p('nope')));
    r.exists = code(() => fs.symlinkSync('f', p('l-rel')));
    r.existsFile = code(() => fs.symlinkSync('x', p('f')));
    r.underFile = code(() => fs.symlinkSync('x', p('f/l')));
    r.empty = code(() => fs.symlinkSync('', p('l-empty')));
    fs.symlinkSync('d', p('ld'));
    fs.writeFileSync(p('ld/through'), 'made via dir link');
    r.viaDirLink = [ls(p('d')), snap(p('ld/')).type];
    r.readlinkBuffer = fs.readlinkSync(p('l-utf8'), { encoding: 'buffer' }).toString('hex');
    return r;
  },
  expect: (r) => {
    const link = (size: number) => ({ type: 'symlink', mode: '0777', nlink: 1, uid: 0, gid: 0, size });
    for (const [k, n] of Object.entries({ rel: 1, relUp: 9, dangling: 14, abs: 31, dotdots: 32, spaces: 9, utf8: 12, long: 4095 })) {
      if (!(k in r)) throw new Error(`missing ${k}`);
      const v = r[k] as { same: boolean; bytes: number; lstat: unknown };
      if (!v.same || v.bytes !== n) throw new Error(`${k}: ${JSON.stringify(v)}`);
      if (JSON.stringify(v.lstat) !== JSON.stringify(link(n))) throw new Error(`${k}: lstat ${JSON.stringify(v.lstat)}`);
    }
    const want = {
      tooLong: 'ENAMETOOLONG', readRel: 'target data', readDangling: 'ENOENT', readOutside: 'hello from outside\n',
      statDangling: 'ENOENT', readlinkFile: 'EINVAL', readlinkDir: 'EINVAL', readlinkMissing: 'ENOENT', exists: 'EEXIST',
      existsFile: 'EEXIST', underFile: 'ENOTDIR', empty: 'ENOENT', viaDirLink: [['through'], 'dir'],
      readlinkBuffer: Buffer.from('caf\u00e9/\u65e5\u672c').toString('hex'),
    };
    for (const [k, v] of Object.entries(want)) if (JSON.stringify(r[k]) !== JSON.stringify(v)) throw new Error(`${k}: ${JSON.stringify(r[k])}, expected ${JSON.stringify(v)}`);
  },
};

export const names: Scenario = {
  name: 'readdir: names as bytes, types, large directories',
  run(root) {
    const p = (s: string) => join(root, s);
    const odd = [' space', 'new\nline', 'tab\t', 'back\\slash', 'quote"\'', 'caf\u00e9', '\u{1F600}', '-dash', '.hidden', '..dots', '*?[]'];
    for (const n of odd) fs.writeFileSync(p(n), n);
    // bytes that are not UTF-8 must survive the trip unchanged
    const raw = Buffer.concat([Buffer.from(root + '/'), Buffer.from([0x72, 0xff, 0xfe, 0x80, 0x41])]);
    fs.writeFileSync(raw, 'raw');
    fs.mkdirSync(p('dir'));
    fs.symlinkSync('dir', p('link'));
    spawnSync('mkfifo', [p('fifo')]);
    const big = p('big');
    fs.mkdirSync(big);
    for (let i = 0; i < 1000; i++) fs.writeFileSync(join(big, `entry-${i}-${'z'.repeat(i % 200)}`), '');
    const rawNames = fs.readdirSync(root, { encoding: 'buffer' }).map((b) => b.toString('hex')).sort();
    const typed = fs.readdirSync(root, { withFileTypes: true }).map((e) => [e.name, e.isFile() ? 'f' : e.isDirectory() ? 'd' : e.isSymbolicLink() ? 'l' : e.isFIFO() ? 'p' : '?']).sort();
    const bigNames = fs.readdirSync(big);
    const raws = fs.readdirSync(root, { encoding: 'buffer' }).filter((b) => b.includes(0xff));
    return {
      rawNames,
      typed,
      rawReadBack: raws.length === 1 ? fs.readFileSync(Buffer.concat([Buffer.from(root + '/'), raws[0]!]), 'utf8') : raws.length,
      oddContents: odd.map((n) => fs.readFileSync(p(n), 'utf8') === n),
      bigCount: bigNames.length,
      bigUnique: new Set(bigNames).size,
      bigSorted: bigNames.sort().join('/').length,
      getdents: (() => {
        // small buffers force many getdents calls, each resuming at the previous entry's offset
        const fd = fs.openSync(big, O_RDONLY | O_DIRECTORY);
        const seen: string[] = [];
        for (let batch; (batch = getdents64(fd, 600)).length > 0;) seen.push(...batch.map((e) => e.name));
        fs.closeSync(fd);
        return { count: seen.length, unique: new Set(seen).size };
      })(),
    };
  },
  expect: (r) => {
    const e = r as { rawNames: string[]; typed: string[][]; rawReadBack: unknown; oddContents: boolean[]; bigCount: number; bigUnique: number; getdents: unknown };
    if (e.rawNames.length !== 16 || !e.rawNames.includes('72fffe8041')) throw new Error(`rawNames ${e.rawNames}`);
    if (e.rawReadBack !== 'raw' || e.oddContents.some((x) => !x)) throw new Error('contents');
    if (e.bigCount !== 1000 || e.bigUnique !== 1000) throw new Error('big');
    if (JSON.stringify(e.getdents) !== JSON.stringify({ count: 1002, unique: 1002 })) throw new Error(`getdents ${JSON.stringify(e.getdents)}`);
    const types = Object.fromEntries(e.typed);
    if (types.dir !== 'd' || types.link !== 'l' || types.fifo !== 'p' || types.big !== 'd' || types['caf\u00e9'] !== 'f') throw new Error(`types ${JSON.stringify(types)}`);
  },
};

export const readdirChanging: Scenario = {
  name: 'readdir while entries change: no duplicates, untouched entries exactly once',
  run(root) {
    const d = join(root, 'd');
    fs.mkdirSync(d);
    const initial = Array.from({ length: 200 }, (_, i) => `e${String(i).padStart(3, '0')}`);
    for (const n of initial) fs.writeFileSync(join(d, n), n);
    const fd = fs.openSync(d, O_RDONLY | O_DIRECTORY);
    const seen: string[] = [];
    while (seen.length < 102) {
      const batch = getdents64(fd, 1024);
      if (batch.length === 0) break;
      seen.push(...batch.map((e) => e.name));
    }
    const firstHalf = seen.length;
    // delete 25 entries already returned and 25 not yet returned, create 50 new ones
    const early = new Set(seen);
    const deleted = [...initial.filter((n) => early.has(n)).slice(0, 25), ...initial.filter((n) => !early.has(n)).slice(0, 25)];
    for (const n of deleted) fs.unlinkSync(join(d, n));
    for (let i = 0; i < 50; i++) fs.writeFileSync(join(d, `new${i}`), '');
    for (let batch; (batch = getdents64(fd, 1024)).length > 0;) seen.push(...batch.map((e) => e.name));
    fs.closeSync(fd);
    const count = new Map<string, number>();
    for (const n of seen) count.set(n, (count.get(n) ?? 0) + 1);
    const gone = new Set(deleted);
    return {
      deleted: deleted.length,
      firstHalfAtLeast100: firstHalf >= 100,
      duplicates: [...count].filter(([, c]) => c > 1).map(([n]) => n),
      untouchedMissing: initial.filter((n) => !gone.has(n) && !count.has(n)),
      dots: [count.get('.'), count.get('..')],
      unknownNames: seen.filter((n) => n !== '.' && n !== '..' && !/^(e\d{3}|new\d+)$/.test(n)),
      finalListing: fs.readdirSync(d).length,
    };
  },
  expect: { deleted: 50, firstHalfAtLeast100: true, duplicates: [], untouchedMissing: [], dots: [1, 1], unknownNames: [], finalListing: 200 },
};

export const scenarios = [lookup, createOpen, mkdirRmdir, unlink, rename, link, symlink, names, readdirChanging];
