import { describe, expect, it } from 'vitest';
import { limiter } from '../../src/parallel.js';
import { commonPrefix, compareKeys, justBefore } from '../../src/storage/store.js';

describe('limiter', () => {
  it('never runs more than its slots, and gives a freed slot to the lowest priority number first', async () => {
    const slot = limiter(2);
    const started: string[] = [];
    let running = 0;
    let most = 0;
    const releases: Array<() => void> = [];
    const job = (name: string, priority: number) => slot(priority, async () => {
      started.push(name);
      running += 1;
      most = Math.max(most, running);
      await new Promise<void>((resolve) => releases.push(resolve));
      running -= 1;
    });
    const all = [job('a1', 0), job('a2', 0), job('b1', 1), job('b2', 1), job('a3', 0)];
    await new Promise((r) => setImmediate(r));
    expect(started).toEqual(['a1', 'a2']);
    while (releases.length > 0) {
      releases.shift()!();
      await new Promise((r) => setImmediate(r));
    }
    await Promise.all(all);
    expect(most).toBe(2);
    // a3 (priority 0) came last but goes before the waiting priority-1 jobs.
    expect(started).toEqual(['a1', 'a2', 'a3', 'b1', 'b2']);
  });

  it('frees the slot when the work fails', async () => {
    const slot = limiter(1);
    await expect(slot(0, async () => Promise.reject(new Error('S3 down')))).rejects.toThrow('S3 down');
    await expect(slot(0, async () => 'next')).resolves.toBe('next');
  });
});

describe('S3 key order', () => {
  it('compares UTF-8 bytes as S3 lists, not UTF-16 units', () => {
    // U+FF5E sorts before U+1F600 in UTF-8; JavaScript's < says the opposite.
    expect('\u{1F600}' < '\uFF5E').toBe(true);
    expect(compareKeys('\uFF5E', '\u{1F600}')).toBeLessThan(0);
    expect(compareKeys('FA-1-x/', 'FA-1/')).toBeLessThan(0);
  });

  it('cuts common prefixes and predecessors between code points', () => {
    expect(commonPrefix('facture/2026/03/FA-10/a.pdf', 'facture/2026/03/FA-19/b.pdf')).toBe('facture/2026/03/FA-1');
    expect(commonPrefix('devis/\u{1F600}a', 'devis/\u{1F601}b')).toBe('devis/');
    expect(justBefore('devis/D-1\u{1F600}')).toBe('devis/D-1');
    expect(compareKeys(justBefore('facture/FA-1/a.pdf'), 'facture/FA-1/a.pdf')).toBeLessThan(0);
  });
});
