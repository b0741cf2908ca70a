import { describe, expect, it } from 'vitest';
import { type SizedBackup, shrunkBackups } from '../../src/ops/backup-size.js';
import { jobForCommand, nextExpectedRun, weekdayHoursBetween } from '../../src/ops/jobs.js';
import { renderMetrics } from '../../src/ops/metrics.js';
import { sparkline } from '../../src/ops/trend.js';

const day = (n: number) => new Date(Date.UTC(2026, 10, 1 + n, 2));
const backup = (id: number, size: number, rows: number, extra: Partial<SizedBackup> = {}): SizedBackup => ({
  id, status: 'succeeded', database_name: 'aj', started_at: day(id), size_bytes: size, total_rows: rows, acknowledged_at: null, ...extra,
});

describe('backup shrink detection', () => {
  const steady = [1, 2, 3, 4, 5, 6, 7].map((id) => backup(id, 1000 + id, 500));

  it('flags a backup below the threshold of the median of the seven before it, by size or by rows', () => {
    expect(shrunkBackups([...steady, backup(8, 1010, 500)], 50)).toEqual([]);
    const [bySize] = shrunkBackups([...steady, backup(8, 400, 500)], 50);
    expect(bySize).toMatchObject({ id: 8, size: 400, medianSize: 1004 });
    expect(bySize!.description).toContain('aj backup ack 8');
    expect(shrunkBackups([...steady, backup(8, 1000, 100)], 50).map((s) => s.id)).toEqual([8]);
    expect(shrunkBackups([...steady, backup(8, 600, 500)], 70).map((s) => s.id)).toEqual([8]);
    expect(shrunkBackups([...steady, backup(8, 1, 1)], 0)).toEqual([]);
  });

  it('needs three earlier backups, and compares each database with itself', () => {
    expect(shrunkBackups([backup(1, 1000, 500), backup(2, 1000, 500), backup(3, 10, 1)], 50)).toEqual([]);
    const other = [9, 10, 11].map((id) => backup(id, 10, 5, { database_name: 'small' }));
    expect(shrunkBackups([...steady, ...other], 50)).toEqual([]);
  });

  it('an acknowledged backup becomes the new baseline; deleted backups count in the baseline but are never flagged', () => {
    const drop = backup(8, 300, 150, { acknowledged_at: day(8) });
    const after = [9, 10, 11, 12].map((id) => backup(id, 310, 150));
    expect(shrunkBackups([...steady, drop, ...after], 50)).toEqual([]);
    const deleted = steady.map((b) => ({ ...b, status: 'deleted' }));
    expect(shrunkBackups([...deleted, backup(8, 100, 500, { status: 'deleted' })], 50)).toEqual([]);
    expect(shrunkBackups([...deleted, backup(8, 100, 500)], 50).map((s) => s.id)).toEqual([8]);
  });
});

describe('job schedule', () => {
  it('maps the cron-able command paths to jobs', () => {
    expect(jobForCommand('backup run')?.lock).toBe('backup');
    expect(jobForCommand('archive verify')?.name).toBe('archive-verify');
    expect(jobForCommand('mail retry')?.pingEnv).toBe('MAIL_RETRY_PING_URL');
    expect(jobForCommand('backup list')).toBeUndefined();
  });

  it('expects weekday jobs on the next weekday and counts only weekday hours', () => {
    const friday = new Date('2026-11-27T07:30:00Z');
    const reminders = jobForCommand('reminders run')!;
    expect(nextExpectedRun(reminders, friday, friday, 'Europe/Paris')?.toISOString()).toBe('2026-11-30T07:30:00.000Z');
    expect(nextExpectedRun(jobForCommand('import csv')!, friday, friday, 'Europe/Paris')).toBeUndefined();
    const monday = new Date('2026-11-30T07:30:00Z');
    expect(weekdayHoursBetween(friday, monday, 'Europe/Paris')).toBe(24);
  });
});

describe('metrics and trend rendering', () => {
  it('writes the Prometheus text format with HELP, TYPE and escaped labels', () => {
    const text = renderMetrics([
      { name: 'aj_job_last_success_timestamp_seconds', type: 'gauge', help: 'Last success.', samples: [{ labels: { job: 'a"b' }, value: 12.5 }] },
      { name: 'aj_emails_total', type: 'counter', help: 'Emails.', samples: [{ labels: { status: 'sent' }, value: 3 }] },
    ]);
    expect(text).toBe([
      '# HELP aj_job_last_success_timestamp_seconds Last success.',
      '# TYPE aj_job_last_success_timestamp_seconds gauge',
      'aj_job_last_success_timestamp_seconds{job="a\\"b"} 12.5',
      '# HELP aj_emails_total Emails.',
      '# TYPE aj_emails_total counter',
      'aj_emails_total{status="sent"} 3',
      '',
    ].join('\n'));
  });

  it('draws a drop in a sparkline and a steady history as steady', () => {
    expect(sparkline([100, 100, 100, 10])).toBe('███▁');
    expect(sparkline([1000, 1010, 1020])).toBe('███');
    expect(sparkline([])).toBe('');
  });
});
