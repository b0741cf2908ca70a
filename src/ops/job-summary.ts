import type { Db } from '../db/pool.js';
import { formatBytes } from '../render.js';

/**
 * The one-line summary of a job run, read back from the tables the command itself filled
 * since the run started, so no command has to report to the recorder.
 */
export async function summarise(db: Db, job: string, runId: number): Promise<string | null> {
  const since = `(SELECT started_at FROM job_runs WHERE id = $1)`;
  switch (job) {
    case 'backup': {
      const b = await db.one<{ id: number; size_bytes: number; total_rows: number }>(
        `SELECT id, size_bytes, total_rows FROM backup_runs WHERE status = 'succeeded' AND started_at >= ${since} ORDER BY id DESC LIMIT 1`, [runId]);
      return b ? `backup ${b.id}: ${formatBytes(b.size_bytes)}, ${b.total_rows} rows` : null;
    }
    case 'backup-verify': {
      const v = await db.one<{ ok: number; bad: number }>(
        `SELECT count(*) FILTER (WHERE verify_ok) AS ok, count(*) FILTER (WHERE NOT verify_ok) AS bad FROM backup_runs WHERE verified_at >= ${since}`, [runId]);
      return v && v.ok + v.bad > 0 ? `${v.ok} backup(s) verified, ${v.bad} failed` : null;
    }
    case 'archive-verify': {
      const a = await db.one<{ checked: number; problems: number }>(
        `SELECT count(*) AS checked, count(*) FILTER (WHERE last_verify_result <> 'ok') AS problems FROM archived_documents WHERE last_verified_at >= ${since}`, [runId]);
      return a && a.checked > 0 ? `${a.checked} document(s) checked, ${a.problems} problem(s)` : null;
    }
    case 'reminders': {
      const r = await db.one<{ sent: number; failed: number; unknown: number }>(
        `SELECT count(*) FILTER (WHERE status = 'sent') AS sent, count(*) FILTER (WHERE status = 'failed') AS failed,
                count(*) FILTER (WHERE status = 'unknown') AS unknown FROM reminder_log WHERE claimed_at >= ${since}`, [runId]);
      return r ? `${r.sent} reminder(s) sent, ${r.failed} failed${r.unknown > 0 ? `, ${r.unknown} unknown (aj mail settle)` : ''}` : null;
    }
    case 'auto-send': {
      const d = await db.one<{ sent: number; failed: number; unknown: number }>(
        `SELECT count(*) FILTER (WHERE status = 'sent') AS sent, count(*) FILTER (WHERE status = 'failed') AS failed,
                count(*) FILTER (WHERE status = 'unknown') AS unknown FROM deliveries WHERE key LIKE 'status:%' AND claimed_at >= ${since}`, [runId]);
      return d && d.sent + d.failed + d.unknown > 0 ? `${d.sent} document(s) sent, ${d.failed} failed${d.unknown > 0 ? `, ${d.unknown} unknown (aj mail settle)` : ''}` : null;
    }
    case 'import': {
      const i = await db.one<{ entity: string; file_name: string; inserted: number; updated: number; skipped: number; unchanged: number; invalid: number; status: string }>(
        `SELECT entity, file_name, inserted, updated, unchanged, skipped, invalid, status FROM import_runs WHERE started_at >= ${since} ORDER BY id DESC LIMIT 1`, [runId]);
      return i ? `${i.entity} from ${i.file_name}: ${i.status}, ${i.inserted} inserted, ${i.updated} updated, ${i.unchanged} unchanged, ${i.skipped} skipped, ${i.invalid} invalid` : null;
    }
    case 'mail-retry': {
      const m = await db.one<{ sent: number; failed: number }>(
        `SELECT count(*) FILTER (WHERE status = 'sent') AS sent, count(*) FILTER (WHERE status = 'failed') AS failed FROM email_messages WHERE retry_of IS NOT NULL AND created_at >= ${since}`, [runId]);
      return m && m.sent + m.failed > 0 ? `${m.sent} message(s) re-sent, ${m.failed} failed again` : null;
    }
    case 'restore-drill': {
      const r = await db.one<{ backup_id: number | null; object_key: string; target_database: string; over_production: boolean; status: string; verify_ok: boolean | null; tables_checked: number | null }>(
        `SELECT backup_id, object_key, target_database, over_production, status, verify_ok, tables_checked FROM restore_runs WHERE finished_at >= ${since} ORDER BY id DESC LIMIT 1`, [runId]);
      if (!r) return null;
      const verify = r.verify_ok === null ? '' : r.verify_ok ? `, ${r.tables_checked} tables verified` : ', row counts differ';
      return `backup ${r.backup_id ?? r.object_key} into ${r.target_database}${r.over_production ? ' (over production)' : ''}: ${r.status}${verify}`;
    }
    default:
      return null;
  }
}
