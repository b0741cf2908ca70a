import { describe, expect, it } from 'vitest';
import type { BackupRecord } from '../../src/backup/history.js';
import { planRetention } from '../../src/backup/retention.js';

const now = new Date('2026-11-24T12:00:00Z');
const daysAgo = (id: number, days: number, verified = false) =>
  ({ id, started_at: new Date(now.getTime() - days * 86_400_000), verify_ok: verified ? true : null }) as BackupRecord;

describe('planRetention', () => {
  it('deletes what is older than the window, beyond the newest keepMin', () => {
    const rows = [daysAgo(1, 40), daysAgo(2, 35), daysAgo(3, 20), daysAgo(4, 2), daysAgo(5, 1)];
    const plan = planRetention(rows, { retentionDays: 30, keepMin: 2, now });
    expect(plan.remove.map((r) => r.id)).toEqual([2, 1]);
  });

  it('always keeps keepMin backups, however old', () => {
    const rows = [daysAgo(1, 400), daysAgo(2, 300), daysAgo(3, 200)];
    expect(planRetention(rows, { retentionDays: 30, keepMin: 7, now }).remove).toEqual([]);
    expect(planRetention(rows, { retentionDays: 30, keepMin: 2, now }).remove.map((r) => r.id)).toEqual([1]);
  });

  it('never deletes the newest verified backup', () => {
    const rows = [daysAgo(1, 90, true), daysAgo(2, 80), daysAgo(3, 70), daysAgo(4, 1)];
    const plan = planRetention(rows, { retentionDays: 30, keepMin: 1, now });
    expect(plan.remove.map((r) => r.id)).toEqual([3, 2]);
    expect(plan.keep.find((k) => k.record.id === 1)?.reason).toBe('newest verified backup');
  });

  it('keeps everything inside the window', () => {
    const rows = [daysAgo(1, 29), daysAgo(2, 10), daysAgo(3, 0)];
    expect(planRetention(rows, { retentionDays: 30, keepMin: 1, now }).remove).toEqual([]);
  });
});
