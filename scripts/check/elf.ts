/**
 * What the site checker needs from an ELF file, read from its headers (the
 * System V gABI and the GNU symbol-versioning extension), without readelf:
 * the machine, the libraries it needs (DT_NEEDED), and the symbol versions it
 * asks of each (.gnu.version_r), e.g. GLIBC_2.36 from libc.so.6.
 */
import { readFileSync } from 'node:fs';

export interface ElfInfo {
  /** e_machine: 62 x86-64, 183 AArch64, 3 i386, 40 ARM. */
  machine: number;
  bits: 32 | 64;
  /** DT_NEEDED sonames, in file order; empty for a static program. */
  needed: string[];
  /** Version names by the library that must provide them. */
  versions: Map<string, string[]>;
}

export const EM_X86_64 = 62;
export const EM_AARCH64 = 183;
const MACHINES: Record<number, string> = { 3: 'i386 (32-bit x86)', 40: '32-bit ARM', [EM_X86_64]: 'x86_64', [EM_AARCH64]: 'arm64 (aarch64)' };

export function machineName(machine: number): string {
  return MACHINES[machine] ?? `machine ${machine}`;
}

const SHT_DYNAMIC = 6;
const SHT_GNU_VERNEED = 0x6ffffffe;
const DT_NEEDED = 1;

export function isElf(head: Buffer): boolean {
  return head.length >= 4 && head[0] === 0x7f && head[1] === 0x45 && head[2] === 0x4c && head[3] === 0x46;
}

/** Parses an ELF file's headers; undefined when it is not ELF or is truncated. */
export function readElf(file: string): ElfInfo | undefined {
  const buf = readFileSync(file);
  if (!isElf(buf) || buf.length < 52) return undefined;
  const bits = buf[4] === 2 ? 64 : 32;
  const le = buf[5] !== 2;
  const u16 = (o: number) => (le ? buf.readUInt16LE(o) : buf.readUInt16BE(o));
  const u32 = (o: number) => (le ? buf.readUInt32LE(o) : buf.readUInt32BE(o));
  const addr = (o: number) => (bits === 64 ? Number(le ? buf.readBigUInt64LE(o) : buf.readBigUInt64BE(o)) : u32(o));
  try {
    const machine = u16(18);
    const shoff = addr(bits === 64 ? 0x28 : 0x20);
    const shentsize = u16(bits === 64 ? 0x3a : 0x2e);
    const shnum = u16(bits === 64 ? 0x3c : 0x30);
    const sections = Array.from({ length: shnum }, (_, i) => {
      const o = shoff + i * shentsize;
      return bits === 64
        ? { type: u32(o + 4), offset: addr(o + 0x18), size: addr(o + 0x20), link: u32(o + 0x28), info: u32(o + 0x2c) }
        : { type: u32(o + 4), offset: u32(o + 0x10), size: u32(o + 0x14), link: u32(o + 0x18), info: u32(o + 0x1c) };
    });
    const cstr = (strtab: number, at: number) => {
      const start = sections[strtab].offset + at;
      const end = buf.indexOf(0, start);
      return buf.toString('latin1', start, end < 0 ? buf.length : end);
    };
    const needed: string[] = [];
    const versions = new Map<string, string[]>();
    for (const s of sections) {
      if (s.type === SHT_DYNAMIC) {
        const entsize = bits === 64 ? 16 : 8;
        for (let o = s.offset; o + entsize <= s.offset + s.size; o += entsize) {
          const tag = addr(o);
          if (tag === 0) break;
          if (tag === DT_NEEDED) needed.push(cstr(s.link, addr(o + entsize / 2)));
        }
      } else if (s.type === SHT_GNU_VERNEED) {
        // Elfxx_Verneed and Elfxx_Vernaux have the same layout in both classes.
        let o = s.offset;
        for (let n = 0; n < s.info; n++) {
          const cnt = u16(o + 2);
          const lib = cstr(s.link, u32(o + 4));
          let a = o + u32(o + 8);
          const names: string[] = [];
          for (let k = 0; k < cnt; k++) {
            names.push(cstr(s.link, u32(a + 8)));
            a += u32(a + 12);
          }
          versions.set(lib, [...(versions.get(lib) ?? []), ...names]);
          const next = u32(o + 12);
          if (next === 0) break;
          o += next;
        }
      }
    }
    return { machine, bits, needed, versions };
  } catch {
    // A header pointing past the end of the file (RangeError): not a program we can judge.
    return undefined;
  }
}

/** The highest `PREFIX_x.y.z` version asked for, as [x, y, z]; undefined when none is. */
export function highestVersion(info: ElfInfo, prefix: string): { name: string; parts: number[] } | undefined {
  let best: { name: string; parts: number[] } | undefined;
  for (const names of info.versions.values()) {
    for (const name of names) {
      if (!name.startsWith(prefix + '_')) continue;
      const parts = name.slice(prefix.length + 1).split('.').map(Number);
      if (parts.some(Number.isNaN)) continue;
      if (best === undefined || compareVersions(parts, best.parts) > 0) best = { name, parts };
    }
  }
  return best;
}

export function compareVersions(a: number[], b: number[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}
