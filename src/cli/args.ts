/** Command-line parsing for `passthroughfs`. Errors are UsageError: exit 2, one line, the usage hint. */
import { existsSync } from 'node:fs';
import { CACHE_POLICIES, defaultOptions, type CachePolicy, type PassthroughOptions } from '../passthrough/options.js';
import type { MountOptions } from '../fuse/mount.js';
import { resolve } from 'node:path';
import { LOG_LEVELS, type LogLevel } from '../fuse/log.js';
import { CapPolicyError, capPolicy, parseModcaps, type CapChange, type CapPolicy } from '../passthrough/privileges.js';
import { SYSLOG_SOCKET, type LogTarget } from './logsink.js';
import { FILE_HANDLE_MODES, type FileHandleMode } from '../passthrough/mounts.js';
import { MIN_RLIMIT_NOFILE } from './rlimit.js';

export class UsageError extends Error {}

export const USAGE = `Usage:
  passthroughfs mount <source> <mountpoint> [options]   mirror <source> at <mountpoint>
  passthroughfs <source> <mountpoint> [-o OPT,...]      the same (the form mount(8) and /etc/fstab use)
  passthroughfs umount [--lazy] <mountpoint>            unmount and stop the daemon
  passthroughfs virtiofs --shared-dir=DIR --socket-path=PATH [options]
                                                        share DIR into a VM over virtio-fs
                                                        (= passthroughfs-virtiofsd; see its --help)
  passthroughfs --help | --version

Options for mount:
  --cache=never|metadata|auto|always   caching policy (default auto): never = no caching,
                                       metadata = attributes/names cached 1 day, data not cached,
                                       auto = 1 s timeouts, always = cache everything for 1 day
  --entry-timeout=SECONDS              name cache timeout (default from --cache)
  --attr-timeout=SECONDS               attribute cache timeout (default from --cache); also how
                                       long a permission change made on the host may take to apply
                                       to users of the mount
  --negative-timeout=SECONDS           cache timeout for missing names (default: entry timeout)
  --writeback                          enable the kernel writeback cache
  --no-readdirplus                     do not return attributes with directory listings
  --allow-direct-io                    honour O_DIRECT from clients (default: dropped)
  --xattr                              serve extended attributes
  --passthrough                        use the kernel's FUSE passthrough for file data (root, kernel >= 6.9)
  --statx                              serve birth times (FUSE_STATX); costs a round trip per stat
                                       from callers that ask for them
  --inode-file-handles[=never|prefer|mandatory]
                                       hold inodes by file handle instead of an open fd each
                                       (default prefer: where the filesystem allows, else an fd;
                                       mandatory: refuse to start, or a nested filesystem, where
                                       it cannot; needs root's CAP_DAC_READ_SEARCH)
  --rlimit-nofile=N                    serve with a soft RLIMIT_NOFILE of N (default: the hard
                                       limit; 0 leaves it as it is); the daemon keeps its open
                                       files within it and never runs out itself
  --no-announce-submounts              do not give filesystems mounted inside <source> their own
                                       st_dev (FUSE_SUBMOUNTS; default on, as virtiofsd). Takes
                                       effect only on virtio-fs connections; inode numbers are unique
                                       across nested filesystems either way
  -o OPT[,OPT...]                      mount options: allow_other, allow_root, default_permissions,
                                       auto_unmount, ro, rw, fsname=NAME, subtype=NAME, max_read=N,
                                       suid, nosuid, dev, nodev, exec, noexec, noatime, nodiratime,
                                       sync, dirsync, debug (= --log-level=debug); defaults, auto,
                                       noauto, nofail, _netdev and x-* are for mount(8) and have no
                                       effect here
  --modcaps=+CAP:-CAP...               capabilities a root daemon keeps for serving, changed from
                                       chown,dac_override,fowner,fsetid,setgid,setuid,mknod,setfcap
                                       (':' or ',' between entries; e.g. -mknod, +sys_admin for
                                       trusted.* xattrs); all others are dropped
  -f, --foreground                     stay in the foreground (default: return once mounted)
  --log-level=error|warn|info|debug    what to log (default warn; debug logs every request)
  --log-file=PATH                      append the log to PATH (created with mode 0600; a symlink,
                                       a non-regular file, or one with other links or another
                                       owner is refused); SIGHUP reopens it, for logrotate
  --syslog                             log to syslog (/dev/log, facility daemon)
  --syslog-socket=PATH                 log to the syslog datagram socket PATH instead of /dev/log
  -h, --help                           show this help

Logs go to the --log-file or --syslog given; without either, to stderr with -f, and nowhere
in the background. With -f under systemd (NOTIFY_SOCKET set, Type=notify), READY=1 is sent
once the mount is live.

Options for umount:
  -l, --lazy                           detach the mount even if files in it are still open;
                                       the daemon exits once the last one is closed

Signals to the daemon: SIGTERM and SIGINT unmount (lazily if busy) and exit 0; SIGHUP reopens
the log file; SIGUSR1, SIGUSR2, SIGQUIT, SIGTSTP, SIGTTIN and SIGTTOU are ignored.`;


export type Command =
  | { cmd: 'help' }
  | { cmd: 'version' }
  | { cmd: 'umount'; mountpoint: string; lazy: boolean }
  | {
    cmd: 'mount'; fs: PassthroughOptions; mountpoint: string; mount: MountOptions; foreground: boolean; logLevel: LogLevel;
    caps: CapPolicy; logTo: LogTarget;
    /** --rlimit-nofile: the soft RLIMIT_NOFILE to serve with (0: as it is); by default the hard limit. */
    rlimitNofile?: number;
  };

function seconds(flag: string, v: string): number {
  if (!/^\d+(\.\d+)?$/.test(v)) throw new UsageError(`${flag} needs a number of seconds, not "${v}"`);
  return Number(v);
}

/** What -o accepts; `logLevel` is set by -o debug. */
interface OptionTargets {
  mount: MountOptions;
  fs: PassthroughOptions;
  setLogLevel(l: LogLevel): void;
}

/** Options libfuse file systems take that make no sense for a passthrough, and why. */
const REFUSED_OPTIONS: Record<string, string> = {
  uid: 'a passthrough shows the owners the files have in the source',
  gid: 'a passthrough shows the groups the files have in the source',
  umask: 'a passthrough shows the modes the files have in the source',
  blkdev: 'passthroughfs is not a block device file system',
  blksize: 'passthroughfs is not a block device file system',
};

function path(flag: string, v: string): string {
  if (v === '') throw new UsageError(`${flag} needs a path`);
  return resolve(v);
}

function mountOption(o: string, t: OptionTargets): void {
  const { mount: m, fs } = t;
  const eq = o.indexOf('=');
  const key = eq < 0 ? o : o.slice(0, eq);
  const val = eq < 0 ? undefined : o.slice(eq + 1);
  const need = () => {
    if (!val) throw new UsageError(`mount option ${key} needs a value`);
    return val;
  };
  const none = () => {
    if (val !== undefined) throw new UsageError(`mount option ${key} takes no value`);
  };
  // Options of mount(8), systemd and fstab: they act before we run (or not at all), and
  // mount.fuse3 usually strips them; accepted so that an fstab line works as written.
  if (key.startsWith('x-') || key === 'comment') return;
  switch (key) {
    case 'defaults': case 'auto': case 'noauto': case 'nofail': case '_netdev': none(); return;
    case 'allow_other': none(); m.allowOther = true; return;
    case 'allow_root': none(); m.allowRoot = true; return;
    case 'default_permissions': none(); m.defaultPermissions = true; return;
    case 'auto_unmount': none(); m.autoUnmount = true; return;
    case 'debug': none(); t.setLogLevel('debug'); return;
    case 'ro': none(); m.readOnly = true; fs.readOnly = true; return;
    case 'rw': none(); m.readOnly = false; fs.readOnly = false; return;
    case 'fsname': m.fsname = need(); return;
    case 'subtype': {
      const v = need();
      if (!/^[A-Za-z0-9_.+-]+$/.test(v)) throw new UsageError(`mount option subtype needs a plain name (letters, digits, _ . + -), not "${v}"`);
      m.subtype = v;
      return;
    }
    case 'max_read': {
      const v = need();
      if (!/^\d+$/.test(v)) throw new UsageError(`max_read needs a number, not "${v}"`);
      m.maxRead = Number(v);
      return;
    }
    case 'suid': case 'nosuid': case 'dev': case 'nodev': case 'exec': case 'noexec':
    case 'noatime': case 'nodiratime': case 'sync': case 'dirsync':
      none();
      (m.extra ??= []).push(key);
      return;
    default: {
      const why = REFUSED_OPTIONS[key];
      if (why) throw new UsageError(`mount option ${key} is not supported: ${why}`);
      throw new UsageError(`unknown mount option "${o}"`);
    }
  }
}

/**
 * Split an -o list at commas; a backslash escapes the next character, as in
 * libfuse, so a value such as fsname= can hold a comma.
 */
export function splitOptions(list: string): string[] {
  const out: string[] = [];
  let cur = '';
  for (let i = 0; i < list.length; i++) {
    const ch = list[i]!;
    if (ch === '\\' && i + 1 < list.length) cur += list[++i];
    else if (ch === ',') { if (cur) out.push(cur); cur = ''; }
    else cur += ch;
  }
  if (cur) out.push(cur);
  return out;
}

export function parseArgs(argv: string[]): Command {
  if (argv.length === 0) throw new UsageError('missing command');
  const [cmd, ...rest] = argv;
  if (cmd === '-h' || cmd === '--help' || cmd === 'help') return { cmd: 'help' };
  if (cmd === '--version' || cmd === '-V') return { cmd: 'version' };
  if (cmd === 'umount' || cmd === 'unmount') {
    if (rest.includes('-h') || rest.includes('--help')) return { cmd: 'help' };
    let lazy = false;
    const paths: string[] = [];
    for (const a of rest) {
      if (a === '-l' || a === '--lazy') lazy = true;
      else if (a.startsWith('-')) throw new UsageError(`unknown umount option "${a}"`);
      else paths.push(a);
    }
    if (paths.length !== 1) throw new UsageError('umount takes exactly one mountpoint');
    return { cmd: 'umount', mountpoint: paths[0]!, lazy };
  }
  // mount(8) and mount.fuse3 run "passthroughfs SOURCE MOUNTPOINT -o OPTIONS": a first
  // argument that is a path (absolute, or naming something here) starts that form.
  if (cmd !== 'mount') {
    if (!cmd.startsWith('/') && !cmd.startsWith('.') && !existsSync(cmd)) throw new UsageError(`unknown command "${cmd}"`);
    return parseMount(argv);
  }
  return parseMount(rest);
}

function parseMount(rest: string[]): Command {

  const positional: string[] = [];
  const fs = defaultOptions('');
  const mount: MountOptions = {};
  let foreground = false;
  let logLevel: LogLevel = 'warn';
  const targets: OptionTargets = { mount, fs, setLogLevel: (l) => (logLevel = l) };
  const modcaps: CapChange[] = [];
  // Paths are resolved now, against the invocation directory (the daemon later leaves it).
  let logFile: string | undefined;
  let syslog: string | undefined;
  let rlimitNofile: number | undefined;
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i]!;
    if (!a.startsWith('-') || a === '-') { positional.push(a); continue; }
    if (a === '--') { positional.push(...rest.slice(i + 1)); break; }
    const eq = a.indexOf('=');
    const name = a.startsWith('--') && eq > 0 ? a.slice(0, eq) : a;
    const inline = a.startsWith('--') && eq > 0 ? a.slice(eq + 1) : undefined;
    const value = (): string => {
      if (inline !== undefined) return inline;
      const v = rest[++i];
      if (v === undefined) throw new UsageError(`${name} needs a value`);
      return v;
    };
    const flag = () => {
      if (inline !== undefined) throw new UsageError(`${name} takes no value`);
    };
    switch (name) {
      case '-h': case '--help': return { cmd: 'help' };
      case '-f': case '--foreground': flag(); foreground = true; break;
      case '--cache': {
        const v = value().toLowerCase();
        if (!CACHE_POLICIES.includes(v as CachePolicy)) throw new UsageError(`--cache must be one of ${CACHE_POLICIES.join(', ')}, not "${v}"`);
        fs.cache = v as CachePolicy;
        break;
      }
      case '--entry-timeout': fs.entryTimeout = seconds(name, value()); break;
      case '--attr-timeout': fs.attrTimeout = seconds(name, value()); break;
      case '--negative-timeout': fs.negativeTimeout = seconds(name, value()); break;
      case '--writeback': flag(); fs.writeback = true; break;
      case '--no-readdirplus': flag(); fs.readdirplus = false; break;
      case '--allow-direct-io': flag(); fs.allowDirectIo = true; break;
      case '--xattr': flag(); fs.xattr = true; break;
      case '--passthrough': flag(); fs.passthroughIo = true; break;
      case '--statx': flag(); fs.statx = true; break;
      case '--inode-file-handles': {
        // As virtiofsd: the bare flag means prefer.
        const v = inline ?? 'prefer';
        if (!FILE_HANDLE_MODES.includes(v as FileHandleMode)) throw new UsageError(`--inode-file-handles must be one of ${FILE_HANDLE_MODES.join(', ')}, not "${v}"`);
        fs.inodeFileHandles = v as FileHandleMode;
        break;
      }
      case '--rlimit-nofile': {
        const v = value();
        if (!/^\d+$/.test(v)) throw new UsageError(`--rlimit-nofile needs a number of file descriptors, not "${v}"`);
        const n = Number(v);
        if (n !== 0 && n < MIN_RLIMIT_NOFILE) throw new UsageError(`--rlimit-nofile must be 0 (leave the limit as it is) or at least ${MIN_RLIMIT_NOFILE}, not ${n}`);
        rlimitNofile = n;
        break;
      }
      case '--announce-submounts': flag(); fs.announceSubmounts = true; break;
      case '--no-announce-submounts': flag(); fs.announceSubmounts = false; break;
      case '--log-level': {
        const v = value();
        if (!LOG_LEVELS.includes(v as LogLevel)) throw new UsageError(`--log-level must be one of ${LOG_LEVELS.join(', ')}, not "${v}"`);
        logLevel = v as LogLevel;
        break;
      }
      case '--modcaps': modcaps.push(...usageErrors(() => parseModcaps(value()))); break;
      case '--log-file': logFile = path(name, value()); break;
      case '--syslog': flag(); syslog ??= SYSLOG_SOCKET; break;
      case '--syslog-socket': syslog = path(name, value()); break;
      case '-o': for (const o of splitOptions(value())) mountOption(o, targets); break;
      default:
        if (a.startsWith('-o') && a.length > 2) {
          for (const o of splitOptions(a.slice(2))) mountOption(o, targets);
          break;
        }
        throw new UsageError(`unknown option "${a}"`);
    }
  }
  if (positional.length < 2) throw new UsageError('mount needs <source> and <mountpoint>');
  if (positional.length > 2) throw new UsageError(`unexpected argument "${positional[2]}"`);
  if (logFile !== undefined && syslog !== undefined) throw new UsageError('--log-file and --syslog are mutually exclusive');
  const logTo: LogTarget = logFile !== undefined ? { to: 'file', path: logFile } : syslog !== undefined ? { to: 'syslog', socket: syslog } : { to: 'stderr' };
  fs.source = positional[0]!;
  const caps = usageErrors(() => capPolicy(modcaps, { passthroughIo: fs.passthroughIo, fileHandles: fs.inodeFileHandles }));
  // --modcaps=-dac_read_search: the serving thread could not reopen handles.
  if (!caps.fileHandles) fs.inodeFileHandles = 'never';
  return { cmd: 'mount', fs, mountpoint: positional[1]!, mount, foreground, logLevel, caps, logTo, rlimitNofile };
}

function usageErrors<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    throw e instanceof CapPolicyError ? new UsageError(e.message) : e;
  }
}
