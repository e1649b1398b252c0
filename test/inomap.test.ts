/** The inode numbers clients see (src/passthrough/inomap.ts): one per host (device, inode), stable, never shared. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { InoMap, MAX_INDEX, TABLE_BASE } from '../src/passthrough/inomap.js';

const ROOT_MAJOR = 8;
const ROOT_MINOR = 1;
const BIG = 1n << 48n;

describe('InoMap', () => {
  it('the source device keeps its inode numbers', () => {
    const m = new InoMap(ROOT_MAJOR, ROOT_MINOR);
    for (const ino of [0n, 1n, 2n, 12345n, BIG - 1n]) assert.equal(m.map(ROOT_MAJOR, ROOT_MINOR, ino), ino);
    assert.equal(m.devices, 0);
    assert.equal(m.tableSize, 0);
  });

  it('other devices get indexes 1, 2, … in order of first sight, in the top 16 bits', () => {
    const m = new InoMap(ROOT_MAJOR, ROOT_MINOR);
    assert.equal(m.map(0, 40, 1n), (1n << 48n) | 1n);
    assert.equal(m.map(7, 3, 2n), (2n << 48n) | 2n);
    assert.equal(m.map(0, 41, 2n), (3n << 48n) | 2n);
    // Seen before: the same index, whatever came in between.
    assert.equal(m.map(0, 40, 99n), (1n << 48n) | 99n);
    assert.equal(m.map(7, 3, BIG - 1n), (2n << 48n) | (BIG - 1n));
    assert.equal(m.devices, 3);
    // Major and minor are kept apart: 0:1 and 1:0 are two devices.
    const n = new InoMap(ROOT_MAJOR, ROOT_MINOR);
    assert.notEqual(n.map(0, 1, 5n), n.map(1, 0, 5n));
  });

  it('the same inode number on different devices gives different numbers; one (dev, ino) gives one, always', () => {
    const m = new InoMap(ROOT_MAJOR, ROOT_MINOR);
    const devs: [number, number][] = [[ROOT_MAJOR, ROOT_MINOR], [0, 40], [0, 41], [259, 0]];
    const first = new Map<string, bigint>();
    for (let round = 0; round < 3; round++) {
      for (const [maj, min] of devs) {
        for (const ino of [1n, 2n, 11n, 12n, BIG - 1n, BIG, 2n ** 63n, 2n ** 64n - 1n]) {
          const k = `${maj}:${min}:${ino}`;
          const v = m.map(maj, min, ino);
          if (round === 0) first.set(k, v);
          else assert.equal(v, first.get(k), `${k} is stable`);
        }
      }
    }
    assert.equal(new Set(first.values()).size, first.size, 'no two host inodes share a number');
  });

  it('inode numbers of 2^48 and more come from the table, in sequence and remembered, on any device', () => {
    const m = new InoMap(ROOT_MAJOR, ROOT_MINOR);
    assert.equal(m.map(ROOT_MAJOR, ROOT_MINOR, BIG), TABLE_BASE);
    assert.equal(m.map(0, 40, BIG), TABLE_BASE + 1n);
    assert.equal(m.map(0, 40, 2n ** 64n - 1n), TABLE_BASE + 2n);
    assert.equal(m.map(ROOT_MAJOR, ROOT_MINOR, 2n ** 63n), TABLE_BASE + 3n);
    assert.equal(m.map(ROOT_MAJOR, ROOT_MINOR, BIG), TABLE_BASE);
    assert.equal(m.map(0, 40, BIG), TABLE_BASE + 1n);
    assert.equal(m.tableSize, 4);
    // Small numbers of those devices are unaffected.
    assert.equal(m.map(ROOT_MAJOR, ROOT_MINOR, 7n), 7n);
    assert.equal(m.map(0, 40, 7n), (1n << 48n) | 7n);
  });

  it('past 65534 devices, further devices are numbered from the table; the indexed ones keep theirs', () => {
    const m = new InoMap(ROOT_MAJOR, ROOT_MINOR);
    // Devices 1:0 .. 1:65533 take indexes 1..65534.
    for (let i = 0; i < MAX_INDEX; i++) assert.equal(m.map(1, i, 5n), (BigInt(i + 1) << 48n) | 5n);
    assert.equal(m.devices, MAX_INDEX);
    assert.equal(m.map(2, 0, 5n), TABLE_BASE);
    assert.equal(m.map(2, 1, 5n), TABLE_BASE + 1n);
    assert.equal(m.map(2, 0, 6n), TABLE_BASE + 2n);
    assert.equal(m.map(2, 0, 5n), TABLE_BASE);
    assert.equal(m.map(1, MAX_INDEX - 1, 5n), (0xfffen << 48n) | 5n);
    assert.equal(m.map(1, 0, 9n), (1n << 48n) | 9n);
    assert.equal(m.map(ROOT_MAJOR, ROOT_MINOR, 5n), 5n);
    assert.equal(m.devices, MAX_INDEX);
  });

  it('bind mounts of one filesystem (same device, other mount) see one number per inode', () => {
    // The map has no notion of a mount: the key is (major, minor, ino).
    const m = new InoMap(ROOT_MAJOR, ROOT_MINOR);
    const viaFirst = m.map(0, 40, 12n);
    m.map(0, 41, 12n);
    assert.equal(m.map(0, 40, 12n), viaFirst);
    assert.equal(m.map(ROOT_MAJOR, ROOT_MINOR, 12n), 12n, 'a bind mount of the source device itself keeps the numbers');
  });
});
