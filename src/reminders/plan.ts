import type { Db } from '../db/pool.js';
import { isValidAddress } from '../mail/address.js';

/**
 * What is due on a business day, computed by a few set-based queries (never one query per
 * document). A document that qualifies for several invoice levels gets only the highest one,
 * and nothing is planned for a level already sent, done, or claimed by a run that crashed
 * (`sending`, unless resendStuck).
 */
export type Only = 'invoices' | 'quotes' | 'expiry';

export interface PlanOptions {
  asOf: string;
  invoiceDays: number[];
  quoteDays: number;
  only?: Only;
  resendStuck: boolean;
}

export interface PlannedReminder {
  documentType: 'facture' | 'devis';
  documentId: number;
  numero: string;
  level: string;
  /** The day this level became due. */
  dueSince: string;
  /** Invoice due date, or the day the quote was sent. */
  referenceDate: string;
  validUntil: string | null;
  daysLate: number;
  amount: string;
  clientId: number;
  clientName: string;
  clientType: 'particulier' | 'professionnel';
  email: string | null;
  /** Why it cannot be sent (no or invalid client email); skipped and reported, never fatal. */
  skip?: string;
}

export interface ExpiringQuote {
  documentId: number;
  numero: string;
  validUntil: string;
  clientName: string;
}

export interface StuckReminder {
  documentType: string;
  documentId: number;
  level: string;
  claimedAt: string;
}

export interface Plan {
  asOf: string;
  reminders: PlannedReminder[];
  expiring: ExpiringQuote[];
  stuck: StuckReminder[];
}

const CLIENT = `c.id AS "clientId", c.type AS "clientType", NULLIF(btrim(c.email), '') AS email,
  COALESCE(c.raison_sociale, concat_ws(' ', c.prenom, c.nom)) AS "clientName"`;

const CLIENT_OK = `c.deleted_at IS NULL AND NOT c.reminders_paused`;

// Claimed or finished at this level: not planned again. `sending` rows are kept back unless $resend.
const LOGGED = (type: string, levelTest: string, resendParam: string) => `EXISTS (SELECT 1 FROM reminder_log l
  WHERE l.document_type = '${type}' AND l.document_id = d.id AND ${levelTest}
    AND (l.status IN ('sent', 'done') OR (l.status = 'sending' AND NOT ${resendParam})))`;

// MATERIALIZED: the level is computed once per invoice, not again in each later use.
export const INVOICES_DUE = `
  WITH due AS MATERIALIZED (
    SELECT d.id, d.numero, d.montant_ttc, d.due_date, ${CLIENT},
           (SELECT count(*) FROM unnest($2::int[]) n WHERE d.due_date + n <= $1::date)::int AS lvl
      FROM (SELECT f.*, COALESCE(f.date_echeance, f.date_emission + 30) AS due_date FROM factures f) d JOIN clients c ON c.id = d.client_id
     WHERE d.statut = 'envoyee' AND d.date_paiement IS NULL AND d.deleted_at IS NULL AND ${CLIENT_OK}
       AND d.due_date + ($2::int[])[1] <= $1::date)
  SELECT 'facture' AS "documentType", d.id AS "documentId", d.numero, 'relance-' || d.lvl AS level,
         (d.due_date + ($2::int[])[d.lvl])::text AS "dueSince", d.due_date::text AS "referenceDate", NULL AS "validUntil",
         ($1::date - d.due_date) AS "daysLate", d.montant_ttc::text AS amount, "clientId", "clientType", email, "clientName"
    FROM due d
   WHERE NOT ${LOGGED('facture', `l.level ~ '^relance-[0-9]+$' AND substring(l.level FROM 9)::int >= d.lvl`, '$3')}
   ORDER BY d.due_date + ($2::int[])[d.lvl], d.id`;

export const QUOTES_DUE = `
  SELECT 'devis' AS "documentType", d.id AS "documentId", d.numero, 'relance' AS level,
         (d.date_envoi + $2::int)::text AS "dueSince", d.date_envoi::text AS "referenceDate", d.date_validite::text AS "validUntil",
         ($1::date - d.date_envoi - $2::int) AS "daysLate", d.montant_ttc::text AS amount, ${CLIENT}
    FROM devis d JOIN clients c ON c.id = d.client_id
   WHERE d.statut = 'envoye' AND d.date_signature IS NULL AND d.deleted_at IS NULL AND ${CLIENT_OK}
     AND d.date_envoi + $2::int <= $1::date AND (d.date_validite IS NULL OR d.date_validite >= $1::date)
     AND NOT ${LOGGED('devis', `l.level = 'relance'`, '$3')}
   ORDER BY d.date_envoi, d.id`;

/** Sent, unsigned quotes whose validity ended before the day: they become `expire`. */
export const EXPIRING_WHERE = `d.statut = 'envoye' AND d.date_signature IS NULL AND d.deleted_at IS NULL AND d.date_validite < $1::date`;

export async function planReminders(db: Db, opts: PlanOptions): Promise<Plan> {
  const wants = (what: Only) => !opts.only || opts.only === what;
  const [invoices, quotes, expiring, stuck] = await Promise.all([
    wants('invoices') ? db.query<PlannedReminder>(INVOICES_DUE, [opts.asOf, opts.invoiceDays, opts.resendStuck]) : [],
    wants('quotes') ? db.query<PlannedReminder>(QUOTES_DUE, [opts.asOf, opts.quoteDays, opts.resendStuck]) : [],
    wants('expiry')
      ? db.query<ExpiringQuote>(
          `SELECT d.id AS "documentId", d.numero, d.date_validite::text AS "validUntil", COALESCE(c.raison_sociale, concat_ws(' ', c.prenom, c.nom)) AS "clientName"
             FROM devis d JOIN clients c ON c.id = d.client_id WHERE ${EXPIRING_WHERE} ORDER BY d.date_validite, d.id`,
          [opts.asOf],
        )
      : [],
    db.query<StuckReminder>(
      `SELECT document_type AS "documentType", document_id AS "documentId", level, claimed_at AS "claimedAt"
         FROM reminder_log WHERE status = 'sending' ORDER BY claimed_at`,
    ),
  ]);
  const reminders = [...invoices, ...quotes].map((r) => ({ ...r, documentId: Number(r.documentId), clientId: Number(r.clientId), skip: skipReason(r.email) }));
  return { asOf: opts.asOf, reminders, expiring: expiring.map((e) => ({ ...e, documentId: Number(e.documentId) })), stuck: stuck.map((s) => ({ ...s, documentId: Number(s.documentId), claimedAt: new Date(s.claimedAt).toISOString() })) };
}

function skipReason(email: string | null): string | undefined {
  if (!email) return 'client has no email address';
  if (!isValidAddress(email)) return `client email "${email}" is not valid`;
  return undefined;
}
