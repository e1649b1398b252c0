/** The `passthroughfs` command. */
import { spawn } from 'node:child_process';
import { accessSync, closeSync, constants, realpathSync, statSync, writeSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isMountPoint, unmountFuse } from '../fuse/mount.js';
import { mountAt } from '../fuse/mountinfo.js';
import { SysError, errno as E } from '../sys/index.js';
import { closeInspector, guardInspectorSignal, installDaemonSignals } from './signals.js';
import { FuseSession } from '../fuse/session.js';
import { createPassthroughFs, sessionOptionsFor } from '../passthrough/index.js';
import { checkCapPolicy, restrictServingThread } from '../passthrough/privileges.js';
import { parseArgs, UsageError, USAGE, type Command } from './args.js';
import { checkLogTarget, LogSetupError, openLogger, type Logger } from './logsink.js';
import { SdNotify } from './sdnotify.js';
import { applyNofileLimit } from './rlimit.js';
import { version } from './version.js';

const READY_FD_ENV = 'PASSTHROUGHFS_READY_FD';

function fail(msg: string): never {
  process.stderr.write(`passthroughfs: ${msg}\n`);
  process.exit(1);
}

/** `path` canonical (symlinks resolved), or the failure as a message naming it. */
function canonical(what: string, path: string): string {
  const abs = resolve(path);
  try {
    return realpathSync(abs);
  } catch (e) {
    fail(`${what} ${abs}: ${describe(e)}`);
  }
}

/** `a` is `b` or below it (both canonical). */
function within(a: string, b: string): boolean {
  return a === b || a.startsWith(b === '/' ? '/' : `${b}/`);
}

/**
 * Checks that make a mount fail before anything is mounted. Paths are made
 * canonical once, here: every later check and the mount itself use the same
 * real paths, so a symlink cannot smuggle a mountpoint past them.
 */
function precheck(c: Extract<Command, { cmd: 'mount' }>): void {
  const src = canonical('source', c.fs.source);
  if (!statSync(src).isDirectory()) fail(`source ${src} is not a directory`);
  const mnt = canonical('mountpoint', c.mountpoint);
  if (!statSync(mnt).isDirectory()) fail(`mountpoint ${mnt} is not a directory`);
  if (isMountPoint(mnt)) fail(`mountpoint ${mnt} is already in use (something is mounted there)`);
  // A mount inside its own source would contain itself: every lookup of the
  // mountpoint through the mount would come back to the daemon.
  if (within(mnt, src)) fail(`mountpoint ${mnt} is inside the source ${src}: the mount would contain itself; choose a mountpoint outside the source`);
  if (within(src, mnt)) fail(`source ${src} is inside the mountpoint ${mnt}: the mount would hide its own source; choose a mountpoint outside the source`);
  if (c.mount.allowOther && c.mount.allowRoot) throw new UsageError('allow_other and allow_root exclude each other');
  if (process.geteuid?.() !== 0) {
    const me = `uid ${process.geteuid?.()}`;
    try {
      accessSync(src, constants.R_OK | constants.X_OK);
    } catch {
      fail(`source ${src} is not readable by ${me}, whom the daemon runs as: every access would fail`);
    }
    if (c.fs.passthroughIo) fail('--passthrough needs root (the kernel lets only CAP_SYS_ADMIN register backing files)');
  }
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

const BIN = fileURLToPath(new URL('../../../bin/passthroughfs.js', import.meta.url));

/** What the background daemon inherits: enough to find fusermount3 and format times. */
function daemonEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', [READY_FD_ENV]: '3' };
  if (process.env.TZ !== undefined) env.TZ = process.env.TZ;
  return env;
}

/** Start the daemon in the background and return once it reports the mount live. */
async function daemonize(argv: string[]): Promise<number> {
  // The daemon gets none of our Node options (--inspect…) and a minimal
  // environment: NODE_OPTIONS and its kind would otherwise reach a root daemon.
  const child = spawn(process.execPath, [BIN, ...argv, '--foreground'], {
    detached: true,
    stdio: ['ignore', 'ignore', 'ignore', 'pipe'],
    env: daemonEnv(),
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
  guardInspectorSignal();
  let session: FuseSession;
  let logger: Logger | undefined;
  let notify: SdNotify | undefined;
  try {
    logger = openLogger(c.logTo, c.logLevel);
    if (closeInspector()) logger.log('warn', 'a Node inspector was open (--inspect in NODE_OPTIONS?); closed it: the daemon never exposes one');
    // Hold no directory busy: the paths are absolute and canonical by now.
    process.chdir('/');
    // Before mounting: fusermount3 must not inherit NOTIFY_SOCKET.
    notify = SdNotify.fromEnv(logger.log);
    // With other users on the mount, the kernel checks every caller's permissions
    // before a request reaches the daemon (see passthrough.ts).
    c.fs.allowOther = c.mount.allowOther === true || c.mount.allowRoot === true;
    const defaultPermissions = c.mount.defaultPermissions === true || c.fs.allowOther;
    // Before the filesystem is made: its fd budget follows the limit.
    const nofile = applyNofileLimit(c.rlimitNofile);
    logger.log('info', `RLIMIT_NOFILE: ${nofile.soft} (hard ${nofile.hard})`);
    const fs = createPassthroughFs(c.fs);
    logger.log('info', `file descriptors: at most ${fs.budget.limit} held (${fs.budget.share} open files per user, ${fs.budget.cacheMax} cached inode fds); inode file handles: ${c.fs.inodeFileHandles}`);
    const me = process.geteuid?.() ?? 0;
    checkCapPolicy(c.caps);
    session = FuseSession.mount(fs, c.mountpoint, {
      mount: { fsname: c.fs.source, subtype: 'passthroughfs', ...c.mount, defaultPermissions },
      session: {
        ...sessionOptionsFor(c.fs), log: logger.log, debug: c.logLevel === 'debug',
        ...(c.mount.allowRoot ? { onlyUids: me === 0 ? [0] : [me, 0] } : {}),
      },
    });
  } catch (e) {
    const m = e instanceof Error ? e.message : String(e);
    report('error', m);
    if (c.logTo.to !== 'stderr') logger?.log('error', m);
    notify?.close();
    fail(m);
  }
  const log = logger.log;
  installDaemonSignals({
    stop: () => void session.unmount().catch((e: unknown) => log('error', `unmount failed: ${String(e)}`)),
    reopenLogs: () => logger.reopen(),
    log,
  });
  try {
    // This thread serves: from here on it has only the capabilities requests need.
    await restrictServingThread(c.caps, log);
  } catch (e) {
    const m = e instanceof Error ? e.message : String(e);
    await session.unmount().catch(() => undefined);
    report('error', m);
    log('error', m);
    notify?.close();
    logger.close();
    fail(m);
  }
  report('ready');
  notify?.ready();
  log('info', `serving ${c.fs.source} at ${c.mountpoint}`);
  try {
    await session.serve({ ownThread: true });
    log('info', `${c.mountpoint} unmounted`);
    return 0;
  } catch (e) {
    const m = e instanceof Error ? e.message : String(e);
    log('error', m);
    await session.unmount().catch(() => undefined);
    return 1;
  } finally {
    notify?.stopping();
    notify?.close();
    logger.close();
  }
}

/** `passthroughfs umount`: only ever a passthroughfs mount. */
function umount(c: Extract<Command, { cmd: 'umount' }>): number {
  let mnt = resolve(c.mountpoint);
  try {
    mnt = realpathSync(mnt);
  } catch (e) {
    // A mount whose daemon died answers ENOTCONN: it can still be unmounted by name.
    if ((e as NodeJS.ErrnoException).code !== 'ENOTCONN') fail(`${mnt}: ${describe(e)}`);
  }
  const m = mountAt(mnt);
  if (!m) fail(`${mnt} is not mounted`);
  if (m.fsType !== 'fuse.passthroughfs') fail(`${mnt} is not a passthroughfs mount (it is ${m.fsType}); use umount(8) for it`);
  try {
    unmountFuse(mnt, c.lazy);
  } catch (e) {
    const busy = (e instanceof SysError && e.errno === E.EBUSY) || /busy/i.test(String(e));
    if (busy) {
      fail(`cannot unmount ${mnt}: it is busy (a process has a file, directory or its working directory in it; fuser -vm ${mnt} lists them). Close them, or detach it now with 'passthroughfs umount --lazy ${mnt}': the daemon then exits once the last one is closed`);
    }
    fail(`cannot unmount ${mnt}: ${e instanceof Error ? e.message : String(e)}`);
  }
  return 0;
}

export async function main(argv: string[]): Promise<number> {
  // `passthroughfs virtiofs …` is passthroughfs-virtiofsd: virtiofsd's options, loaded only when used.
  if (argv[0] === 'virtiofs') return (await import('./virtiofsd.js')).virtiofsMain(argv.slice(1));
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
    case 'umount':
      return umount(c);
    case 'mount':
      try {
        precheck(c);
      } catch (e) {
        if (!(e instanceof UsageError)) throw e;
        process.stderr.write(`passthroughfs: ${e.message}\nTry 'passthroughfs --help' for more information.\n`);
        return 2;
      }
      if (!c.foreground) return daemonize(argv);
      return serve(c);
  }
}

