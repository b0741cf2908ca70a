import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { JOBS, jobNamed, nextExpectedRun } from '../../src/ops/jobs.js';
import { nextRun, parseCron } from '../../src/ops/schedule.js';

const paris = 'Europe/Paris';
const next = (cron: string, after: string, tz = paris) => nextRun(parseCron(cron), new Date(after), tz)?.toISOString();

describe('cron schedules', () => {
  it('finds the next minute in the business time zone, across weekends and steps', () => {
    expect(next('0 2 * * *', '2026-12-02T10:00:00Z')).toBe('2026-12-03T01:00:00.000Z');
    expect(next('30 8 * * 1-5', '2026-12-04T08:00:00Z')).toBe('2026-12-07T07:30:00.000Z');
    expect(next('2-57/5 7-19 * * 1-6', '2026-12-05T18:58:00Z')).toBe('2026-12-07T06:02:00.000Z');
    expect(next('*/5 * * * *', '2026-12-02T10:03:30Z')).toBe('2026-12-02T10:05:00.000Z');
    expect(next('@weekly', '2026-12-02T10:00:00Z')).toBe('2026-12-05T23:00:00.000Z');
    expect(next('0 9 * jan mon', '2026-12-02T10:00:00Z')).toBe('2027-01-04T08:00:00.000Z');
  });

  it('matches either day field when both are restricted, as cron does', () => {
    expect(next('0 12 1 * 0', '2026-12-02T00:00:00Z')).toBe('2026-12-06T11:00:00.000Z');
  });

  it('keeps local times across daylight-saving changes', () => {
    expect(next('0 2 * * *', '2027-03-27T12:00:00Z')).toBe('2027-03-29T00:00:00.000Z');
    expect(next('30 8 * * *', '2027-03-27T12:00:00Z')).toBe('2027-03-28T06:30:00.000Z');
    expect(next('30 0 * * *', '2026-10-24T12:00:00Z')).toBe('2026-10-24T22:30:00.000Z');
    expect(next('30 0 * * *', '2026-10-25T12:00:00Z')).toBe('2026-10-25T23:30:00.000Z');
  });

  it('refuses a bad line naming the field', () => {
    expect(() => parseCron('0 25 * * *')).toThrow('bad hour field "25"');
    expect(() => parseCron('0 2 * *')).toThrow('expected 5 fields');
    expect(() => parseCron('*/0 * * * *')).toThrow('bad minute field');
  });

  it('knows crontab.example: each job is expected when its lines there run it', () => {
    const lines = readFileSync(new URL('../../crontab.example', import.meta.url), 'utf8').split('\n').filter((l) => /^[\d*@]/.test(l));
    const runs = (schedules: string[]) => {
      const times = new Set<string>();
      for (const schedule of schedules) {
        let at = new Date('2026-12-02T00:00:00Z');
        for (let i = 0; i < 12; i += 1) times.add((at = nextRun(parseCron(schedule), at, paris)!).toISOString());
      }
      return [...times].sort().slice(0, 12);
    };
    for (const job of JOBS.filter((j) => j.schedule)) {
      const runsIt = (l: string) => (job.name === 'restore-drill' ? l.includes('restore-drill.sh') : l.includes(` ${job.command}`));
      const schedules = lines.filter(runsIt).map((l) => l.trim().split(/\s+/).slice(0, 5).join(' '));
      expect(schedules.length, job.name).toBeGreaterThan(0);
      expect(runs([job.schedule!]), job.name).toEqual(runs(schedules));
    }
  });
});

describe('AJ_SCHEDULES', () => {
  it('overrides a job schedule or turns it off; a typo fails at start', () => {
    const { config } = loadConfig({ env: { AJ_SCHEDULES: 'backup=30 1 * * *; reminders=off' }, envFile: '/nonexistent/.env' });
    const now = new Date('2026-12-02T10:00:00Z');
    expect(nextExpectedRun(jobNamed('backup')!, now, now, paris, config.jobSchedules)?.toISOString()).toBe('2026-12-03T00:30:00.000Z');
    expect(nextExpectedRun(jobNamed('reminders')!, now, now, paris, config.jobSchedules)).toBeUndefined();
    expect(() => loadConfig({ env: { AJ_SCHEDULES: 'backups=0 2 * * *' }, envFile: '/nonexistent/.env' })).toThrow('AJ_SCHEDULES: unknown job "backups"');
    expect(() => loadConfig({ env: { AJ_SCHEDULES: 'backup=0 2 * *' }, envFile: '/nonexistent/.env' })).toThrow('AJ_SCHEDULES: "0 2 * *" is not a cron schedule');
  });
});
