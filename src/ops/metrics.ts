import { writeFileAtomic } from '../atomic-file.js';
import type { Db } from '../db/pool.js';
import { JOBS } from './jobs.js';

interface Metric {
  name: string;
  type: 'gauge' | 'counter';
  help: string;
  samples: Array<{ labels?: Record<string, string>; value: number }>;
}

/**
 * Prometheus metrics from the operations tables, for node_exporter's textfile collector.
 * Everything is read from the database, so any command can refresh the file.
 */
export async function collectMetrics(db: Db): Promise<Metric[]> {
  const runs = await db.query<{ job: string; success_at: Date | null; success_seconds: number | null; last_status: string }>(
    `SELECT j.job,
       (SELECT started_at FROM job_runs s WHERE s.job = j.job AND s.status = 'succeeded' ORDER BY started_at DESC LIMIT 1) AS success_at,
       (SELECT extract(epoch FROM finished_at - started_at)::float8 FROM job_runs s WHERE s.job = j.job AND s.status = 'succeeded' ORDER BY started_at DESC LIMIT 1) AS success_seconds,
       (SELECT status FROM job_runs s WHERE s.job = j.job AND s.exit_code IS DISTINCT FROM 75 ORDER BY started_at DESC LIMIT 1) AS last_status
     FROM unnest($1::text[]) AS j(job)`,
    [JOBS.map((j) => j.name)],
  );
  const backup = await db.one<{ size_bytes: number; total_rows: number; finished_at: Date }>(
    `SELECT size_bytes, total_rows, finished_at FROM backup_runs WHERE status = 'succeeded' ORDER BY started_at DESC, id DESC LIMIT 1`,
  );
  const archive = (await db.one<{ objects: number; problems: number }>(
    `SELECT count(*) AS objects, count(*) FILTER (WHERE last_verify_result IS NOT NULL AND last_verify_result <> 'ok') AS problems FROM archived_documents`,
  ))!;
  const mail = await db.query<{ status: string; n: number }>(`SELECT status, count(*) AS n FROM email_messages GROUP BY status`);
  const reminders = (await db.one<{ n: number }>(`SELECT count(*) AS n FROM reminder_log WHERE status = 'sent'`))!;
  const deliveries = await db.query<{ status: string; n: number }>(`SELECT status, count(*) AS n FROM deliveries GROUP BY status`);
  const { walArchiveHealth } = await import('../wal/health.js');
  const wal = await walArchiveHealth(db, { maxAgeMinutes: Number.POSITIVE_INFINITY });
  const byJob = (pick: (r: (typeof runs)[number]) => number | null) =>
    runs.flatMap((r) => (pick(r) === null ? [] : [{ labels: { job: r.job }, value: pick(r)! }]));
  return [
    { name: 'aj_job_last_success_timestamp_seconds', type: 'gauge', help: 'Start time of the last successful run of each job.', samples: byJob((r) => (r.success_at ? r.success_at.getTime() / 1000 : null)) },
    { name: 'aj_job_last_success_duration_seconds', type: 'gauge', help: 'Duration of the last successful run of each job.', samples: byJob((r) => r.success_seconds) },
    { name: 'aj_job_last_run_failed', type: 'gauge', help: '1 when the last run of the job failed or was interrupted.', samples: byJob((r) => (r.last_status ? Number(r.last_status === 'failed' || r.last_status === 'interrupted') : null)) },
    { name: 'aj_backup_last_size_bytes', type: 'gauge', help: 'Size of the last successful backup.', samples: backup ? [{ value: backup.size_bytes }] : [] },
    { name: 'aj_backup_last_rows', type: 'gauge', help: 'Total rows in the last successful backup.', samples: backup ? [{ value: backup.total_rows }] : [] },
    { name: 'aj_backup_last_success_timestamp_seconds', type: 'gauge', help: 'End time of the last successful backup.', samples: backup ? [{ value: backup.finished_at.getTime() / 1000 }] : [] },
    { name: 'aj_archive_objects', type: 'gauge', help: 'Documents in the archive catalogue.', samples: [{ value: archive.objects }] },
    { name: 'aj_archive_problems', type: 'gauge', help: 'Archived documents whose last verification found a problem.', samples: [{ value: archive.problems }] },
    {
      name: 'aj_emails_total', type: 'counter', help: 'Emails recorded in the history, by outcome.',
      samples: ['sent', 'failed', 'pending', 'unknown'].map((status) => ({ labels: { status }, value: mail.find((m) => m.status === status)?.n ?? 0 })),
    },
    { name: 'aj_reminders_sent_total', type: 'counter', help: 'Reminders sent.', samples: [{ value: reminders.n }] },
    { name: 'aj_wal_archiving', type: 'gauge', help: '1 when archive_mode is on (PostgreSQL archives its WAL).', samples: [{ value: Number(wal.archiving) }] },
    { name: 'aj_wal_last_archived_timestamp_seconds', type: 'gauge', help: 'When PostgreSQL last archived a WAL file (pg_stat_archiver).', samples: wal.lastArchivedAt ? [{ value: wal.lastArchivedAt.getTime() / 1000 }] : [] },
    { name: 'aj_wal_archive_failures_total', type: 'counter', help: 'Failed archive_command runs since the statistics were reset.', samples: [{ value: wal.failedCount }] },
    { name: 'aj_wal_waiting', type: 'gauge', help: '1 when a completed WAL file waits to be archived.', samples: [{ value: Number(wal.waiting) }] },
    {
      name: 'aj_deliveries', type: 'gauge', help: 'Deliveries in the ledger by outcome (unknown ones wait for aj mail settle).',
      samples: ['sending', 'sent', 'failed', 'unknown'].map((status) => ({ labels: { status }, value: deliveries.find((d) => d.status === status)?.n ?? 0 })),
    },
  ];
}

/** The text exposition format: HELP and TYPE before each family, one sample per line. */
export function renderMetrics(metrics: Metric[]): string {
  const lines: string[] = [];
  for (const m of metrics) {
    lines.push(`# HELP ${m.name} ${m.help}`, `# TYPE ${m.name} ${m.type}`);
    for (const s of m.samples) {
      const labels = s.labels ? `{${Object.entries(s.labels).map(([k, v]) => `${k}="${v.replace(/[\\"\n]/g, (c) => (c === '\n' ? '\\n' : `\\${c}`))}"`).join(',')}}` : '';
      lines.push(`${m.name}${labels} ${Number.isFinite(s.value) ? s.value : 'NaN'}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

/** Atomically: the collector never reads half a file. */
export async function writeMetricsFile(db: Db, path: string): Promise<void> {
  await writeFileAtomic(path, renderMetrics(await collectMetrics(db)), 0o644);
}
