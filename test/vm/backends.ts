/**
 * vhost-user-fs backends for VM tests, each sharing a host directory: passthroughfs's own, the reference
 * implementations the harness is validated against, and any command given in PTFS_VM_BACKEND.
 */
import { accessSync, constants } from 'node:fs';
import { ROOT } from '../helpers.js';
import type { Backend } from './guest.js';

export interface BackendSpec {
  name: string;
  /** Why this backend cannot run here, or undefined. */
  unavailable(): string | undefined;
  /** The backend sharing `sharedDir` (its socket path is filled in by the harness). */
  backend(sharedDir: string): Backend;
}

/** Where .ci/run unpacks Debian 13's virtiofsd with the libraries it needs (a wrapper script that execs it). */
export const CACHED_VIRTIOFSD = '/var/cache/passthroughfs-vm/virtiofsd/virtiofsd';

const can = (p: string, mode: number) => {
  try {
    accessSync(p, mode);
    return true;
  } catch {
    return false;
  }
};
const executable = (p: string) => can(p, constants.X_OK);

/** The Rust virtiofsd (Debian 13's package; Debian 12 has none): VIRTIOFSD, .ci/run's copy, or an installed one. */
export function rustVirtiofsdPath(): string | undefined {
  const env = process.env.VIRTIOFSD;
  if (env) return env;
  return [CACHED_VIRTIOFSD, '/usr/libexec/virtiofsd'].find(executable);
}

export const rustVirtiofsd: BackendSpec = {
  name: 'virtiofsd (Rust)',
  unavailable() {
    const p = rustVirtiofsdPath();
    if (!p) return `no Rust virtiofsd: set VIRTIOFSD=/path, or let .ci/run fetch Debian 13's into ${CACHED_VIRTIOFSD}`;
    return executable(p) ? undefined : `VIRTIOFSD=${p} is not executable`;
  },
  backend: (dir) => ({
    // --sandbox=none: the test runs it as root on a temp dir; its namespace sandbox needs nothing we test.
    // No --tag: QEMU 7.1 to 8.0 crash on the CONFIG protocol feature it would offer.
    command: [rustVirtiofsdPath()!, '--socket-path={socket}', `--shared-dir=${dir}`, '--sandbox=none', '--cache=auto'],
  }),
};

/** QEMU 7.2's own C virtiofsd (removed from QEMU in 8.0), which Debian 12's qemu-system-common ships. */
export const QEMU_VIRTIOFSD = '/usr/lib/qemu/virtiofsd';

export const cVirtiofsd: BackendSpec = {
  name: 'virtiofsd (C, QEMU 7.2)',
  unavailable: () => (executable(QEMU_VIRTIOFSD) ? undefined : `no ${QEMU_VIRTIOFSD} (Debian 12's qemu-system-common)`),
  backend: (dir) => ({ command: [QEMU_VIRTIOFSD, '--socket-path={socket}', '-o', `source=${dir}`, '-o', 'cache=auto', '-o', 'sandbox=chroot'] }),
};

/**
 * PTFS_VM_BACKEND: a JSON array of arguments, `{socket}` and `{dir}` replaced, e.g.
 * '["node","bin/passthroughfs.js","virtiofs","--socket-path={socket}","--shared-dir={dir}"]'. It runs in the
 * repository root, so relative paths name the checkout's files.
 */
export function envBackend(): BackendSpec | undefined {
  const raw = process.env.PTFS_VM_BACKEND;
  if (!raw) return undefined;
  const argv = JSON.parse(raw) as unknown;
  if (!Array.isArray(argv) || argv.length === 0 || !argv.every((a) => typeof a === 'string')) {
    throw new Error('PTFS_VM_BACKEND: a JSON array of strings');
  }
  return {
    name: `PTFS_VM_BACKEND (${argv[0]})`,
    unavailable: () => undefined,
    backend: (dir) => ({ command: (argv as string[]).map((a) => a.replaceAll('{dir}', dir)), cwd: ROOT }),
  };
}

/** Every backend the VM tests run against: the references and PTFS_VM_BACKEND. */
/** passthroughfs's own backend, from this checkout (extra arguments after the shared directory). */
export function passthroughfsBackend(extra: string[] = []): BackendSpec {
  return {
    name: `passthroughfs-virtiofsd${extra.length ? ` ${extra.join(' ')}` : ''}`,
    unavailable: () => (can(`${ROOT}/dist/src/cli/virtiofsd.js`, constants.R_OK) ? undefined : 'dist/src/cli/virtiofsd.js is not built (npm run build)'),
    backend: (dir) => ({
      command: [process.execPath, `${ROOT}/bin/passthroughfs-virtiofsd.js`, '--socket-path={socket}', `--shared-dir=${dir}`, ...extra],
      cwd: ROOT,
    }),
  };
}


export function allBackends(): BackendSpec[] {
  const env = envBackend();
  return [passthroughfsBackend(), rustVirtiofsd, cVirtiofsd, ...(env ? [env] : [])];
}
