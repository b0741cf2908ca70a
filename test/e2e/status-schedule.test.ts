import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { aj } from '../helpers/cli.js';
import { type TestDatabase, createTestDatabase } from '../helpers/pg.js';

const paris = (iso: string) =>
  new Intl.DateTimeFormat('en-GB', { timeZone: 'Europe/Paris', weekday: 'short', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(new Date(iso));

describe('aj status: next expected run from the schedule', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase('status_schedule');
    const migrate = await aj(['db', 'migrate'], { env: { DATABASE_URL: db.url } });
    expect(migrate.exitCode, migrate.stderr).toBe(0);
  });
  afterAll(async () => db?.drop());

  it("follows crontab.example's times, AJ_SCHEDULES per job, and says when a job is on demand", async () => {
    const env = { DATABASE_URL: db.url, AJ_SCHEDULES: 'backup=30 1 * * *; archive-sync=off' };
    const status = await aj(['status', '--json'], { env });
    expect(status.exitCode).toBe(1); // nothing ever ran: unhealthy, but the report is whole
    const jobs = Object.fromEntries(JSON.parse(status.stdout).jobs.map((j: { job: string; nextExpected: string | null }) => [j.job, j.nextExpected]));
    expect(paris(jobs.backup)).toMatch(/ 01:30$/);
    expect(paris(jobs.reminders)).toMatch(/^(Mon|Tue|Wed|Thu|Fri) 08:30$/);
    expect(paris(jobs['restore-drill'])).toBe('Sun 04:00');
    expect(jobs['archive-sync']).toBeNull();
    expect(jobs.import).toBeNull();
    const table = await aj(['status'], { env });
    expect(table.stdout).toMatch(/^import\s.*on demand/m);
  });

  it('refuses a schedule it cannot read, naming the job list (exit 3)', async () => {
    const bad = await aj(['status'], { env: { DATABASE_URL: db.url, AJ_SCHEDULES: 'backups=0 2 * * *' } });
    expect(bad.exitCode).toBe(3);
    expect(bad.stderr).toMatch(/^aj: invalid configuration: AJ_SCHEDULES: unknown job "backups" \(known: backup, /);
  });
});
