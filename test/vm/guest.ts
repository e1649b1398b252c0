/**
 * Boots a Linux guest under QEMU with a vhost-user-fs device served by a backend under test, runs a shell script in
 * it as root with the share mounted, and returns the script's output and exit status.
 *
 * The guest: a Debian kernel (initramfs.ts), an initramfs with busybox and the modules, and, unless hostRoot is false,
 * the host's own root filesystem, chrooted into, so a script can run node, diff, cp and the project's own files at
 * their host paths (a test's temp dir under /tmp included). QEMU shares it read-only over its built-in 9p, and the
 * guest lays a tmpfs over it with overlayfs: the guest may write anywhere, its writes stay in guest RAM, and the host's
 * files are never touched. /proc, /sys, /dev and /run in it are the guest's own. The share is a separate mount.
 *
 * Channels: ttyS0 is the console (kernel messages and the harness's markers). A virtio-serial port carries only the
 * script's stdout and stderr, then its exit status after a marker with a per-run nonce, so no kernel message or script
 * output can be taken for it; the guest powers off only once this process has acknowledged the marker on that port,
 * so no output still queued in QEMU is lost. (A second 8250 UART would do without a module, but QEMU's UART costs a
 * host write per byte: 1 MB took 5.7 s, against a fraction of that through virtio.) Both channels are unix sockets
 * this process listens on and QEMU connects to at start, before the guest runs.
 *
 * Everything started is ended in finally: QEMU (by the pid we spawned), the backend, the sockets and the temp dir.
 * The guest also powers itself off at a deadline past timeoutMs, so even a test runner that dies leaves no VM.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { accessSync, constants, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { StringDecoder } from 'node:string_decoder';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { baseInitramfs, cpioEnd, cpioEntries, findBusybox, findKernel, resolveModules, type GuestKernel } from './initramfs.js';

/** A running backend: the harness calls stop() once QEMU is gone (or on failure). */
export interface BackendHandle {
  stop(): Promise<void>;
  /** Settles when the backend exits by itself; the harness then fails the run promptly instead of at its timeout. */
  exited?: Promise<unknown>;
  /** What it printed, for error reports. */
  output?(): string;
}

/**
 * The vhost-user backend: a command (each `{socket}` in an argument is replaced by the socket path; the harness waits
 * until that socket listens, and ends the process by its pid), or a function that makes the socket listen and
 * resolves with a handle.
 */
export type Backend =
  | { command: string[]; env?: NodeJS.ProcessEnv; cwd?: string }
  | ((socketPath: string) => Promise<BackendHandle>);

export interface GuestOptions {
  backend: Backend;
  /** The virtio-fs tag (default 'ptfs'); exported to the script as $TAG. */
  tag?: string;
  /** Guest memory, all of it shared with the backend (memfd, share=on). Default 512. */
  memMiB?: number;
  /** vCPUs (default 1). Under TCG each is a host thread; the host has 2 cores. */
  cpus?: number;
  /** vhost-user-fs-pci's num-request-queues (QEMU's default: 1). */
  numRequestQueues?: number;
  /** vhost-user-fs-pci's queue-size (QEMU's default: 128). */
  queueSize?: number;
  /** Where the share is mounted in the guest, exported as $SHARE (default '/mnt'; made if missing). */
  share?: string;
  /** true (default): mount -t virtiofs $TAG $SHARE before the script; a string: with those -o options; false: not. */
  mount?: boolean | string;
  /** Share the host's root read-only and run the script chrooted into it (default true); else in busybox's world. */
  hostRoot?: boolean;
  /** The script's working directory in the guest (default '/'). */
  cwd?: string;
  /** Extra environment for the script. */
  env?: Record<string, string>;
  /** From QEMU's start to the script's end (default 120 s). */
  timeoutMs?: number;
  /** From QEMU's start to the script's start (default 60 s). */
  bootTimeoutMs?: number;
  /** 'auto' (default, or PTFS_VM_ACCEL): KVM if a probe boot under it works, else TCG. */
  accel?: 'auto' | 'tcg' | 'kvm';
  kernelArgs?: string[];
  qemuArgs?: string[];
  /** The script's output as it arrives (for progress or debugging long scripts). */
  onOutput?: (chunk: string) => void;
  /**
   * Called with each process the harness spawns (QEMU, and a command backend) right after spawning it: a caller that
   * may have to exit without awaiting the run (a ^C handler calling process.exit) can then end them by pid itself.
   */
  onSpawn?: (child: ChildProcess) => void;
  /** Where the run's temp dir (sockets, initramfs) is made (default os.tmpdir()), e.g. a caller's own scratch dir. */
  tmpDir?: string;
}

export interface GuestResult {
  /** The script's stdout and stderr, interleaved as written. */
  output: string;
  /** The script's exit status. */
  code: number;
  /** The serial console: kernel messages (at `quiet` level) and the harness's markers. */
  console: string;
  /** Host time from spawning QEMU to the script's start. */
  bootMs: number;
  /** The guest's own uptime when the script started (s). */
  guestUptimeAtStart: number;
  /** Host time the script ran. */
  scriptMs: number;
  /** Whether the init could unmount the share after the script (false: busy, or the script left it unmounted). */
  unmounted: boolean;
  accel: 'tcg' | 'kvm';
  /** The QEMU command line, as run. */
  qemu: string[];
  backendOutput: string;
}

const QEMU = () => process.env.PTFS_VM_QEMU || 'qemu-system-x86_64';
const DEFAULT_TAG = 'ptfs';

let fsHelp: ReturnType<typeof spawnSync> | undefined;
/** `qemu -device vhost-user-fs-pci,help`: whether QEMU runs and has the device, and which properties it takes. */
const vhostUserFsHelp = () => (fsHelp ??= spawnSync(QEMU(), ['-device', 'vhost-user-fs-pci,help'], { encoding: 'utf8' }));

let availability: string | undefined | null = null;

/** Why VM tests cannot run here (no QEMU, no kernel, no static busybox), or undefined if they can. */
export function vmUnavailable(): string | undefined {
  if (availability !== null) return availability;
  availability = (() => {
    const help = vhostUserFsHelp();
    if (help.error || help.status !== 0) return `${QEMU()} has no vhost-user-fs-pci (Debian package qemu-system-x86): ${help.error?.message ?? String(help.stderr).trim()}`;
    const k = findKernel();
    if (typeof k === 'string') return k;
    const bb = findBusybox();
    if (typeof bb !== 'string') return bb.reason;
    return undefined;
  })();
  return availability;
}

/** The properties this QEMU's vhost-user-fs-pci takes (num-request-queues, queue-size, …). */
export function vhostUserFsProps(): Set<string> {
  return new Set([...String(vhostUserFsHelp().stdout ?? '').matchAll(/^\s+([\w-]+)=/gm)].map((m) => m[1]!));
}

function kernel(): GuestKernel {
  const k = findKernel();
  if (typeof k === 'string') throw new Error(k);
  return k;
}

function busybox(): string {
  const bb = findBusybox();
  if (typeof bb !== 'string') throw new Error(bb.reason);
  return bb;
}

/**
 * PID 1. Settings come from /ptfs/env (shell assignments written by withGuest). Markers on the console:
 * READY (uptime) just before the script starts, FAIL (reason) if the guest cannot get that far, DEADLINE if the
 * guest's own watchdog ends it, DONE after the script. The script's status goes to the output port after its output.
 */
const INIT = `#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
. /ptfs/env
say() { echo "@@PTFS-$1:$NONCE:$2@@"; }
fail() { say FAIL "$*"; dmesg | tail -n 20; poweroff -f; }

for m in $(cat /ptfs/modules); do insmod /lib/modules/$m.ko || fail "insmod $m"; done
# A host that dies mid-run cannot stop this VM; the guest stops itself.
( sleep "$DEADLINE_S"; say DEADLINE "$DEADLINE_S"; poweroff -f ) &

R=
if [ "$HOSTROOT" = 1 ]; then
  R=/host
  mkdir -p /lower /rw
  mount -t 9p -o "$P9_OPTS" hostroot /lower || fail "mount -t 9p hostroot"
  mount -t tmpfs -o mode=0755 tmpfs /rw && mkdir /rw/upper /rw/work || fail "mount the overlay's tmpfs"
  mount -t overlay -o lowerdir=/lower,upperdir=/rw/upper,workdir=/rw/work overlay /host || fail "mount the overlay on the host root"
  mount -t proc proc /host/proc || fail "mount /proc in the host root"
  mount -t sysfs sysfs /host/sys || fail "mount /sys in the host root"
  mount -t devtmpfs devtmpfs /host/dev || fail "mount /dev in the host root"
  mkdir -p /host/dev/pts /host/dev/shm
  mount -t devpts devpts /host/dev/pts
  mount -t tmpfs -o mode=1777 tmpfs /host/dev/shm
  mount -t tmpfs -o mode=0755 tmpfs /host/run || fail "mount /run in the host root"
fi
mkdir -p "$R$SHARE" 2>/dev/null
[ -d "$R$SHARE" ] || fail "no directory $SHARE in the guest"
if [ "$MOUNT" = 1 ]; then
  if [ -n "$MOUNT_OPTS" ]; then mount -t virtiofs -o "$MOUNT_OPTS" "$TAG" "$R$SHARE"; else mount -t virtiofs "$TAG" "$R$SHARE"; fi || fail "mount -t virtiofs $TAG $SHARE"
fi
mkdir -p "$R/run"
cp /ptfs/script.sh "$R/run/ptfs-script.sh" || fail "copy the script"
OUT=
for p in /sys/class/virtio-ports/*; do [ "$(cat "$p/name" 2>/dev/null)" = ptfs.out ] && OUT=/dev/\${p##*/}; done
[ -c "$OUT" ] || fail "no virtio-serial port ptfs.out"

say READY "$(cut -d' ' -f1 /proc/uptime)"
chroot "\${R:-/}" /bin/sh -c 'cd "$1" || exit 125; exec /bin/sh /run/ptfs-script.sh' ptfs-guest "$CWD" </dev/null >"$OUT" 2>&1
code=$?
exec 3<>"$OUT"
printf '\\n@@PTFS-EXIT:%s:%s@@\\n' "$NONCE" "$code" >&3
# The host answers once it has the marker, hence everything before it.
read -t 30 ack <&3 || say NOACK ""
exec 3>&-

# What the script left running would keep the share busy. kill -1 spares PID 1 (this shell) but ends the watchdog.
kill -9 -1 2>/dev/null
sync
um=no
if grep -q " $R$SHARE virtiofs " /proc/mounts; then
  umount "$R$SHARE" 2>/dev/null || { sleep 1; umount "$R$SHARE"; } && um=yes
fi
say DONE "$code:$um"
poweroff -f
`;

/** A shell single-quoted word. */
const sq = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

let baseCache: { key: string; cpio: Buffer } | undefined;

function initramfs(k: GuestKernel, hostRoot: boolean): Buffer {
  const wanted = ['virtio_pci', 'virtio_console', 'virtiofs', ...(hostRoot ? ['9pnet_virtio', '9p', 'overlay'] : [])];
  const key = `${k.modulesDir}|${wanted.join(',')}`;
  if (baseCache?.key !== key) baseCache = { key, cpio: baseInitramfs(busybox(), resolveModules(k, wanted), INIT) };
  return baseCache.cpio;
}

let accelChoice: 'tcg' | 'kvm' | undefined;

/**
 * KVM only if it boots this kernel: /dev/kvm may be a KVM that runs only special guests (here kvm_pvm boots only PVM
 * kernels, and a Debian kernel hangs in the BIOS), so a tiny probe guest is booted once per process.
 */
async function chooseAccel(want: GuestOptions['accel']): Promise<'tcg' | 'kvm'> {
  const w = want ?? ((process.env.PTFS_VM_ACCEL as GuestOptions['accel']) || 'auto');
  if (w !== 'auto') return w;
  if (accelChoice) return accelChoice;
  accelChoice = 'tcg';
  try {
    accessSync('/dev/kvm', constants.R_OK | constants.W_OK);
  } catch {
    return accelChoice;
  }
  if (existsSync('/sys/module/kvm_pvm')) return accelChoice;
  const dir = mkdtempSync(join(tmpdir(), 'ptfs-kvmprobe-'));
  try {
    const k = kernel();
    const init = '#!/bin/busybox sh\n/bin/busybox echo @@PTFS-KVM-OK@@\n/bin/busybox poweroff -f\n';
    const cpio = Buffer.concat([cpioEntries([
      { path: 'bin', type: 'dir' }, { path: 'dev', type: 'dir' },
      { path: 'dev/console', type: 'chr', major: 5, minor: 1, mode: 0o600 },
      { path: 'bin/busybox', type: 'file', data: readFileSync(busybox()), mode: 0o755 },
      { path: 'init', type: 'file', data: Buffer.from(init), mode: 0o755 },
    ]), cpioEnd()]);
    writeFileSync(join(dir, 'probe.cpio'), cpio);
    const r = spawnSync(QEMU(), ['-nodefaults', '-no-user-config', '-display', 'none', '-no-reboot', '-accel', 'kvm', '-cpu', 'host',
      '-machine', 'q35', '-m', '256', '-kernel', k.image, '-initrd', join(dir, 'probe.cpio'),
      '-append', 'console=ttyS0 quiet panic=-1', '-serial', 'stdio'], { encoding: 'utf8', timeout: 20_000, killSignal: 'SIGKILL' });
    if (r.stdout?.includes('@@PTFS-KVM-OK@@')) accelChoice = 'kvm';
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return accelChoice;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const tail = (s: string, lines = 40) => s.split('\n').slice(-lines).join('\n');

/** Is a unix socket listening at `path` in this network namespace (/proc/net/unix flag __SO_ACCEPTCON)? */
function listening(path: string): boolean {
  try {
    return readFileSync('/proc/net/unix', 'utf8').split('\n').some((l) => {
      const f = l.trim().split(/\s+/);
      return f[7] === path && (parseInt(f[3] ?? '0', 16) & 0x10000) !== 0;
    });
  } catch {
    return false;
  }
}

/** Spawns a backend command and waits until its socket listens (what withGuest does with a command backend). */
export async function startBackendCommand(b: { command: string[]; env?: NodeJS.ProcessEnv; cwd?: string }, socketPath: string, onSpawn?: (child: ChildProcess) => void): Promise<BackendHandle & { pid: number | undefined }> {
  const [cmd, ...args] = b.command.map((a) => a.replaceAll('{socket}', socketPath));
  if (!cmd) throw new Error('backend: empty command');
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: b.env ?? process.env, cwd: b.cwd });
  onSpawn?.(child);
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  let status: string | undefined;
  const exited = new Promise<string>((r) => {
    child.on('error', (e) => r((status = `spawn error: ${e.message}`)));
    child.on('exit', (code, sig) => r((status = sig ? `signal ${sig}` : `status ${code}`)));
  });
  const handle = {
    pid: child.pid,
    exited,
    output: () => out,
    async stop() {
      if (status !== undefined) return;
      child.kill('SIGTERM');
      if ((await Promise.race([exited, sleep(5000).then(() => 'timeout')])) === 'timeout') {
        child.kill('SIGKILL');
        await exited;
      }
    },
  };
  // The socket file appears at bind(2), a moment before listen(2); a backend that sandboxes itself into another
  // network namespace before listening is not seen in /proc/net/unix, so a socket file that has stood 500 ms counts.
  let seenAt: number | undefined;
  for (const end = Date.now() + 15_000; Date.now() < end; await sleep(20)) {
    if (status !== undefined) break;
    let isSock = false;
    try {
      isSock = statSync(socketPath).isSocket();
    } catch { /* not yet */ }
    if (isSock) {
      seenAt ??= Date.now();
      if (listening(socketPath) || Date.now() - seenAt > 500) return handle;
    }
  }
  await handle.stop();
  throw new Error(`backend ${b.command.join(' ')} did not listen on ${socketPath} (${status ?? 'still running after 15 s'}):\n${tail(out)}`);
}

/** A unix socket server that takes one connection (from QEMU) and hands its data to `onData`. */
async function listenOnce(path: string, conns: { socket: net.Socket; closed: Promise<void> }[], onData: (d: Buffer, c: net.Socket) => void): Promise<net.Server> {
  const server = net.createServer((c) => {
    conns.push({ socket: c, closed: new Promise((r) => c.on('close', () => r())) });
    c.on('data', (d) => onData(d, c));
    c.on('error', () => { /* QEMU gone */ });
    server.close(); // one connection only; the accepted one stays open
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => resolve());
  });
  return server;
}

/** Boots the guest, runs `script` (sh) in it as root with the share at $SHARE, and returns what it printed and its status. */
export async function withGuest(opts: GuestOptions, script: string): Promise<GuestResult> {
  const why = vmUnavailable();
  if (why) throw new Error(`cannot boot a guest: ${why}`);
  const k = kernel();
  const tag = opts.tag ?? DEFAULT_TAG;
  if (!/^[\w.-]{1,36}$/.test(tag)) throw new Error(`tag ${JSON.stringify(tag)}: 1 to 36 of [A-Za-z0-9_.-]`);
  const share = opts.share ?? '/mnt';
  const hostRoot = opts.hostRoot ?? true;
  if (!share.startsWith('/') || /[\s'"\\]/.test(share)) throw new Error(`share ${JSON.stringify(share)}: an absolute path without blanks or quotes`);
  const memMiB = opts.memMiB ?? 512;
  const timeoutMs = opts.timeoutMs ?? 120_000;
  const bootTimeoutMs = Math.min(opts.bootTimeoutMs ?? 60_000, timeoutMs);
  const props = vhostUserFsProps();
  for (const [opt, prop] of [['numRequestQueues', 'num-request-queues'], ['queueSize', 'queue-size']] as const) {
    if (opts[opt] !== undefined && !props.has(prop)) throw new Error(`${opt}: this QEMU's vhost-user-fs-pci has no ${prop}`);
  }
  const accel = await chooseAccel(opts.accel);
  const nonce = randomBytes(8).toString('hex');

  const dir = mkdtempSync(join(opts.tmpDir ?? tmpdir(), 'ptfs-vm-'));
  const sock = { fs: join(dir, 'vfs.sock'), console: join(dir, 'console.sock'), output: join(dir, 'output.sock') };
  if (Buffer.byteLength(sock.console) > 107) throw new Error(`temp dir ${dir}: too long for a unix socket path`);

  let qemu: ChildProcess | undefined;
  let qemuExit: Promise<void> = Promise.resolve();
  let qemuStatus: string | undefined;
  let backend: BackendHandle | undefined;
  const servers: net.Server[] = [];
  const conns: { socket: net.Socket; closed: Promise<void> }[] = [];
  let consoleLog = '';
  let output = '';
  const outDecoder = new StringDecoder('utf8');
  let qemuLog = '';
  let exit: { index: number; code: number } | undefined;
  const exitRe = new RegExp(`\\n@@PTFS-EXIT:${nonce}:(\\d+)@@`);

  // Anything that happened wakes the waiting loop below.
  let wake: () => void = () => {};
  const changed = () => wake();
  const until = (ms: number) => new Promise<void>((r) => {
    const t = setTimeout(r, Math.max(0, ms));
    wake = () => { clearTimeout(t); r(); };
  });

  const report = (what: string) => [
    what,
    `--- console (tail) ---\n${tail(consoleLog)}`,
    `--- script output (tail) ---\n${tail(output, 20)}`,
    qemuLog ? `--- qemu's output ---\n${tail(qemuLog, 10)}` : '',
    backend?.output ? `--- backend (tail) ---\n${tail(backend.output(), 20)}` : '',
  ].filter(Boolean).join('\n');

  try {
    const env: string[] = [
      `NONCE=${nonce}`, `export TAG=${sq(tag)}`, `export SHARE=${sq(share)}`, `CWD=${sq(opts.cwd ?? '/')}`,
      `HOSTROOT=${hostRoot ? 1 : 0}`, `MOUNT=${opts.mount === false ? 0 : 1}`,
      `MOUNT_OPTS=${sq(typeof opts.mount === 'string' ? opts.mount : '')}`,
      // cache=loose: the host root is read-only to the guest and tests prepare their files before the boot; without a page cache
      // every exec and read of node's 100 MB binary would go to QEMU. msize: larger messages, fewer 9p round trips.
      `P9_OPTS=${sq('trans=virtio,version=9p2000.L,ro,cache=loose,msize=262144')}`,
      `DEADLINE_S=${Math.ceil(timeoutMs / 1000) + 30}`,
      `export PATH=${sq(hostRoot ? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' : '/bin')}`,
      `export HOME=${hostRoot ? '/root' : '/tmp'}`, `export TERM=dumb`, `export LANG=C.UTF-8`,
      ...Object.entries(opts.env ?? {}).map(([key, v]) => {
        if (!/^[A-Za-z_]\w*$/.test(key)) throw new Error(`env: bad name ${key}`);
        return `export ${key}=${sq(v)}`;
      }),
    ];
    const cpio = Buffer.concat([
      initramfs(k, hostRoot),
      cpioEntries([
        { path: 'ptfs/env', type: 'file', data: Buffer.from(env.join('\n') + '\n') },
        { path: 'ptfs/script.sh', type: 'file', data: Buffer.from(script), mode: 0o755 },
      ], 100_000),
      cpioEnd(),
    ]);
    writeFileSync(join(dir, 'initramfs.cpio'), cpio);

    servers.push(await listenOnce(sock.console, conns, (d) => { consoleLog += d.toString('utf8'); changed(); }));
    servers.push(await listenOnce(sock.output, conns, (d, c) => {
      const text = outDecoder.write(d);
      opts.onOutput?.(text);
      // Only the new text (and a marker's length before it) can complete the marker: no rescans of a long output.
      const from = Math.max(0, output.length - 64);
      output += text;
      if (!exit) {
        const m = exitRe.exec(output.slice(from));
        if (m) {
          exit = { index: from + m.index, code: Number(m[1]) };
          c.write('ack\n');
        }
      }
      changed();
    }));

    backend = typeof opts.backend === 'function' ? await opts.backend(sock.fs) : await startBackendCommand(opts.backend, sock.fs, opts.onSpawn);
    let backendGone: string | undefined;
    backend.exited?.then((s) => { backendGone = String(s ?? 'exited'); changed(); }, () => { backendGone = 'exited'; changed(); });

    const fsDev = [`vhost-user-fs-pci,chardev=vfs,tag=${tag}`,
      ...(opts.numRequestQueues !== undefined ? [`num-request-queues=${opts.numRequestQueues}`] : []),
      ...(opts.queueSize !== undefined ? [`queue-size=${opts.queueSize}`] : [])].join(',');
    const args = [
      '-nodefaults', '-no-user-config', '-display', 'none', '-no-reboot',
      '-accel', accel, '-cpu', accel === 'kvm' ? 'host' : 'max',
      // q35 boots the uncompressed vmlinux through PVH about a second sooner than pc does here.
      '-machine', 'q35,memory-backend=mem', '-m', `${memMiB}M`, '-smp', String(opts.cpus ?? 1),
      // vhost-user: the backend maps all of guest RAM, so it must be a shareable file (memfd) with share=on.
      '-object', `memory-backend-memfd,id=mem,size=${memMiB}M,share=on`,
      '-kernel', k.image, '-initrd', join(dir, 'initramfs.cpio'),
      '-append', ['console=ttyS0', 'quiet', 'panic=-1', ...(opts.kernelArgs ?? [])].join(' '),
      '-chardev', `socket,id=con,path=${sock.console}`, '-serial', 'chardev:con',
      '-device', 'virtio-serial-pci,id=vser', '-chardev', `socket,id=out,path=${sock.output}`,
      '-device', 'virtserialport,bus=vser.0,chardev=out,name=ptfs.out',
      '-chardev', `socket,id=vfs,path=${sock.fs}`, '-device', fsDev,
      ...(hostRoot ? ['-fsdev', 'local,id=hostroot,path=/,security_model=none,readonly=on,multidevs=remap',
        '-device', 'virtio-9p-pci,fsdev=hostroot,mount_tag=hostroot'] : []),
      ...(opts.qemuArgs ?? []),
    ];
    const qemuCmd = [QEMU(), ...args];

    const started = Date.now();
    qemu = spawn(QEMU(), args, { stdio: ['ignore', 'pipe', 'pipe'] });
    opts.onSpawn?.(qemu);
    qemu.stdout!.on('data', (d) => { qemuLog += d; });
    qemu.stderr!.on('data', (d) => { qemuLog += d; });
    qemuExit = new Promise<void>((r) => {
      qemu!.on('error', (e) => { qemuStatus = `spawn error: ${e.message}`; changed(); r(); });
      // 'close', not 'exit': by then its output has been read.
      qemu!.on('close', (code, sig) => { qemuStatus = sig ? `signal ${sig}` : `status ${code}`; changed(); r(); });
    });

    const marker = (name: string) => consoleLog.match(new RegExp(`@@PTFS-${name}:${nonce}:([^@\\n]*)@@`))?.[1];
    let readyAt: number | undefined;
    let doneAt: number | undefined;
    let backendGoneAt: number | undefined;
    let vhostErrorAt: number | undefined;
    let drained = false;
    for (;;) {
      const now = Date.now();
      if (readyAt === undefined && marker('READY') !== undefined) readyAt = now;
      if (exit && doneAt === undefined) doneAt = now;
      const failed = marker('FAIL');
      if (failed !== undefined) {
        await Promise.race([qemuExit, sleep(3000)]);
        throw new Error(report(`guest init failed: ${failed}`));
      }
      if (marker('DEADLINE') !== undefined) throw new Error(report('the guest reached its own deadline and powered off'));
      if (qemuStatus !== undefined && !drained) {
        // QEMU has gone, but what it last wrote to the channels may not have been read yet.
        await Promise.race([Promise.all(conns.map((c) => c.closed)), sleep(2000)]);
        drained = true;
        continue;
      }
      if (qemuStatus !== undefined) {
        if (!exit) throw new Error(report(`QEMU ended (${qemuStatus}) before the script ${readyAt ? 'finished' : 'started'}`));
        const done = marker('DONE');
        return {
          output: output.slice(0, exit.index),
          code: exit.code,
          console: consoleLog,
          bootMs: readyAt! - started,
          guestUptimeAtStart: Number(marker('READY')),
          scriptMs: doneAt! - readyAt!,
          unmounted: done?.endsWith(':yes') ?? false,
          accel,
          qemu: qemuCmd,
          backendOutput: backend.output?.() ?? '',
        };
      }
      if (exit && now - doneAt! > 15_000) throw new Error(report('the guest did not power off within 15 s of the script\'s end'));
      if (backendGone !== undefined && !exit) {
        // Its exit may be seen before the last of the guest's output: give that a moment.
        backendGoneAt ??= now;
        if (now - backendGoneAt > 2000) throw new Error(report(`the backend exited (${backendGone}) while the guest was running`));
      }
      // QEMU carries on when the vhost-user connection fails, and the guest then waits forever for its share.
      const vhostError = /^qemu-system-\S+: .*vhost.*$/im.exec(qemuLog)?.[0];
      if (vhostError && !exit) {
        vhostErrorAt ??= now;
        if (now - vhostErrorAt > 2000) throw new Error(report(`QEMU reports a vhost-user failure: ${vhostError}`));
      }
      if (readyAt === undefined && now - started > bootTimeoutMs) throw new Error(report(`the guest did not boot within ${bootTimeoutMs} ms`));
      if (!exit && now - started > timeoutMs) throw new Error(report(`the guest script did not finish within ${timeoutMs} ms`));
      await until(1000);
    }
  } finally {
    if (qemu && qemuStatus === undefined) {
      qemu.kill('SIGKILL'); // the pid we spawned
      await qemuExit;
    }
    try {
      await backend?.stop();
    } finally {
      for (const c of conns) c.socket.destroy();
      for (const s of servers) if (s.listening) s.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }
}
