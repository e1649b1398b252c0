/**
 * The guest's kernel and initramfs, built from a Debian kernel package extracted on the host (see .ci/run) and the
 * host's busybox-static. The initramfs is a newc cpio archive written here, so the host needs no cpio; the kernel
 * takes it uncompressed, which under TCG is faster than having the guest inflate it.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { isDynamic, modinfo } from './elf.js';

/** Where .ci/run extracts the guest kernel package (boot/ and lib/modules/ of linux-image-*-amd64). */
export const DEFAULT_KERNEL_DIR = '/var/cache/passthroughfs-vm/kernel';

export interface GuestKernel {
  dir: string;
  release: string;
  /** What QEMU boots: an uncompressed vmlinux (PVH entry) when one could be had, else the bzImage. */
  image: string;
  modulesDir: string;
}

/** The kernel in `dir` (PTFS_VM_KERNEL, else DEFAULT_KERNEL_DIR), or a sentence saying why there is none. */
export function findKernel(dir = process.env.PTFS_VM_KERNEL || DEFAULT_KERNEL_DIR): GuestKernel | string {
  const boot = join(dir, 'boot');
  if (!existsSync(boot)) return `no guest kernel in ${dir} (.ci/run puts one there; or set PTFS_VM_KERNEL to an extracted linux-image package)`;
  const releases = readdirSync(boot).filter((f) => f.startsWith('vmlinuz-')).map((f) => f.slice('vmlinuz-'.length))
    .filter((r) => existsSync(join(dir, 'lib/modules', r)));
  if (releases.length !== 1) return `expected one kernel with its modules in ${dir}, found ${releases.length}: ${releases.join(', ')}`;
  const release = releases[0]!;
  return { dir, release, image: bootImage(dir, release), modulesDir: join(dir, 'lib/modules', release) };
}

/**
 * Debian's x86 bzImage is xz-compressed, and under TCG the guest spends about 3 s of a 4.7 s boot inflating it.
 * QEMU boots an uncompressed ELF vmlinux through its PVH entry point (CONFIG_PVH) with none of that, so the vmlinux
 * is extracted once, with the host's xz, next to the bzImage (written under another name and renamed, so a
 * concurrent run never sees half a file). If that cannot be done the bzImage still boots, only slower.
 */
function bootImage(dir: string, release: string): string {
  const bz = join(dir, 'boot', `vmlinuz-${release}`);
  const elf = join(dir, 'boot', `vmlinux-${release}`);
  if (existsSync(elf)) return elf;
  const tmp = `${elf}.tmp-${process.pid}`;
  try {
    const b = readFileSync(bz);
    const at = b.indexOf(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00])); // xz stream magic
    if (at < 0) return bz;
    // --single-stream: the payload is followed by the bzImage's trailer, which is not xz.
    const r = spawnSync('xz', ['-dc', '--single-stream'], { input: b.subarray(at), maxBuffer: 1 << 30 });
    if (r.status !== 0 || !r.stdout.subarray(0, 4).equals(Buffer.from([0x7f, 0x45, 0x4c, 0x46]))) return bz;
    writeFileSync(tmp, r.stdout);
    renameSync(tmp, elf);
    return elf;
  } catch {
    rmSync(tmp, { force: true });
    return bz;
  }
}

/** The host's busybox, which must be static (Debian's busybox-static), or a sentence saying why not. */
export function findBusybox(path = process.env.PTFS_VM_BUSYBOX || '/bin/busybox'): string | { reason: string } {
  if (!existsSync(path)) return { reason: `no ${path} (Debian package busybox-static)` };
  if (isDynamic(readFileSync(path), path)) return { reason: `${path} is dynamically linked: install busybox-static` };
  return path;
}

const norm = (name: string) => name.replace(/-/g, '_');

/**
 * The module files to load, in an order that loads every module after the ones it depends on (from each module's
 * own modinfo: Debian's package has no modules.dep, and depmod may not be on the host). Modules built into the
 * kernel are left out; a wanted module that is neither built in nor shipped is an error.
 */
export function resolveModules(k: GuestKernel, wanted: string[]): { name: string; path: string }[] {
  const builtin = new Set<string>();
  const builtinList = join(k.modulesDir, 'modules.builtin');
  if (existsSync(builtinList)) {
    for (const line of readFileSync(builtinList, 'utf8').split('\n')) if (line) builtin.add(norm(basename(line).replace(/\.ko$/, '')));
  }
  const files = new Map<string, string>();
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(d, e.name));
      else if (/\.ko(\.xz|\.zst)?$/.test(e.name)) files.set(norm(e.name.replace(/\.ko(\.xz|\.zst)?$/, '')), join(d, e.name));
    }
  };
  walk(join(k.modulesDir, 'kernel'));

  const order: { name: string; path: string }[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (name: string, from: string): void => {
    name = norm(name);
    if (builtin.has(name) || state.get(name) === 'done') return;
    if (state.get(name) === 'visiting') throw new Error(`kernel modules: dependency cycle through ${name}`);
    const path = files.get(name);
    if (!path) throw new Error(`kernel ${k.release}: module ${name} (${from}) is neither built in nor in ${k.modulesDir}`);
    state.set(name, 'visiting');
    const deps = modinfo(moduleBytes(path), path).get('depends')?.[0] ?? '';
    for (const d of deps.split(',')) if (d) visit(d, `needed by ${name}`);
    state.set(name, 'done');
    order.push({ name, path });
  };
  for (const w of wanted) visit(w, 'wanted');
  return order;
}

/** A module's ELF bytes; newer Debian kernels ship them xz- or zstd-compressed, which busybox insmod cannot read. */
export function moduleBytes(path: string): Buffer {
  const tool = path.endsWith('.xz') ? 'xz' : path.endsWith('.zst') ? 'zstd' : undefined;
  if (!tool) return readFileSync(path);
  const r = spawnSync(tool, ['-dc', path], { maxBuffer: 1 << 28 });
  if (r.status !== 0) throw new Error(`${tool} -dc ${path} failed: ${r.stderr}`);
  return r.stdout;
}

// --- newc cpio ---------------------------------------------------------------------------------------------------

export type CpioEntry =
  | { path: string; type: 'dir'; mode?: number }
  | { path: string; type: 'file'; data: Buffer; mode?: number }
  | { path: string; type: 'chr'; major: number; minor: number; mode?: number };

const pad4 = (n: number) => (4 - (n % 4)) % 4;

/** Entries as a newc ("070701") archive without its trailer, so archives can be concatenated before `cpioEnd`. */
export function cpioEntries(entries: CpioEntry[], firstIno = 1): Buffer {
  const parts: Buffer[] = [];
  let ino = firstIno;
  for (const e of entries) {
    const name = Buffer.from(e.path.replace(/^\/+/, '') + '\0');
    const data = e.type === 'file' ? e.data : Buffer.alloc(0);
    const mode = (e.type === 'dir' ? 0o040000 : e.type === 'chr' ? 0o020000 : 0o100000) | (e.mode ?? (e.type === 'dir' ? 0o755 : 0o644));
    const [rmaj, rmin] = e.type === 'chr' ? [e.major, e.minor] : [0, 0];
    const fields = [ino++, mode, 0, 0, e.type === 'dir' ? 2 : 1, 0, data.length, 0, 0, rmaj, rmin, name.length, 0];
    const hdr = '070701' + fields.map((f) => f.toString(16).padStart(8, '0')).join('');
    parts.push(Buffer.from(hdr, 'latin1'), name, Buffer.alloc(pad4(hdr.length + name.length)), data, Buffer.alloc(pad4(data.length)));
  }
  return Buffer.concat(parts);
}

export const cpioEnd = (): Buffer => cpioEntries([{ path: 'TRAILER!!!', type: 'file', data: Buffer.alloc(0) }], 0);

/**
 * The fixed part of the initramfs: busybox, the modules (numbered in load order, listed in /ptfs/modules) and /init.
 * The per-guest settings and script are appended by the caller.
 */
export function baseInitramfs(busybox: string, modules: { name: string; path: string }[], init: string): Buffer {
  const entries: CpioEntry[] = [
    ...['bin', 'dev', 'proc', 'sys', 'tmp', 'run', 'mnt', 'host', 'lib', 'lib/modules', 'ptfs'].map((p) => ({ path: p, type: 'dir' as const })),
    // The kernel opens /dev/console for init's stdio before init can mount devtmpfs.
    { path: 'dev/console', type: 'chr', major: 5, minor: 1, mode: 0o600 },
    { path: 'bin/busybox', type: 'file', data: readFileSync(busybox), mode: 0o755 },
    { path: 'init', type: 'file', data: Buffer.from(init), mode: 0o755 },
    { path: 'ptfs/modules', type: 'file', data: Buffer.from(modules.map((m) => m.name).join('\n') + '\n') },
    ...modules.map((m): CpioEntry => ({ path: `lib/modules/${m.name}.ko`, type: 'file', data: moduleBytes(m.path) })),
  ];
  return cpioEntries(entries);
}
