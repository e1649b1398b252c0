/**
 * Writes by a user other than the daemon's (nobody, through -o allow_other): what the host decides by the writer's
 * identity must be decided for that user, not for root. Natively a write or truncate by someone without CAP_FSETID
 * clears setuid, and setgid where the group may execute. The user's side runs dd and truncate (system binaries),
 * so it needs nothing from the checkout.
 */
import * as fs from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { NOBODY, octal, type Scenario } from './harness.js';
import { MAP_SHARED, PROT_READ, PROT_WRITE, withMmap } from './libc.js';

function asNobody(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { uid: NOBODY, gid: NOBODY, cwd: '/', encoding: 'utf8' });
  return r.status === 0 ? 'OK' : `exit ${r.status}: ${r.stderr.trim().replace(/'[^']*'/g, 'PATH')}`;
}

const modeOf = (p: string) => octal(fs.statSync(p).mode);

export const setuidCleared: Scenario = {
  name: 'a write or truncate by a non-owner without CAP_FSETID clears setuid/setgid; root\'s own write keeps them',
  run(root) {
    const r: Record<string, unknown> = {};
    for (const mode of [0o4777, 0o6777, 0o2777, 0o2767]) {
      const f = join(root, `w${mode.toString(8)}`);
      fs.writeFileSync(f, 'abc');
      fs.chmodSync(f, mode);
      r[`write${mode.toString(8)}`] = [asNobody('dd', ['if=/dev/zero', `of=${f}`, 'bs=1', 'count=1', 'conv=notrunc', 'status=none']), modeOf(f)];
    }
    const t = join(root, 'truncated');
    fs.writeFileSync(t, 'abc');
    fs.chmodSync(t, 0o6777);
    r.truncate = [asNobody('truncate', ['-s', '1', t]), modeOf(t)];
    const own = join(root, 'rootWrites');
    fs.writeFileSync(own, 'abc');
    fs.chmodSync(own, 0o6777);
    fs.appendFileSync(own, 'd');
    r.rootWrite = modeOf(own);
    return r;
  },
  expect: {
    write4777: ['OK', '0777'], write6777: ['OK', '0777'], write2777: ['OK', '0777'], write2767: ['OK', '0767'],
    truncate: ['OK', '0777'], rootWrite: '6777',
  },
};

export const scenarios = [setuidCleared];

/**
 * Where a page written back from a shared mapping lands when the file was opened O_APPEND: in place, as natively
 * (the kernel sends it as a positioned write; an O_APPEND host fd would put it at the end).
 */
export const appendMmap: Scenario = {
  name: 'a shared mapping of a file opened O_APPEND writes in place',
  run(root) {
    const f = join(root, 'mapped');
    fs.writeFileSync(f, 'abcdefgh');
    const fd = fs.openSync(f, fs.constants.O_RDWR | fs.constants.O_APPEND);
    try {
      withMmap(fd, 8, PROT_READ | PROT_WRITE, MAP_SHARED, (mem) => mem.write('XY', 2, 'latin1'));
      fs.writeSync(fd, 'ij');
    } finally {
      fs.closeSync(fd);
    }
    return { content: fs.readFileSync(f, 'latin1'), size: fs.statSync(f).size };
  },
  expect: { content: 'abXYefghij', size: 10 },
};

/** Needs shared mappings, which a --cache=never mount does not offer (FOPEN_DIRECT_IO). */
export const cachedScenarios = [appendMmap];
