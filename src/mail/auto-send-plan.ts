import { type BusinessSql, quoteLiteral } from '../business/sql.js';
import type { Db } from '../db/pool.js';

/**
 * What `aj mail auto-send` has to mail, in one set-based query: every devis in `envoye` or `signe`
 * and every facture in `envoyee` whose status message is not delivered yet (its ledger key is new
 * or failed), except the documents the baseline recorded (unless --since reaches them), with the
 * latest archived PDF's version when there is one.
 */
export type AutoStatus = 'envoye' | 'signe' | 'envoyee';

export interface StatusKind {
  type: 'devis' | 'facture';
  status: AutoStatus;
  template: string;
  /** The date fields that say when the document entered the status, first mapped one wins (for --since). */
  dayFields: string[];
}

export const STATUS_KINDS: readonly StatusKind[] = [
  { type: 'devis', status: 'envoye', template: 'document', dayFields: ['dateEnvoi', 'dateEmission'] },
  { type: 'devis', status: 'signe', template: 'devis-signe', dayFields: ['dateSignature', 'dateEnvoi', 'dateEmission'] },
  { type: 'facture', status: 'envoyee', template: 'document', dayFields: ['dateEmission'] },
];

export const statusKey = (type: string, id: string, status: string) => `status:${type}:${id}:${status}`;

export interface Candidate {
  documentType: 'devis' | 'facture';
  status: AutoStatus;
  documentId: string;
  numero: string;
  montantTtc: string;
  clientName: string;
  clientEmail: string | null;
  /** The day it was sent, signed or issued (null when the app has no such date). */
  day: string | null;
  /** null: aj has never seen it in this status. */
  baseline: boolean | null;
  firstSeen: Date | null;
  /** The archived PDF to attach; null: none yet (for a signed quote: none archived since its signature day). */
  pdfVersion: number | null;
}

function kindSql(b: BusinessSql, k: StatusKind, index: number): string {
  const days = k.dayFields.filter((f) => b.has(k.type, f)).map((f) => b.day(k.type, f, 'd'));
  const day = days.length > 0 ? `COALESCE(${days.join(', ')})` : 'NULL::date';
  // The signed copy is a version archived on or after the signature day, not the quote as first sent.
  const signedDay = k.status === 'signe' && b.has('devis', 'dateSignature') ? b.day('devis', 'dateSignature', 'd') : 'NULL::date';
  const type = quoteLiteral(k.type);
  const status = quoteLiteral(k.status);
  return `
  SELECT ${index} AS kind, ${type} AS "documentType", ${status} AS status, d.id AS "documentId", d.numero, d.montant AS "montantTtc",
         d."clientName", d."clientEmail", d.day::text AS day, s.baseline, s.first_seen AS "firstSeen", pdf.version AS "pdfVersion"
    FROM (SELECT ${b.id(k.type, 'd')}::text AS id, ${b.col(k.type, 'numero', 'd')}::text AS numero, ${b.col(k.type, 'montantTtc', 'd')}::numeric::text AS montant,
                 ${day} AS day, ${signedDay} AS signed_day,
                 NULLIF(btrim(${b.col('client', 'email', 'c')}::text), '') AS "clientEmail", ${b.clientName('c')} AS "clientName"
            FROM ${b.table(k.type)} d JOIN ${b.table('client')} c ON ${b.id('client', 'c')} = ${b.col(k.type, 'clientId', 'd')}
           WHERE ${b.isLabel(k.type, 'statut', k.status, 'd')} AND ${b.notDeleted(k.type, 'd')} AND ${b.notDeleted('client', 'c')}) d
    LEFT JOIN auto_send_documents s ON s.document_type = ${type} AND s.document_id = d.id AND s.status = ${status}
    LEFT JOIN LATERAL (SELECT a.version, a.archived_at FROM archived_documents a WHERE a.doc_type = ${type} AND a.doc_id IN (d.id, d.numero)
                        ORDER BY a.version DESC, a.archived_at DESC LIMIT 1) pdf
           ON d.signed_day IS NULL OR (pdf.archived_at AT TIME ZONE ${quoteLiteral(b.timezone)})::date >= d.signed_day
   WHERE NOT EXISTS (SELECT 1 FROM deliveries x WHERE x.key = 'status:' || ${type} || ':' || d.id || ':' || ${status} AND x.status <> 'failed')
     AND (s.baseline IS NOT TRUE OR ($1::date IS NOT NULL AND d.day >= $1::date))`;
}

export async function planAutoSend(db: Db, b: BusinessSql, since: string | undefined): Promise<Candidate[]> {
  const sql = STATUS_KINDS.map((k, i) => kindSql(b, k, i)).join('\n  UNION ALL') + '\n  ORDER BY day NULLS FIRST, kind, "documentId"';
  const rows = await db.query<Candidate & { kind: number }>(sql, [since ?? null]);
  return rows.map(({ kind: _kind, ...r }) => ({ ...r, pdfVersion: r.pdfVersion === null ? null : Number(r.pdfVersion) }));
}

/**
 * Records what this run saw, in one transaction: on the first run the baseline (documents not
 * taken by --since, never mailed) and its marker; on every run the documents to send (first_seen
 * kept from the first sighting; one --since took from the baseline is no longer baseline) and which
 * of them wait for their PDF. Earlier waits that are over (sent, status left) are cleared.
 */
export async function recordSeen(db: Db, seen: { baseline?: Candidate[]; since?: string; toSend: Candidate[]; waiting: Candidate[] }): Promise<Map<string, Date>> {
  const keyOf = (c: Candidate) => `${c.documentType}:${c.documentId}:${c.status}`;
  const columns = (list: Candidate[]) => [list.map((c) => c.documentType), list.map((c) => c.documentId), list.map((c) => c.status), list.map((c) => c.numero)];
  return db.tx(async (q) => {
    if (seen.baseline) {
      await q.query(
        `INSERT INTO auto_send_documents (document_type, document_id, status, numero, baseline)
         SELECT t, i, s, n, true FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS u(t, i, s, n) ON CONFLICT DO NOTHING`,
        columns(seen.baseline),
      );
      await q.query(`INSERT INTO auto_send_baseline (since, documents) VALUES ($1, $2) ON CONFLICT DO NOTHING`, [seen.since ?? null, seen.baseline.length]);
    }
    const waiting = new Set(seen.waiting.map(keyOf));
    const { rows } = await q.query<{ document_type: string; document_id: string; status: string; first_seen: Date }>(
      `INSERT INTO auto_send_documents (document_type, document_id, status, numero, baseline, pdf_missing)
       SELECT t, i, s, n, false, w FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::boolean[]) AS u(t, i, s, n, w)
       ON CONFLICT (document_type, document_id, status) DO UPDATE SET baseline = false, numero = EXCLUDED.numero, pdf_missing = EXCLUDED.pdf_missing
       RETURNING document_type, document_id, status, first_seen`,
      [...columns(seen.toSend), seen.toSend.map((c) => waiting.has(keyOf(c)))],
    );
    await q.query(
      `UPDATE auto_send_documents SET pdf_missing = false
        WHERE pdf_missing AND (document_type || ':' || document_id || ':' || status) <> ALL($1::text[])`,
      [[...waiting]],
    );
    return new Map(rows.map((r) => [`${r.document_type}:${r.document_id}:${r.status}`, r.first_seen]));
  });
}

export interface WaitingDocument {
  documentType: string;
  documentId: string;
  numero: string | null;
  status: string;
  firstSeen: Date;
}

/** Documents to auto-send that have waited more than `hours` for their archived PDF (for `aj status`). */
export async function overdueWaits(db: Db, hours: number, now: Date): Promise<WaitingDocument[]> {
  return db.query<WaitingDocument>(
    `SELECT document_type AS "documentType", document_id AS "documentId", numero, status, first_seen AS "firstSeen" FROM auto_send_documents
      WHERE pdf_missing AND first_seen < $1::timestamptz - make_interval(hours => $2) ORDER BY first_seen, document_id`,
    [now, hours],
  );
}
