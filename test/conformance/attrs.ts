/** Scenarios for attributes: chmod/chown/truncate/utimens, timestamp relations, extended attributes. */
import * as fs from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import {
  AT_SYMLINK_NOFOLLOW, XATTR_CREATE, XATTR_REPLACE, getxattr, listxattr, removexattr, setxattr, utimensat,
} from './libc.js';
import { code, moved, sleep, snap, times, type Scenario } from './harness.js';

const ns = (t: bigint) => t.toString();
/** Within a minute of now: "touched now" without comparing clocks exactly. */
const recent = (t: bigint) => {
  const now = BigInt(Date.now()) * 1_000_000n;
  return t > now - 60_000_000_000n && t < now + 5_000_000_000n;
};

export const setattr: Scenario = {
  name: 'setattr: chmod incl. special bits, chown, truncate, utimens',
  run(root) {
    const p = (s: string) => join(root, s);
    const mode = (s: string) => snap(p(s)).mode;
    fs.writeFileSync(p('f'), 'hello world');
    fs.mkdirSync(p('d'));
    const r: Record<string, unknown> = {};

    r.fileModes = [0, 0o4755, 0o2755, 0o1755, 0o6777, 0o7777, 0o2644, 0o644].map((m) => (fs.chmodSync(p('f'), m), mode('f')));
    r.dirModes = [0o1777, 0o2755, 0o7777, 0o700, 0o755].map((m) => (fs.chmodSync(p('d'), m), mode('d')));
    r.chmodMissing = code(() => fs.chmodSync(p('nope'), 0o644));
    fs.symlinkSync('f', p('l'));
    fs.chmodSync(p('l'), 0o600); // follows the link
    r.chmodThroughLink = [mode('f'), mode('l')];

    fs.chownSync(p('f'), 65534, 65534);
    r.chownNobody = [snap(p('f')).uid, snap(p('f')).gid];
    fs.chownSync(p('f'), 1234, 5678);
    r.chownArbitrary = [snap(p('f')).uid, snap(p('f')).gid];
    fs.chownSync(p('f'), -1, 42);
    r.chownGroupOnly = [snap(p('f')).uid, snap(p('f')).gid];
    fs.lchownSync(p('l'), 777, 888);
    r.lchown = [snap(p('l')).uid, snap(p('l')).gid, snap(p('f')).uid];
    for (const [n, m] of [['suid', 0o6755], ['sgidNoExec', 0o2644], ['suidNoExec', 0o4644]] as const) {
      fs.writeFileSync(p(n), '');
      fs.chmodSync(p(n), m);
      fs.chownSync(p(n), 0, 0); // chown drops setuid, and setgid when group-executable
      r[`chown_${n}`] = mode(n);
    }
    fs.chmodSync(p('d'), 0o6755);
    fs.chownSync(p('d'), 0, 0);
    r.chownDirKeepsBits = mode('d');

    fs.writeFileSync(p('t'), 'hello world');
    fs.truncateSync(p('t'), 5);
    r.shrink = fs.readFileSync(p('t'), 'utf8');
    fs.truncateSync(p('t'), 10);
    r.grow = fs.readFileSync(p('t')).toString('hex');
    const fd = fs.openSync(p('t'), 'r+');
    fs.ftruncateSync(fd, 3);
    r.ftruncate = [fs.fstatSync(fd).size, fs.readFileSync(p('t'), 'utf8')];
    fs.closeSync(fd);
    fs.truncateSync(p('t'), 3 * 2 ** 30);
    const big = fs.statSync(p('t'));
    r.growBig = [big.size, big.blocks < 64];
    fs.truncateSync(p('t'), 0);
    r.toZero = snap(p('t')).size;
    r.truncateDir = code(() => fs.truncateSync(p('d'), 0));
    r.truncateMissing = code(() => fs.truncateSync(p('nope'), 0));
    const rfd = fs.openSync(p('t'), 'r');
    r.ftruncateReadOnly = code(() => fs.ftruncateSync(rfd, 1));
    fs.closeSync(rfd);

    const t = () => {
      const x = times(p('u'));
      return [ns(x.atime), ns(x.mtime)];
    };
    fs.writeFileSync(p('u'), 'times');
    utimensat(p('u'), [{ sec: 1_000_000_000, nsec: 123_456_789 }, { sec: 1_234_567_890, nsec: 987_654_321 }]);
    r.explicit = t();
    utimensat(p('u'), ['omit', { sec: 1_500_000_000, nsec: 1 }]);
    r.omitAtime = t();
    utimensat(p('u'), [{ sec: 1_600_000_000, nsec: 999_999_999 }, 'omit']);
    r.omitMtime = t();
    utimensat(p('u'), ['omit', 'omit']);
    r.omitBoth = t();
    utimensat(p('u'), ['now', 'omit']);
    r.atimeNow = [recent(times(p('u')).atime), t()[1]];
    utimensat(p('u'), [{ sec: -1, nsec: 500_000_000 }, { sec: -123_456_789, nsec: 0 }]);
    r.before1970 = t();
    utimensat(p('u'), [{ sec: 2 ** 33, nsec: 1 }, { sec: 4_102_444_800, nsec: 0 }]);
    r.farFuture = t();
    r.badNsec = code(() => utimensat(p('u'), [{ sec: 0, nsec: 1_000_000_000 }, 'omit']));
    r.ctimeIsNow = recent(times(p('u')).ctime);
    utimensat(p('l'), [{ sec: 111, nsec: 1 }, { sec: 222, nsec: 2 }], AT_SYMLINK_NOFOLLOW);
    const lt = times(p('l'));
    r.symlinkTimes = [ns(lt.atime), ns(lt.mtime), recent(times(p('f')).mtime)];
    utimensat(p('u'), null);
    r.touchNull = [recent(times(p('u')).atime), recent(times(p('u')).mtime)];
    utimensat(p('u'), [{ sec: 5, nsec: 0 }, { sec: 5, nsec: 0 }]);
    r.touchCmd = spawnSync('touch', ['-m', 'u'], { cwd: root }).status;
    r.afterTouch = [t()[0], recent(times(p('u')).mtime)];
    r.utimesMissing = code(() => utimensat(p('nope'), null));
    return r;
  },
  expect: {
    fileModes: ['0000', '4755', '2755', '1755', '6777', '7777', '2644', '0644'],
    dirModes: ['1777', '2755', '7777', '0700', '0755'],
    chmodMissing: 'ENOENT',
    chmodThroughLink: ['0600', '0777'],
    chownNobody: [65534, 65534],
    chownArbitrary: [1234, 5678],
    chownGroupOnly: [1234, 42],
    lchown: [777, 888, 1234],
    chown_suid: '0755',
    chown_sgidNoExec: '2644',
    chown_suidNoExec: '0644',
    chownDirKeepsBits: '6755',
    shrink: 'hello',
    grow: '68656c6c6f0000000000',
    ftruncate: [3, 'hel'],
    growBig: [3 * 2 ** 30, true],
    toZero: 0,
    truncateDir: 'EISDIR',
    truncateMissing: 'ENOENT',
    ftruncateReadOnly: 'EINVAL',
    explicit: ['1000000000123456789', '1234567890987654321'],
    omitAtime: ['1000000000123456789', '1500000000000000001'],
    omitMtime: ['1600000000999999999', '1500000000000000001'],
    omitBoth: ['1600000000999999999', '1500000000000000001'],
    atimeNow: [true, '1500000000000000001'],
    before1970: ['-500000000', '-123456789000000000'],
    farFuture: ['8589934592000000001', '4102444800000000000'],
    badNsec: 'EINVAL',
    ctimeIsNow: true,
    symlinkTimes: ['111000000001', '222000000002', true],
    touchNull: [true, true],
    touchCmd: 0,
    afterTouch: ['5000000000', true],
    utimesMissing: 'ENOENT',
  },
};

export const timestamps: Scenario = {
  name: 'timestamps: which operations advance mtime/ctime (relations, not values)',
  async run(root) {
    const p = (s: string) => join(root, s);
    const d = p('d');
    fs.mkdirSync(d);
    fs.mkdirSync(p('other'));
    fs.writeFileSync(p('d/f'), 'x');
    const r: Record<string, unknown> = {};
    const step = async (label: string, path: string, op: () => void, afterPath = path) => {
      const a = times(path);
      await sleep(15);
      op();
      r[label] = moved(a, times(afterPath));
    };
    await step('dirCreate', d, () => fs.writeFileSync(p('d/new'), ''));
    await step('dirUnlink', d, () => fs.unlinkSync(p('d/new')));
    await step('dirMkdir', d, () => fs.mkdirSync(p('d/sub')));
    await step('dirRmdir', d, () => fs.rmdirSync(p('d/sub')));
    await step('dirSymlink', d, () => fs.symlinkSync('f', p('d/l')));
    await step('dirRename', d, () => fs.renameSync(p('d/l'), p('d/l2')));
    await step('dirMoveOut', d, () => fs.renameSync(p('d/l2'), p('other/l2')));
    await step('dirMoveIn', d, () => fs.renameSync(p('other/l2'), p('d/l3')));
    await step('dirChmod', d, () => fs.chmodSync(d, 0o750));
    await step('dirList', d, () => fs.readdirSync(d));
    await step('dirWriteExisting', d, () => fs.writeFileSync(p('d/f'), 'y'));
    await step('append', p('d/f'), () => fs.appendFileSync(p('d/f'), 'more'));
    await step('pwrite', p('d/f'), () => {
      const fd = fs.openSync(p('d/f'), 'r+');
      fs.writeSync(fd, 'Z', 0);
      fs.closeSync(fd);
    });
    await step('emptyWrite', p('d/f'), () => {
      const fd = fs.openSync(p('d/f'), 'r+');
      fs.writeSync(fd, Buffer.alloc(0), 0, 0, 0);
      fs.closeSync(fd);
    });
    await step('chmod', p('d/f'), () => fs.chmodSync(p('d/f'), 0o600));
    await step('chownSame', p('d/f'), () => fs.chownSync(p('d/f'), 0, 0));
    await step('read', p('d/f'), () => fs.readFileSync(p('d/f')));
    await step('openClose', p('d/f'), () => fs.closeSync(fs.openSync(p('d/f'), 'r+')));
    await step('stat', p('d/f'), () => fs.statSync(p('d/f')));
    await step('truncateShrink', p('d/f'), () => fs.truncateSync(p('d/f'), 1));
    await step('truncateSameSize', p('d/f'), () => fs.truncateSync(p('d/f'), 1));
    await step('ftruncateSameSize', p('d/f'), () => {
      const fd = fs.openSync(p('d/f'), 'r+');
      fs.ftruncateSync(fd, 1);
      fs.closeSync(fd);
    });
    await step('openTrunc', p('d/f'), () => fs.closeSync(fs.openSync(p('d/f'), 'w')));
    await step('openTruncEmpty', p('d/f'), () => fs.closeSync(fs.openSync(p('d/f'), 'w')));
    await step('rename', p('d/f'), () => fs.renameSync(p('d/f'), p('d/g')), p('d/g'));
    await step('link', p('d/g'), () => fs.linkSync(p('d/g'), p('d/h')));
    await step('unlinkOtherName', p('d/g'), () => fs.unlinkSync(p('d/h')));
    await step('utimesPast', p('d/g'), () => fs.utimesSync(p('d/g'), 1000, 1000));
    await step('symlinkChown', p('d/l3'), () => fs.lchownSync(p('d/l3'), 0, 0));
    return r;
  },
  expect: (() => {
    const both = { mtime: 'advanced', ctime: 'advanced' };
    const ctime = { mtime: 'unchanged', ctime: 'advanced' };
    const none = { mtime: 'unchanged', ctime: 'unchanged' };
    return {
      dirCreate: both, dirUnlink: both, dirMkdir: both, dirRmdir: both, dirSymlink: both, dirRename: both,
      dirMoveOut: both, dirMoveIn: both, dirChmod: ctime, dirList: none, dirWriteExisting: none,
      append: both, pwrite: both, emptyWrite: none, chmod: ctime, chownSame: ctime, read: none, openClose: none, stat: none,
      truncateShrink: both, truncateSameSize: both, ftruncateSameSize: both, openTrunc: both, openTruncEmpty: both,
      rename: ctime, link: ctime, unlinkOtherName: ctime, utimesPast: { mtime: 'went back', ctime: 'advanced' },
      symlinkChown: ctime,
    };
  })(),
};

/** An xattr's value as text, or the errno name reading it fails with. */
function xattrStr(path: string, name: string, nofollow = false): string | undefined {
  try {
    return (getxattr(path, name, 65536, nofollow) as Buffer).toString();
  } catch (e) {
    return (e as NodeJS.ErrnoException).code;
  }
}

export const xattr: Scenario = {
  name: 'xattr: user.* on files and dirs, flags and errors',
  async run(root) {
    const p = (s: string) => join(root, s);
    const f = p('f');
    fs.writeFileSync(f, 'x');
    fs.mkdirSync(p('d'));
    fs.symlinkSync('f', p('l'));
    const r: Record<string, unknown> = {};
    r.listEmpty = listxattr(f);
    const before = times(f);
    await sleep(15);
    r.set = code(() => setxattr(f, 'user.a', 'hello'));
    r.setCtime = moved(before, times(f));
    r.get = xattrStr(f, 'user.a');
    r.sizeQuery = getxattr(f, 'user.a', 0);
    r.tooSmall = code(() => getxattr(f, 'user.a', 2));
    r.exactSize = xattrStr(f, 'user.a');
    r.createExisting = code(() => setxattr(f, 'user.a', 'x', XATTR_CREATE));
    r.replaceMissing = code(() => setxattr(f, 'user.b', 'x', XATTR_REPLACE));
    r.replaceExisting = code(() => setxattr(f, 'user.a', 'world!', XATTR_REPLACE));
    r.afterReplace = xattrStr(f, 'user.a');
    r.createNew = code(() => setxattr(f, 'user.c', '', XATTR_CREATE));
    r.emptyValue = [xattrStr(f, 'user.c'), getxattr(f, 'user.c', 0)];
    const bin = Buffer.alloc(3000, 0);
    for (let i = 0; i < bin.length; i += 7) bin[i] = i & 0xff;
    setxattr(f, 'user.bin', bin);
    r.binaryRoundTrip = (getxattr(f, 'user.bin') as Buffer).equals(bin);
    r.getMissing = code(() => getxattr(f, 'user.nope'));
    r.list = (listxattr(f) as string[]).sort();
    r.listSize = listxattr(f, 0);
    r.listTooSmall = code(() => listxattr(f, 5));
    r.remove = code(() => removexattr(f, 'user.c'));
    r.removeMissing = code(() => removexattr(f, 'user.c'));
    r.afterRemove = (listxattr(f) as string[]).sort();
    r.nameTooLong = code(() => setxattr(f, 'user.' + 'n'.repeat(251), 'v'));
    r.emptyName = code(() => setxattr(f, '', 'v'));
    r.unknownNamespace = code(() => setxattr(f, 'foo.bar', 'v'));
    r.valueTooBig = code(() => setxattr(f, 'user.big', Buffer.alloc(65537)));
    r.valueMax = code(() => setxattr(f, 'user.big', Buffer.alloc(65536, 1)));
    r.missingFile = code(() => getxattr(p('nope'), 'user.a'));

    r.dirSet = code(() => setxattr(p('d'), 'user.dir', 'on a dir'));
    r.dirGet = xattrStr(p('d'), 'user.dir');
    r.dirList = listxattr(p('d'));
    r.dirRemove = code(() => removexattr(p('d'), 'user.dir'));

    r.followsLink = xattrStr(p('l'), 'user.a');
    r.userOnSymlink = code(() => setxattr(p('l'), 'user.x', 'v', 0, true));
    const dump = spawnSync('getfattr', ['-d', '-h', '-m', '-', 'f', 'd', 'l'], { cwd: root, encoding: 'utf8' });
    r.getfattr = [dump.status, dump.stdout];
    return r;
  },
  expect: {
    listEmpty: [],
    set: 'OK',
    setCtime: { mtime: 'unchanged', ctime: 'advanced' },
    get: 'hello',
    sizeQuery: 5,
    tooSmall: 'ERANGE',
    exactSize: 'hello',
    createExisting: 'EEXIST',
    replaceMissing: 'ENODATA',
    replaceExisting: 'OK',
    afterReplace: 'world!',
    createNew: 'OK',
    emptyValue: ['', 0],
    binaryRoundTrip: true,
    getMissing: 'ENODATA',
    list: ['user.a', 'user.bin', 'user.c'],
    listSize: 23,
    listTooSmall: 'ERANGE',
    remove: 'OK',
    removeMissing: 'ENODATA',
    afterRemove: ['user.a', 'user.bin'],
    nameTooLong: 'ERANGE',
    emptyName: 'ERANGE',
    unknownNamespace: 'EOPNOTSUPP',
    valueTooBig: 'E2BIG',
    valueMax: 'ENOSPC',
    missingFile: 'ENOENT',
    dirSet: 'OK',
    dirGet: 'on a dir',
    dirList: ['user.dir'],
    dirRemove: 'OK',
    followsLink: 'world!',
    userOnSymlink: 'EPERM',
    getfattr: ([status, out]: [number, string]) => status === 0 && ['# file: f\n', 'user.a="world!"'].every((x) => out.includes(x)),
  },
};

/** trusted.* needs CAP_SYS_ADMIN on the host: natively root has it, a daemon keeps it only with --modcaps=+sys_admin. */
export const trustedXattr: Scenario = {
  name: 'xattr: trusted.* on a symlink and a file',
  run(root) {
    const p = (s: string) => join(root, s);
    const f = p('f');
    fs.writeFileSync(f, 'x');
    fs.symlinkSync('f', p('l'));
    const r: Record<string, unknown> = {};
    r.setfattrTrusted = spawnSync('setfattr', ['-h', '-n', 'trusted.t', '-v', 'on-link', 'l'], { cwd: root }).status;
    r.trustedOnLink = xattrStr(p('l'), 'trusted.t', true);
    r.trustedNotOnTarget = xattrStr(p('l'), 'trusted.t');
    r.linkList = listxattr(p('l'), 65536, true);
    r.trustedOnFile = code(() => setxattr(f, 'trusted.f', 'tv'));
    r.fileList = listxattr(f);
    const dump = spawnSync('getfattr', ['-d', '-h', '-m', '-', 'f', 'l'], { cwd: root, encoding: 'utf8' });
    r.getfattr = [dump.status, dump.stdout];
    r.lremove = code(() => removexattr(p('l'), 'trusted.t', true));
    r.linkListAfter = listxattr(p('l'), 65536, true);
    return r;
  },
  expect: {
    setfattrTrusted: 0,
    trustedOnLink: 'on-link',
    trustedNotOnTarget: 'ENODATA',
    linkList: ['trusted.t'],
    trustedOnFile: 'OK',
    fileList: ['trusted.f'],
    getfattr: ([status, out]: [number, string]) =>
      status === 0 && ['# file: f\ntrusted.f="tv"', '# file: l\ntrusted.t="on-link"'].every((x) => out.includes(x)),
    lremove: 'OK',
    linkListAfter: [],
  },
};
export const scenarios = [setattr, timestamps];
export const xattrScenarios = [xattr, trustedXattr];
