/** mount(2), umount2(2) and ioctl(2). */
import { libc, lastErrno } from './libc.js';
import { SysError } from './errno.js';
import { cstr, type PathArg } from './util.js';
import { callAsync } from './lock.js';

const mount_ = libc.func('int mount(const char *source, const char *target, const char *fstype, unsigned long flags, const void *data)');
const umount2_ = libc.func('int umount2(const char *target, int flags)');
// ioctl is variadic in C; a fixed third argument is ABI-compatible on x86_64/arm64 Linux.
const ioctlInt_ = libc.func('ioctl', 'int', ['int', 'unsigned long', 'uintptr_t']);
const ioctlPtr_ = libc.func('ioctl', 'int', ['int', 'unsigned long', 'void *']);

/** `data` is the filesystem's option string (or raw bytes); MS_* flags. */
export function mount(source: PathArg | null, target: PathArg, fstype: string | null, flags: number, data: string | Buffer | null = null): void {
  const src = source === null ? null : cstr(source, 0);
  const d = typeof data === 'string' ? Buffer.from(data + '\0') : data;
  if ((mount_(src, cstr(target, 1), fstype, flags, d) as number) < 0) throw new SysError(lastErrno(), 'mount');
}

/** flags: MNT_FORCE, MNT_DETACH, MNT_EXPIRE, UMOUNT_NOFOLLOW. */
export function umount2(target: PathArg, flags = 0): void {
  if ((umount2_(cstr(target), flags) as number) < 0) throw new SysError(lastErrno(), 'umount2');
}

/** umount2 on a pool thread, for a thread that must keep serving the mount meanwhile. */
export function umount2Async(target: string, flags = 0): Promise<void> {
  return callAsync(umount2_ as unknown as { async: (...a: unknown[]) => void }, 'umount2', [target, flags], true).then(() => undefined);
}

/** ioctl with an integer argument. `request` is the full unsigned request number. */
export function ioctl(fd: number, request: number, arg: number | bigint = 0): number {
  const r = ioctlInt_(fd, request >>> 0, arg) as number;
  if (r < 0) throw new SysError(lastErrno(), 'ioctl');
  return r;
}

/** ioctl with a pointer to `buf` (in, out or both, per the request). */
export function ioctlPtr(fd: number, request: number, buf: Uint8Array | null): number {
  const r = ioctlPtr_(fd, request >>> 0, buf) as number;
  if (r < 0) throw new SysError(lastErrno(), 'ioctl');
  return r;
}
