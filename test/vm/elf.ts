/**
 * Just enough ELF64 reading for the guest's initramfs: a kernel module's `.modinfo` section (its `depends=`, since
 * Debian's kernel package ships no modules.dep and the host may have no kmod), and whether a binary asks for a
 * dynamic loader (busybox must be static: the initramfs has no libc).
 */

const ELF_MAGIC = Buffer.from([0x7f, 0x45, 0x4c, 0x46]);

function checkElf64(b: Buffer, what: string): void {
  if (b.length < 64 || !b.subarray(0, 4).equals(ELF_MAGIC)) throw new Error(`${what}: not an ELF file`);
  if (b[4] !== 2 || b[5] !== 1) throw new Error(`${what}: not a little-endian ELF64 file`);
}

/** The bytes of the section named `name`, or undefined. */
export function elfSection(b: Buffer, name: string, what = 'ELF file'): Buffer | undefined {
  checkElf64(b, what);
  const shoff = Number(b.readBigUInt64LE(0x28));
  const shentsize = b.readUInt16LE(0x3a);
  const shnum = b.readUInt16LE(0x3c);
  const shstrndx = b.readUInt16LE(0x3e);
  const sh = (i: number) => {
    const o = shoff + i * shentsize;
    return { name: b.readUInt32LE(o), offset: Number(b.readBigUInt64LE(o + 0x18)), size: Number(b.readBigUInt64LE(o + 0x20)) };
  };
  const strtab = sh(shstrndx);
  for (let i = 0; i < shnum; i++) {
    const s = sh(i);
    const start = strtab.offset + s.name;
    const n = b.toString('latin1', start, b.indexOf(0, start));
    if (n === name) return b.subarray(s.offset, s.offset + s.size);
  }
  return undefined;
}

/** A kernel module's modinfo as key → values (a key such as `alias` can repeat). */
export function modinfo(ko: Buffer, what = 'module'): Map<string, string[]> {
  const sec = elfSection(ko, '.modinfo', what);
  if (!sec) throw new Error(`${what}: no .modinfo section (not a kernel module?)`);
  const info = new Map<string, string[]>();
  for (const entry of sec.toString('latin1').split('\0')) {
    const eq = entry.indexOf('=');
    if (eq <= 0) continue;
    const k = entry.slice(0, eq);
    info.set(k, [...(info.get(k) ?? []), entry.slice(eq + 1)]);
  }
  return info;
}

/** True if the executable names a program interpreter (PT_INTERP), i.e. it needs a dynamic loader and libc. */
export function isDynamic(b: Buffer, what = 'executable'): boolean {
  checkElf64(b, what);
  const phoff = Number(b.readBigUInt64LE(0x20));
  const phentsize = b.readUInt16LE(0x36);
  const phnum = b.readUInt16LE(0x38);
  for (let i = 0; i < phnum; i++) if (b.readUInt32LE(phoff + i * phentsize) === 3 /* PT_INTERP */) return true;
  return false;
}
