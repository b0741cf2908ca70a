/**
 * The jobs aj records: the cron-able commands (plus `backup restore`, whose runs are the
 * restore drills that `aj status` looks for). The schedule mirrors crontab.example and
 * only feeds "next expected run"; health thresholds live in the configuration.
 */
export interface JobSpec {
  /** job_runs.job, metric label and alert key. */
  name: string;
  /** The command, as typed after `aj`. */
  command: string;
  /** Advisory lock the command takes (src/db/job-lock.ts), to tell a live run from a dead one. */
  lock?: string;
  /** Expected interval between runs; undefined for on-demand jobs. */
  everyHours?: number;
  weekdaysOnly?: boolean;
  /** Environment variable of the success-ping URL (healthchecks.io style). */
  pingEnv: string;
}

export const JOBS: readonly JobSpec[] = [
  { name: 'backup', command: 'backup run', lock: 'backup', everyHours: 24, pingEnv: 'BACKUP_PING_URL' },
  { name: 'backup-verify', command: 'backup verify', lock: 'backup-verify', everyHours: 24 * 7, pingEnv: 'BACKUP_VERIFY_PING_URL' },
  { name: 'restore-drill', command: 'backup restore', everyHours: 24 * 7, pingEnv: 'RESTORE_DRILL_PING_URL' },
  { name: 'archive-verify', command: 'archive verify', lock: 'archive-verify', everyHours: 24, pingEnv: 'ARCHIVE_VERIFY_PING_URL' },
  { name: 'archive-sync', command: 'archive sync', lock: 'archive-sync', pingEnv: 'ARCHIVE_SYNC_PING_URL' },
  { name: 'auto-send', command: 'mail auto-send', lock: 'auto-send', pingEnv: 'AUTO_SEND_PING_URL' },
  { name: 'reminders', command: 'reminders run', lock: 'reminders', everyHours: 24, weekdaysOnly: true, pingEnv: 'REMINDERS_PING_URL' },
  { name: 'import', command: 'import csv', lock: 'import', pingEnv: 'IMPORT_PING_URL' },
  { name: 'mail-retry', command: 'mail retry', pingEnv: 'MAIL_RETRY_PING_URL' },
];

export function jobForCommand(command: string): JobSpec | undefined {
  return JOBS.find((j) => j.command === command);
}

export function jobNamed(name: string): JobSpec | undefined {
  return JOBS.find((j) => j.name === name);
}

/** When the next run is due: last start + interval, moved past the weekend for weekday jobs. */
export function nextExpectedRun(job: JobSpec, lastStarted: Date | undefined, timeZone: string): Date | undefined {
  if (!job.everyHours || !lastStarted) return undefined;
  let next = new Date(lastStarted.getTime() + job.everyHours * 3_600_000);
  while (job.weekdaysOnly && isWeekend(next, timeZone)) next = new Date(next.getTime() + 86_400_000);
  return next;
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
