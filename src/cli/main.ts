/** The `passthroughfs` command. */
import { spawn } from 'node:child_process';
import { closeSync, readFileSync, statSync, writeSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isMountPoint, unmountFuse } from '../fuse/mount.js';
import { FuseSession } from '../fuse/session.js';
import { createPassthroughFs, sessionOptionsFor } from '../passthrough/index.js';
import { parseArgs, UsageError, USAGE, type Command } from './args.js';
import { checkLogTarget, LogSetupError, openLogger, type Logger } from './logsink.js';
import { SdNotify } from './sdnotify.js';

const READY_FD_ENV = 'PASSTHROUGHFS_READY_FD';

function fail(msg: string): never {
  process.stderr.write(`passthroughfs: ${msg}\n`);
  process.exit(1);
}

function version(): string {
  const pkg = JSON.parse(readFileSync(fileURLToPath(new URL('../../../package.json', import.meta.url)), 'utf8')) as { version: string };
  return pkg.version;
}

/** Checks that make a mount fail before anything is mounted. */
function precheck(c: Extract<Command, { cmd: 'mount' }>): void {
  const src = resolve(c.fs.source);
  let st;
  try {
    st = statSync(src);
  } catch (e) {
    fail(`source ${src}: ${describe(e)}`);
  }
  if (!st.isDirectory()) fail(`source ${src} is not a directory`);
  const mnt = resolve(c.mountpoint);
  let mt;
  try {
    mt = statSync(mnt);
  } catch (e) {
    fail(`mountpoint ${mnt}: ${describe(e)}`);
  }
  if (!mt.isDirectory()) fail(`mountpoint ${mnt} is not a directory`);
  if (isMountPoint(mnt)) fail(`mountpoint ${mnt} is already in use (something is mounted there)`);
  c.fs.source = src;
  c.mountpoint = mnt;
  try {
    checkLogTarget(c.logTo, mnt);
  } catch (e) {
    if (!(e instanceof LogSetupError)) throw e;
    fail(e.message);
  }
}

function describe(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return 'no such file or directory';
  if (code === 'EACCES') return 'permission denied';
  if (code === 'ENOTCONN') return 'transport endpoint is not connected (a dead FUSE mount? try umount -l)';
  return code ?? String(e);
}

/** Start the daemon in the background and return once it reports the mount live. */
async function daemonize(argv: string[]): Promise<number> {
  const child = spawn(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), ...argv, '--foreground'], {
    detached: true,
    stdio: ['ignore', 'ignore', 'ignore', 'pipe'],
    env: { ...process.env, [READY_FD_ENV]: '3' },
  });
  const pipe = child.stdio[3] as NodeJS.ReadableStream;
  let msg = '';
  pipe.setEncoding('utf8');
  pipe.on('data', (d: string) => (msg += d));
  const outcome = await new Promise<'ready' | 'exit'>((res) => {
    pipe.on('end', () => res(msg.startsWith('ready') ? 'ready' : 'exit'));
    child.on('exit', () => res(msg.startsWith('ready') ? 'ready' : 'exit'));
  });
  if (outcome === 'ready') {
    child.unref();
    (pipe as unknown as { destroy(): void }).destroy();
    return 0;
  }
  process.stderr.write(msg.startsWith('error ') ? `passthroughfs: ${msg.slice(6).trim()}\n` : 'passthroughfs: the daemon exited before mounting\n');
  return 1;
}

/** Tell the parent of a backgrounded daemon whether the mount is live (fd 3, a pipe). */
function report(kind: 'ready' | 'error', text = ''): void {
  const fd = process.env[READY_FD_ENV];
  if (!fd) return;
  delete process.env[READY_FD_ENV];
  try {
    writeSync(Number(fd), kind === 'ready' ? 'ready\n' : `error ${text}\n`);
    closeSync(Number(fd));
  } catch {
    // The parent is gone; nothing to tell.
  }
}

/**
 * The daemon proper. It serves on the main thread, which does nothing else:
 * between requests it sleeps in poll(2), waking now and then for signals. The
 * unmount a signal triggers runs off this thread, which keeps serving until
 * the kernel lets go (writeback flushes need answers).
 */
async function serve(c: Extract<Command, { cmd: 'mount' }>): Promise<number> {
  let session: FuseSession;
  let logger: Logger | undefined;
  let notify: SdNotify | undefined;
  try {
    logger = openLogger(c.logTo, c.logLevel);
    // Before mounting: fusermount3 must not inherit NOTIFY_SOCKET.
    notify = SdNotify.fromEnv(logger.log);
    // With other users on the mount, the kernel checks every caller's permissions
    // before a request reaches the daemon (see passthrough.ts).
    c.fs.allowOther = c.mount.allowOther === true;
    const defaultPermissions = c.mount.defaultPermissions === true || c.fs.allowOther;
    const fs = createPassthroughFs(c.fs);
    const log = logger.log;
    session = FuseSession.mount(fs, c.mountpoint, {
      mount: { fsname: c.fs.source, subtype: 'passthroughfs', ...c.mount, defaultPermissions },
      session: { ...sessionOptionsFor(c.fs), log, debug: c.logLevel === 'debug' },
    });
  } catch (e) {
    const m = e instanceof Error ? e.message : String(e);
    report('error', m);
    if (c.logTo.to !== 'stderr') logger?.log('error', m);
    notify?.close();
    fail(m);
  }
  const daemonLog = logger;
  session.unmountOnSignals(['SIGINT', 'SIGTERM']);
  // logrotate's convention: SIGHUP reopens the log file.
  process.on('SIGHUP', () => daemonLog.reopen());
  report('ready');
  notify?.ready();
  daemonLog.log('info', `serving ${c.fs.source} at ${c.mountpoint}`);
  try {
    await session.serve({ ownThread: true });
    daemonLog.log('info', `${c.mountpoint} unmounted`);
    return 0;
  } catch (e) {
    const m = e instanceof Error ? e.message : String(e);
    daemonLog.log('error', m);
    await session.unmount().catch(() => undefined);
    return 1;
  } finally {
    notify?.stopping();
    notify?.close();
    daemonLog.close();
  }
}

export async function main(argv: string[]): Promise<number> {
  let c: Command;
  try {
    c = parseArgs(argv);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    process.stderr.write(`passthroughfs: ${e.message}\nTry 'passthroughfs --help' for more information.\n`);
    return 2;
  }
  switch (c.cmd) {
    case 'help':
      process.stdout.write(`${USAGE}\n`);
      return 0;
    case 'version':
      process.stdout.write(`passthroughfs ${version()}\n`);
      return 0;
    case 'umount': {
      const mnt = resolve(c.mountpoint);
      if (!isMountPoint(mnt)) fail(`${mnt} is not mounted`);
      try {
        unmountFuse(mnt, false);
      } catch (e) {
        fail(`cannot unmount ${mnt}: ${e instanceof Error ? e.message : String(e)}`);
      }
      return 0;
    }
    case 'mount':
      precheck(c);
      if (!c.foreground) return daemonize(argv);
      return serve(c);
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = await main(process.argv.slice(2));
}
