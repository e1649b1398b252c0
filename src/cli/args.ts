/** Command-line parsing for `passthroughfs`. Errors are UsageError: exit 2, one line, the usage hint. */
import { CACHE_POLICIES, defaultOptions, type CachePolicy, type PassthroughOptions } from '../passthrough/options.js';
import type { MountOptions } from '../fuse/mount.js';
import { resolve } from 'node:path';
import { LOG_LEVELS, type LogLevel } from '../fuse/log.js';
import { SYSLOG_SOCKET, type LogTarget } from './logsink.js';

export class UsageError extends Error {}

export const USAGE = `Usage:
  passthroughfs mount <source> <mountpoint> [options]   mirror <source> at <mountpoint>
  passthroughfs umount <mountpoint>                      unmount and stop the daemon
  passthroughfs --help | --version

Options for mount:
  --cache=never|metadata|auto|always   caching policy (default auto): never = no caching,
                                       metadata = attributes/names cached 1 day, data not cached,
                                       auto = 1 s timeouts, always = cache everything for 1 day
  --entry-timeout=SECONDS              name cache timeout (default from --cache)
  --attr-timeout=SECONDS               attribute cache timeout (default from --cache)
  --negative-timeout=SECONDS           cache timeout for missing names (default: entry timeout)
  --writeback                          enable the kernel writeback cache
  --no-readdirplus                     do not return attributes with directory listings
  --allow-direct-io                    honour O_DIRECT from clients (default: dropped)
  --xattr                              serve extended attributes
  --passthrough                        use the kernel's FUSE passthrough for file data (root, kernel >= 6.9)
  --statx                              serve birth times (FUSE_STATX); costs a round trip per stat
                                       from callers that ask for them
  -o OPT[,OPT...]                      mount options: allow_other, default_permissions, ro, rw,
                                       fsname=NAME, subtype=NAME, max_read=N, suid, dev, exec,
                                       noexec, noatime, nodiratime, sync, dirsync
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
once the mount is live.`;


export type Command =
  | { cmd: 'help' }
  | { cmd: 'version' }
  | { cmd: 'umount'; mountpoint: string }
  | { cmd: 'mount'; fs: PassthroughOptions; mountpoint: string; mount: MountOptions; foreground: boolean; logLevel: LogLevel; logTo: LogTarget };

function seconds(flag: string, v: string): number {
  if (!/^\d+(\.\d+)?$/.test(v)) throw new UsageError(`${flag} needs a number of seconds, not "${v}"`);
  return Number(v);
}

function path(flag: string, v: string): string {
  if (v === '') throw new UsageError(`${flag} needs a path`);
  return resolve(v);
}

function mountOption(o: string, m: MountOptions, fs: PassthroughOptions): void {
  const eq = o.indexOf('=');
  const key = eq < 0 ? o : o.slice(0, eq);
  const val = eq < 0 ? undefined : o.slice(eq + 1);
  const need = () => {
    if (!val) throw new UsageError(`mount option ${key} needs a value`);
    return val;
  };
  switch (key) {
    case 'allow_other': m.allowOther = true; return;
    case 'default_permissions': m.defaultPermissions = true; return;
    case 'ro': m.readOnly = true; fs.readOnly = true; return;
    case 'rw': m.readOnly = false; fs.readOnly = false; return;
    case 'fsname': m.fsname = need(); return;
    case 'subtype': m.subtype = need(); return;
    case 'max_read': {
      const v = need();
      if (!/^\d+$/.test(v)) throw new UsageError(`max_read needs a number, not "${v}"`);
      m.maxRead = Number(v);
      return;
    }
    case 'suid': case 'nosuid': case 'dev': case 'nodev': case 'exec': case 'noexec':
    case 'noatime': case 'nodiratime': case 'sync': case 'dirsync':
      if (val !== undefined) throw new UsageError(`mount option ${key} takes no value`);
      (m.extra ??= []).push(key);
      return;
    default:
      throw new UsageError(`unknown mount option "${o}"`);
  }
}

export function parseArgs(argv: string[]): Command {
  if (argv.length === 0) throw new UsageError('missing command');
  const [cmd, ...rest] = argv;
  if (cmd === '-h' || cmd === '--help' || cmd === 'help') return { cmd: 'help' };
  if (cmd === '--version' || cmd === '-V') return { cmd: 'version' };
  if (cmd === 'umount' || cmd === 'unmount') {
    if (rest.includes('-h') || rest.includes('--help')) return { cmd: 'help' };
    if (rest.length !== 1 || rest[0]!.startsWith('-')) throw new UsageError('umount takes exactly one mountpoint');
    return { cmd: 'umount', mountpoint: rest[0]! };
  }
  if (cmd !== 'mount') throw new UsageError(`unknown command "${cmd}"`);

  const positional: string[] = [];
  const fs = defaultOptions('');
  const mount: MountOptions = {};
  let foreground = false;
  let logLevel: LogLevel = 'warn';
  // Paths are resolved now, against the invocation directory (the daemon later leaves it).
  let logFile: string | undefined;
  let syslog: string | undefined;
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
      case '--log-level': {
        const v = value();
        if (!LOG_LEVELS.includes(v as LogLevel)) throw new UsageError(`--log-level must be one of ${LOG_LEVELS.join(', ')}, not "${v}"`);
        logLevel = v as LogLevel;
        break;
      }
      case '--log-file': logFile = path(name, value()); break;
      case '--syslog': flag(); syslog ??= SYSLOG_SOCKET; break;
      case '--syslog-socket': syslog = path(name, value()); break;
      case '-o': for (const o of value().split(',')) if (o) mountOption(o, mount, fs); break;
      default:
        if (a.startsWith('-o') && a.length > 2) {
          for (const o of a.slice(2).split(',')) if (o) mountOption(o, mount, fs);
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
  return { cmd: 'mount', fs, mountpoint: positional[1]!, mount, foreground, logLevel, logTo };
}
