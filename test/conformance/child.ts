/**
 * A helper process for the conformance scenarios (another process, or another user, than the test):
 *   child.js ops JSON          run [op, ...args] steps, print a JSON array of results ('OK', a value, or an errno name)
 *   child.js append FILE TAG N append N fixed-length lines, one write(2) each, through an O_APPEND fd
 *   child.js lock FILE TYPE START LEN  take an fcntl lock (r|w), print "locked PID", hold it until stdin closes
 * Without arguments (as when a test runner picks the file up) it does nothing.
 */
import * as fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { F_RDLCK, F_SETLK, F_WRLCK, fcntlLock, utimensat } from './libc.js';

export const LINE = 64;

export function appendLine(tag: string, i: number): string {
  return `${tag}:${String(i).padStart(6, '0')}:`.padEnd(LINE - 1, tag) + '\n';
}

type Op = [string, ...(string | number)[]];

function step([op, ...a]: Op): unknown {
  const s = (i: number) => a[i] as string;
  const n = (i: number) => a[i] as number;
  switch (op) {
    case 'write': return fs.writeFileSync(s(0), s(1), { flag: a[2] === undefined ? 'w' : s(2) });
    case 'read': return fs.readFileSync(s(0), 'utf8');
    case 'open': return fs.closeSync(fs.openSync(s(0), s(1)));
    case 'mkdir': return fs.mkdirSync(s(0));
    case 'rmdir': return fs.rmdirSync(s(0));
    case 'symlink': return fs.symlinkSync(s(0), s(1));
    case 'link': return fs.linkSync(s(0), s(1));
    case 'unlink': return fs.unlinkSync(s(0));
    case 'rename': return fs.renameSync(s(0), s(1));
    case 'chmod': return fs.chmodSync(s(0), n(1));
    case 'chown': return fs.chownSync(s(0), n(1), n(2));
    case 'truncate': return fs.truncateSync(s(0), n(1));
    case 'utimes': return fs.utimesSync(s(0), n(1), n(2));
    case 'touch': return utimensat(s(0), null);
    case 'access': return fs.accessSync(s(0), n(1));
    case 'readdir': return fs.readdirSync(s(0)).sort();
    default: throw new Error(`unknown op ${op}`);
  }
}

function main(argv: string[]): void {
  const [mode, ...rest] = argv;
  if (mode === 'ops') {
    const out = (JSON.parse(rest[0]!) as Op[]).map((o) => {
      try {
        const v = step(o);
        return v === undefined ? 'OK' : v;
      } catch (e) {
        const c = (e as NodeJS.ErrnoException).code;
        if (typeof c !== 'string') throw e;
        return c;
      }
    });
    process.stdout.write(JSON.stringify(out));
  } else if (mode === 'append') {
    const [file, tag, count] = rest as [string, string, string];
    const fd = fs.openSync(file, 'a');
    for (let i = 0; i < Number(count); i++) fs.writeSync(fd, appendLine(tag, i));
    fs.closeSync(fd);
  } else if (mode === 'lock') {
    const [file, type, start, len] = rest as [string, string, string, string];
    const fd = fs.openSync(file, 'r+');
    try {
      fcntlLock(fd, F_SETLK, { type: type === 'r' ? F_RDLCK : F_WRLCK, start: Number(start), len: Number(len) });
      process.stdout.write(`locked ${process.pid}\n`);
    } catch (e) {
      process.stdout.write(`failed ${(e as NodeJS.ErrnoException).code}\n`);
    }
    process.stdin.resume();
    process.stdin.on('end', () => process.exit(0));
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) main(process.argv.slice(2));
