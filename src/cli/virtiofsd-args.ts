/**
 * Command-line parsing for `passthroughfs-virtiofsd` (and `passthroughfs
 * virtiofs`): virtiofsd's spellings, so libvirt and QEMU users can switch
 * binaries without relearning. Both `--opt value` and `--opt=value` work, and
 * the legacy `-o source=DIR,cache=…,xattr,…` form.
 *
 * What must stay true: an option accepted here has its effect; a virtiofsd
 * option this daemon does not implement is refused by name (UsageError),
 * never silently ignored.
 */
import { resolve } from 'node:path';
import { CACHE_POLICIES, defaultOptions, type CachePolicy, type PassthroughOptions } from '../passthrough/options.js';
import { FILE_HANDLE_MODES, type FileHandleMode } from '../passthrough/mounts.js';
import { LOG_LEVELS, type LogLevel } from '../fuse/log.js';
import { CapPolicyError, capPolicy, parseModcaps, type CapChange, type CapPolicy } from '../passthrough/privileges.js';
import { SYSLOG_SOCKET, type LogTarget } from './logsink.js';
import { MIN_RLIMIT_NOFILE } from './rlimit.js';
import { UsageError } from './args.js';

export const VIRTIOFSD_USAGE = `Usage: passthroughfs-virtiofsd [options]    (also: passthroughfs virtiofs [options])

Share a directory into a virtual machine over virtio-fs: a vhost-user backend for QEMU,
cloud-hypervisor or libvirt, taking virtiofsd's options.

  --shared-dir=DIR                  the directory to share (required)
  --socket-path=PATH                listen on this vhost-user socket (created; removed on exit)
  --fd=N                            listen on this already listening socket (as libvirt passes)
  --socket-group=GROUP              give the socket to GROUP, mode 0660
  --tag=TAG                         the tag the guest mounts (written to the device config;
                                    QEMU's vhost-user-fs-pci sets its own)
  --num-request-queues=N            request queues offered to the guest (default 1)
  --cache=auto|always|metadata|never  caching policy (default auto)
  --readonly                        a read-only share: every change and every open for writing
                                    answers EROFS
  --xattr, --no-xattr               serve extended attributes (default off)
  --writeback                       let the guest's writeback cache hold writes
  --allow-direct-io                 honour O_DIRECT from the guest
  --no-readdirplus                  list directories without attributes
  --announce-submounts, --no-announce-submounts
                                    give filesystems mounted inside the share their own st_dev
                                    in the guest (default on)
  --inode-file-handles[=never|prefer|mandatory]
                                    hold inodes by file handle (default prefer)
  --thread-pool-size=N              0 only: requests are served on one thread
  --sandbox=none                    the only sandbox mode here (see README: containment is by
                                    openat2 RESOLVE_BENEATH, not a mount namespace)
  --seccomp=none                    the only seccomp mode here
  --rlimit-nofile=N                 the soft RLIMIT_NOFILE to serve with (0: leave it)
  --modcaps=+CAP:-CAP...            capabilities the serving thread keeps (see passthroughfs --help)
  --log-level=error|warn|info|debug|trace|off   what to log (default info)
  --syslog                          log to syslog instead of stderr
  -o OPT[,OPT...]                   legacy options: source=DIR, cache=none|auto|always|metadata|never,
                                    xattr, no_xattr, flock, no_flock, no_posix_lock, writeback,
                                    no_writeback, readdirplus, no_readdirplus, announce_submounts,
                                    allow_direct_io, log_level=LEVEL
  -f                                (compatibility: the daemon always stays in the foreground)
  -d                                debug logging (= --log-level=debug)
  --print-capabilities              print the vhost-user backend capabilities (JSON) and exit
  -V, --version                     print the version
  -h, --help                        this help

The daemon serves one frontend and exits with status 0 when it disconnects (the VM shut
down or was killed).`;

/** virtiofsd options this daemon does not implement: refused by name. */
const NOT_IMPLEMENTED: Record<string, string> = {
  '--posix-acl': 'POSIX ACL support',
  '--security-label': 'security labels',
  '--killpriv-v2': 'killpriv_v2',
  '--no-killpriv-v2': 'killpriv_v2',
  '--xattrmap': 'xattr name mapping',
  '--translate-uid': 'uid translation',
  '--translate-gid': 'gid translation',
  '--uid-map': 'uid maps',
  '--gid-map': 'gid maps',
  '--allow-mmap': 'DAX mappings',
  '--preserve-noatime': 'O_NOATIME from the guest',
  '--migration-mode': 'migration',
  '--migration-on-error': 'migration',
  '--migration-verify-handles': 'migration',
  '--migration-confirm-paths': 'migration',
  '--shared-dir-fd': 'a shared directory given as an fd',
};

export interface VirtiofsCommand {
  cmd: 'virtiofs';
  fs: PassthroughOptions;
  listen: { socketPath: string } | { fd: number };
  socketGroup?: string;
  tag?: string;
  numRequestQueues: number;
  logLevel: LogLevel | 'off';
  logTo: LogTarget;
  caps: CapPolicy;
  rlimitNofile?: number;
  /** flock(2) locks on host files (FUSE_FLOCK_LOCKS); off with -o no_flock: the guest kernel keeps them. */
  flock: boolean;
}

export type VirtiofsParse = VirtiofsCommand | { cmd: 'help' } | { cmd: 'version' } | { cmd: 'capabilities' };

const LEVELS = [...LOG_LEVELS, 'trace', 'off'] as const;

function levelOf(v: string, flag: string): LogLevel | 'off' {
  if (!(LEVELS as readonly string[]).includes(v)) throw new UsageError(`${flag} must be one of ${LEVELS.join(', ')}, not "${v}"`);
  return v === 'trace' ? 'debug' : (v as LogLevel | 'off');
}

function cacheOf(v: string, flag: string): CachePolicy {
  // The legacy C virtiofsd called "never" "none".
  const c = v === 'none' ? 'never' : v;
  if (!(CACHE_POLICIES as readonly string[]).includes(c)) throw new UsageError(`${flag} must be one of ${CACHE_POLICIES.join(', ')}, not "${v}"`);
  return c as CachePolicy;
}

function count(v: string, flag: string): number {
  if (!/^\d+$/.test(v)) throw new UsageError(`${flag} needs a number, not "${v}"`);
  return Number(v);
}

export function parseVirtiofsArgs(argv: string[]): VirtiofsParse {
  const fs = defaultOptions('');
  // As virtiofsd: --cache=never also turns readdirplus off.
  let readdirplus: boolean | undefined;
  let sharedDir: string | undefined;
  let socketPath: string | undefined;
  let fd: number | undefined;
  let socketGroup: string | undefined;
  let tag: string | undefined;
  let numRequestQueues = 1;
  let logLevel: LogLevel | 'off' = 'info';
  let syslog = false;
  let rlimitNofile: number | undefined;
  let flock = true;
  const modcaps: CapChange[] = [];
  const usage = <T>(f: () => T): T => {
    try {
      return f();
    } catch (e) {
      if (e instanceof CapPolicyError) throw new UsageError(e.message);
      throw e;
    }
  };

  const legacy = (o: string) => {
    const eq = o.indexOf('=');
    const k = eq < 0 ? o : o.slice(0, eq);
    const v = eq < 0 ? undefined : o.slice(eq + 1);
    const need = () => {
      if (v === undefined || v === '') throw new UsageError(`-o ${k} needs a value`);
      return v;
    };
    const none = () => {
      if (v !== undefined) throw new UsageError(`-o ${k} takes no value`);
    };
    switch (k) {
      case 'source': sharedDir = need(); return;
      case 'cache': fs.cache = cacheOf(need(), '-o cache'); return;
      case 'xattr': none(); fs.xattr = true; return;
      case 'no_xattr': none(); fs.xattr = false; return;
      case 'flock': none(); flock = true; return;
      case 'no_flock': none(); flock = false; return;
      // POSIX locks stay with the guest kernel, which is what no_posix_lock asks.
      case 'no_posix_lock': none(); return;
      case 'posix_lock': throw new UsageError('-o posix_lock: POSIX locks on host files are not implemented (the guest kernel keeps them: no_posix_lock)');
      case 'writeback': none(); fs.writeback = true; return;
      case 'no_writeback': none(); fs.writeback = false; return;
      case 'readdirplus': none(); readdirplus = true; return;
      case 'no_readdirplus': none(); readdirplus = false; return;
      case 'announce_submounts': none(); fs.announceSubmounts = true; return;
      case 'allow_direct_io': none(); fs.allowDirectIo = true; return;
      case 'log_level': logLevel = levelOf(need(), '-o log_level'); return;
      default: throw new UsageError(`-o ${k}: unknown or unsupported option`);
    }
  };

  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith('-') || a === '-') throw new UsageError(`unexpected argument "${a}"`);
    const eq = a.indexOf('=');
    const name = a.startsWith('--') && eq > 0 ? a.slice(0, eq) : a;
    const inline = a.startsWith('--') && eq > 0 ? a.slice(eq + 1) : undefined;
    const value = (): string => {
      if (inline !== undefined) return inline;
      const v = argv[++i];
      if (v === undefined) throw new UsageError(`${name} needs a value`);
      return v;
    };
    const flag = () => {
      if (inline !== undefined) throw new UsageError(`${name} takes no value`);
    };
    if (name in NOT_IMPLEMENTED) throw new UsageError(`${name}: ${NOT_IMPLEMENTED[name]} not implemented in passthroughfs yet`);
    switch (name) {
      case '-h': case '--help': return { cmd: 'help' };
      case '-V': case '--version': return { cmd: 'version' };
      case '--print-capabilities': flag(); return { cmd: 'capabilities' };
      case '--shared-dir': sharedDir = value(); break;
      case '--socket-path': socketPath = value(); break;
      case '--fd': fd = count(value(), name); break;
      case '--socket-group': socketGroup = value(); break;
      case '--tag': {
        tag = value();
        // The virtio-fs config space holds the tag in 36 bytes, not NUL-terminated when full.
        if (tag === '' || Buffer.byteLength(tag) > 36 || tag.includes('\0')) throw new UsageError(`--tag must be 1 to 36 bytes without NUL, not "${tag}"`);
        break;
      }
      case '--num-request-queues': {
        numRequestQueues = count(value(), name);
        if (numRequestQueues < 1 || numRequestQueues > 64) throw new UsageError(`${name} must be 1 to 64`);
        break;
      }
      case '--cache': fs.cache = cacheOf(value(), name); break;
      case '--readonly': flag(); fs.readOnly = true; break;
      case '--xattr': flag(); fs.xattr = true; break;
      case '--no-xattr': flag(); fs.xattr = false; break;
      case '--writeback': flag(); fs.writeback = true; break;
      case '--allow-direct-io': flag(); fs.allowDirectIo = true; break;
      case '--no-readdirplus': flag(); readdirplus = false; break;
      case '--announce-submounts': flag(); fs.announceSubmounts = true; break;
      case '--no-announce-submounts': flag(); fs.announceSubmounts = false; break;
      case '--inode-file-handles': {
        const v = inline ?? 'prefer';
        if (!(FILE_HANDLE_MODES as readonly string[]).includes(v)) throw new UsageError(`--inode-file-handles must be one of ${FILE_HANDLE_MODES.join(', ')}, not "${v}"`);
        fs.inodeFileHandles = v as FileHandleMode;
        break;
      }
      case '--thread-pool-size': {
        const n = count(value(), name);
        if (n !== 0) throw new UsageError(`--thread-pool-size=${n}: a thread pool is not implemented; requests are served on one thread (--thread-pool-size=0)`);
        break;
      }
      case '--sandbox': {
        const v = value();
        if (v !== 'none') throw new UsageError(`--sandbox=${v}: not implemented; only --sandbox=none (containment is by openat2 RESOLVE_BENEATH, see the README)`);
        break;
      }
      case '--seccomp': {
        const v = value();
        if (v !== 'none') throw new UsageError(`--seccomp=${v}: not implemented; only --seccomp=none`);
        break;
      }
      case '--rlimit-nofile': {
        const n = count(value(), name);
        if (n !== 0 && n < MIN_RLIMIT_NOFILE) throw new UsageError(`--rlimit-nofile must be 0 (leave the limit as it is) or at least ${MIN_RLIMIT_NOFILE}, not ${n}`);
        rlimitNofile = n;
        break;
      }
      case '--modcaps': modcaps.push(...usage(() => parseModcaps(value()))); break;
      case '--log-level': logLevel = levelOf(value(), name); break;
      case '--syslog': flag(); syslog = true; break;
      case '-f': break; // Always in the foreground, as virtiofsd.
      case '-d': logLevel = 'debug'; break;
      case '-o': for (const o of value().split(',')) if (o !== '') legacy(o); break;
      default:
        if (a.startsWith('-o') && a.length > 2) {
          for (const o of a.slice(2).split(',')) if (o !== '') legacy(o);
          break;
        }
        throw new UsageError(`unknown option "${a}"`);
    }
  }
  if (sharedDir === undefined) throw new UsageError('--shared-dir (or -o source=DIR) is required');
  if ((socketPath === undefined) === (fd === undefined)) throw new UsageError('exactly one of --socket-path and --fd is required');
  fs.source = resolve(sharedDir);
  fs.readdirplus = readdirplus ?? fs.cache !== 'never';
  const caps = usage(() => capPolicy(modcaps, { passthroughIo: false, fileHandles: fs.inodeFileHandles }));
  if (!caps.fileHandles) fs.inodeFileHandles = 'never';
  return {
    cmd: 'virtiofs', fs,
    listen: socketPath !== undefined ? { socketPath: resolve(socketPath) } : { fd: fd! },
    ...(socketGroup !== undefined ? { socketGroup } : {}),
    ...(tag !== undefined ? { tag } : {}),
    numRequestQueues, logLevel, logTo: syslog ? { to: 'syslog', socket: SYSLOG_SOCKET } : { to: 'stderr' },
    caps, ...(rlimitNofile !== undefined ? { rlimitNofile } : {}), flock,
  };
}

/** What `--print-capabilities` prints (the vhost-user backend JSON libvirt reads). */
export function capabilitiesJson(): string {
  return `${JSON.stringify({ type: 'fs', features: ['separate-options'] }, null, 2)}\n`;
}
