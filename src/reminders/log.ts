import type { BusinessSql } from '../business/sql.js';
import type { Db } from '../db/pool.js';

/** `aj reminders list`: the reminder log, newest claim first, with the document number. */
export interface ReminderLogFilter {
  status?: 'sending' | 'sent' | 'failed' | 'done';
  type?: 'facture' | 'devis';
  documentId?: string;
  limit: number;
}

export interface ReminderLogEntry {
  id: number;
  documentType: string;
  documentId: string;
  numero: string | null;
  level: string;
  status: string;
  emailMessageId: number | null;
  error: string | null;
  claimedAt: string;
  finishedAt: string | null;
}

export async function listReminderLog(db: Db, b: BusinessSql, filter: ReminderLogFilter): Promise<ReminderLogEntry[]> {
  const rows = await db.query<ReminderLogEntry>(
    `SELECT l.id, l.document_type AS "documentType", l.document_id AS "documentId",
            CASE l.document_type WHEN 'facture' THEN ${b.col('facture', 'numero', 'f')}::text ELSE ${b.col('devis', 'numero', 'd')}::text END AS numero,
            l.level, l.status, l.email_message_id AS "emailMessageId", l.error, l.claimed_at AS "claimedAt", l.finished_at AS "finishedAt"
       FROM reminder_log l
       LEFT JOIN ${b.table('facture')} f ON l.document_type = 'facture' AND ${b.id('facture', 'f')}::text = l.document_id
       LEFT JOIN ${b.table('devis')} d ON l.document_type = 'devis' AND ${b.id('devis', 'd')}::text = l.document_id
      WHERE ($1::text IS NULL OR l.status = $1) AND ($2::text IS NULL OR l.document_type = $2) AND ($3::text IS NULL OR l.document_id = $3)
      ORDER BY l.claimed_at DESC, l.id DESC LIMIT $4`,
    [filter.status ?? null, filter.type ?? null, filter.documentId ?? null, filter.limit],
  );
  return rows.map((r) => ({
    ...r,
    emailMessageId: r.emailMessageId === null ? null : Number(r.emailMessageId),
    claimedAt: new Date(r.claimedAt).toISOString(),
    finishedAt: r.finishedAt ? new Date(r.finishedAt).toISOString() : null,
  }));
}
