/** The fd budget's rules (fdbudget.ts): sizes, eviction before refusal, per-user shares, reports. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { FdBudget, MIN_BUDGET } from '../src/passthrough/fdbudget.js';
import { errnoOf } from './helpers.js';

describe('fd budget', () => {
  it('sizes the inode fd cache and the per-user share from the limit', () => {
    const big = new FdBudget(19_936);
    assert.equal(big.cacheMax, 512);
    assert.equal(big.share, (19_936 - 512) / 2);
    const small = new FdBudget(192);
    assert.equal(small.cacheMax, 48);
    assert.equal(small.share, 72);
    assert.equal(new FdBudget(MIN_BUDGET).cacheMax, 16);
    assert.throws(() => new FdBudget(MIN_BUDGET - 1), RangeError);
  });

  it('makes room by evicting, and refuses with ENFILE only when nothing can be evicted', () => {
    const b = new FdBudget(100);
    let evictable = 10;
    b.evict = () => {
      if (evictable === 0) return false;
      evictable--;
      b.inodeFdClosed();
      return true;
    };
    for (let i = 0; i < 100; i++) b.inodeFdOpened();
    b.room();
    assert.equal(b.held, 99, 'one evicted');
    b.inodeFdOpened();
    for (let i = 0; i < 9; i++) {
      b.room();
      b.inodeFdOpened();
    }
    assert.equal(evictable, 0);
    assert.equal(errnoOf(() => b.room()), 'ENFILE');
    b.inodeFdClosed();
    b.room();
  });

  it('limits open files per user (EMFILE) and gives them back on close', () => {
    const b = new FdBudget(192);
    for (let i = 0; i < b.share; i++) {
      b.forOpen(1000);
      b.opened(1000);
    }
    assert.equal(errnoOf(() => b.forOpen(1000)), 'EMFILE');
    // Another user is not affected.
    b.forOpen(1001);
    b.opened(1001);
    assert.equal(b.openBy(1001), 1);
    b.closed(1000);
    b.forOpen(1000);
    assert.equal(b.openBy(1000), b.share - 1);
    b.clearOpenFiles();
    assert.equal(b.held, 0);
    assert.equal(b.openBy(1000), 0);
  });

  it('reports refusals at most once a minute, with the count', () => {
    const b = new FdBudget(MIN_BUDGET);
    const lines: string[] = [];
    b.log = (_l, m) => lines.push(m);
    for (let i = 0; i < b.share; i++) b.opened(7);
    for (let i = 0; i < 5; i++) assert.equal(errnoOf(() => b.forOpen(7)), 'EMFILE');
    assert.equal(lines.length, 1);
    assert.match(lines[0]!, /uid 7 holds its share of \d+ open files.*\(1 refused since the last report\)/);
  });
});
