import { nextRun, parseCron } from './schedule.js';

/**
 * The jobs aj records: the cron-able commands (plus `backup restore`, whose runs are the
 * restore drills that `aj status` looks for). The schedule is crontab.example's (AJ_SCHEDULES
 * overrides it per job) and only feeds "next expected run"; health thresholds live in the configuration.
 */
export interface JobSpec {
  /** job_runs.job, metric label and alert key. */
  name: string;
  /** The command, as typed after `aj`. */
  command: string;
  /** Advisory lock the command takes (src/db/job-lock.ts), to tell a live run from a dead one. */
  lock?: string;
  /** crontab.example's schedule (cron fields); undefined for on-demand jobs. */
  schedule?: string;
  /** Environment variable of the success-ping URL (healthchecks.io style). */
  pingEnv: string;
}

export const JOBS: readonly JobSpec[] = [
  { name: 'backup', command: 'backup run', lock: 'backup', schedule: '0 2 * * *', pingEnv: 'BACKUP_PING_URL' },
  { name: 'backup-verify', command: 'backup verify', lock: 'backup-verify', schedule: '30 3 * * 0', pingEnv: 'BACKUP_VERIFY_PING_URL' },
  { name: 'restore-drill', command: 'backup restore', schedule: '0 4 * * 0', pingEnv: 'RESTORE_DRILL_PING_URL' },
  { name: 'pitr-drill', command: 'backup restore --physical --drill', schedule: '0 6 * * 0', pingEnv: 'PITR_DRILL_PING_URL' },
  { name: 'archive-verify', command: 'archive verify', lock: 'archive-verify', schedule: '0 5 * * *', pingEnv: 'ARCHIVE_VERIFY_PING_URL' },
  { name: 'archive-sync', command: 'archive sync', lock: 'archive-sync', schedule: '*/5 * * * *', pingEnv: 'ARCHIVE_SYNC_PING_URL' },
  { name: 'auto-send', command: 'mail auto-send', lock: 'auto-send', schedule: '2-57/5 7-19 * * 1-6', pingEnv: 'AUTO_SEND_PING_URL' },
  { name: 'reminders', command: 'reminders run', lock: 'reminders', schedule: '30 8 * * 1-5', pingEnv: 'REMINDERS_PING_URL' },
  { name: 'import', command: 'import csv', lock: 'import', pingEnv: 'IMPORT_PING_URL' },
  { name: 'mail-retry', command: 'mail retry', pingEnv: 'MAIL_RETRY_PING_URL' },
];

export function jobForCommand(command: string): JobSpec | undefined {
  return JOBS.find((j) => j.command === command);
}

export function jobNamed(name: string): JobSpec | undefined {
  return JOBS.find((j) => j.name === name);
}

/**
 * When the next run is due by the job's schedule (AJ_SCHEDULES, else crontab.example's): the first
 * scheduled time after the last run, or after `now` for a job that never ran. A run missed
 * shows as a "next expected" in the past.
 */
export function nextExpectedRun(job: JobSpec, lastStarted: Date | undefined, now: Date, timeZone: string, overrides?: ReadonlyMap<string, string | null>): Date | undefined {
  const schedule = overrides?.has(job.name) ? overrides.get(job.name) : job.schedule;
  if (!schedule) return undefined;
  return nextRun(parseCron(schedule), lastStarted ?? now, timeZone);
}

export function isWeekend(at: Date, timeZone: string): boolean {
  const day = new Intl.DateTimeFormat('en-US', { timeZone, weekday: 'short' }).format(at);
  return day === 'Sat' || day === 'Sun';
}

/** Hours between two instants, not counting Saturdays and Sundays (for weekday-only jobs). */
export function weekdayHoursBetween(from: Date, to: Date, timeZone: string): number {
  let hours = 0;
  // Hour steps, capped at 60 days: enough to say "far too old" without looping for ever.
  const limit = Math.min(to.getTime(), from.getTime() + 60 * 86_400_000);
  for (let t = from.getTime(); t + 3_600_000 <= limit; t += 3_600_000) {
    if (!isWeekend(new Date(t), timeZone)) hours += 1;
  }
  return hours;
}
