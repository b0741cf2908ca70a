import type { BusinessSql } from '../business/sql.js';
import type { Db } from '../db/pool.js';
import { isValidAddress } from '../mail/address.js';

/**
 * What is due on a business day, computed by a few set-based queries (never one query per
 * document). A document that qualifies for several invoice levels gets only the highest one,
 * and nothing is planned for a level already sent, done, being sent or unknown (reminder_log
 * mirrors the delivery ledger); a failed level is planned again.
 */
export type Only = 'invoices' | 'quotes' | 'expiry';

export interface PlanOptions {
  asOf: string;
  invoiceDays: number[];
  quoteDays: number;
  only?: Only;
}

export interface PlannedReminder {
  documentType: 'facture' | 'devis';
  /** The app's id, as text (cuid, uuid or a number). */
  documentId: string;
  numero: string;
  level: string;
  /** The day this level became due. */
  dueSince: string;
  /** Invoice due date, or the day the quote was sent. */
  referenceDate: string;
  validUntil: string | null;
  daysLate: number;
  amount: string;
  clientId: string;
  clientName: string;
  clientType: 'particulier' | 'professionnel';
  email: string | null;
  /** Why it cannot be sent (no or invalid client email, a number that would break a header); skipped and reported for itself. */
  skip?: { reason: string; action: 'letter-or-call' | 'fix-data' };
}

export interface ExpiringQuote {
  documentId: string;
  numero: string;
  validUntil: string;
  clientName: string;
}

export interface Plan {
  asOf: string;
  reminders: PlannedReminder[];
  expiring: ExpiringQuote[];
}

/** The client's columns every reminder needs, from the mapped client table `c`. */
function clientColumns(b: BusinessSql): string {
  return `${b.id('client', 'c')}::text AS "clientId", ${b.labelTo('client', 'type', 'c', 'particulier')} AS "clientType",
    NULLIF(btrim(${b.col('client', 'email', 'c')}::text), '') AS email, ${b.clientName('c')} AS "clientName"`;
}

/** Clients that may be reminded: not deleted, not paused (when the app has such a column). */
function clientOk(b: BusinessSql): string {
  const paused = b.has('client', 'remindersPaused') ? `AND NOT COALESCE(${b.col('client', 'remindersPaused', 'c')}, false)` : '';
  return `${b.notDeleted('client', 'c')} ${paused}`;
}

const clientJoin = (b: BusinessSql, entity: 'facture' | 'devis') => `JOIN ${b.table('client')} c ON ${b.id('client', 'c')} = ${b.col(entity, 'clientId', 'd')}`;

// Sent, being sent, unknown (settled by the operator) or done at this level: not planned again; failed is.
const LOGGED = (type: string, idExpr: string, levelTest: string) => `EXISTS (SELECT 1 FROM reminder_log l
  WHERE l.document_type = '${type}' AND l.document_id = ${idExpr} AND ${levelTest} AND l.status <> 'failed')`;

/** An invoice's due day: its due date, else 30 days after its issue date. */
function invoiceDueDay(b: BusinessSql): string {
  const emitted = b.has('facture', 'dateEmission') ? `${b.day('facture', 'dateEmission', 'd')} + 30` : undefined;
  if (!b.has('facture', 'dateEcheance')) return emitted!;
  const due = b.day('facture', 'dateEcheance', 'd');
  return emitted ? `COALESCE(${due}, ${emitted})` : due;
}

/** Sent, unpaid, not deleted invoices. */
function invoiceOpen(b: BusinessSql): string {
  const unpaid = b.has('facture', 'datePaiement') ? `AND ${b.col('facture', 'datePaiement', 'd')} IS NULL` : '';
  return `${b.isLabel('facture', 'statut', 'envoyee', 'd')} ${unpaid} AND ${b.notDeleted('facture', 'd')}`;
}

// MATERIALIZED: the level is computed once per invoice, not again in each later use.
export function invoicesDueSql(b: BusinessSql): string {
  return `
  WITH due AS MATERIALIZED (
    SELECT d.id, d.numero, d.montant, d.due_date, "clientId", "clientType", email, "clientName",
           (SELECT count(*) FROM unnest($2::int[]) n WHERE d.due_date + n <= $1::date)::int AS lvl
      FROM (SELECT ${b.id('facture', 'd')}::text AS id, ${b.col('facture', 'numero', 'd')}::text AS numero,
                   ${b.col('facture', 'montantTtc', 'd')}::numeric AS montant, ${invoiceDueDay(b)} AS due_date, ${clientColumns(b)}
              FROM ${b.table('facture')} d ${clientJoin(b, 'facture')}
             WHERE ${invoiceOpen(b)} AND ${clientOk(b)}) d
     WHERE d.due_date + ($2::int[])[1] <= $1::date)
  SELECT 'facture' AS "documentType", d.id AS "documentId", d.numero, 'relance-' || d.lvl AS level,
         (d.due_date + ($2::int[])[d.lvl])::text AS "dueSince", d.due_date::text AS "referenceDate", NULL AS "validUntil",
         ($1::date - d.due_date) AS "daysLate", d.montant::text AS amount, "clientId", "clientType", email, "clientName"
    FROM due d
   WHERE NOT ${LOGGED('facture', 'd.id', `l.level ~ '^relance-[0-9]+$' AND substring(l.level FROM 9)::int >= d.lvl`)}
   ORDER BY d.due_date + ($2::int[])[d.lvl], d.id`;
}

/** The day a quote was sent (else issued): what its reminder counts from. */
const quoteSentDay = (b: BusinessSql) => b.day('devis', b.has('devis', 'dateEnvoi') ? 'dateEnvoi' : 'dateEmission', 'd');
const quoteValidUntil = (b: BusinessSql) => (b.has('devis', 'dateValidite') ? b.day('devis', 'dateValidite', 'd') : 'NULL::date');

/** Sent, unsigned, not deleted quotes. */
function quoteOpen(b: BusinessSql): string {
  const unsigned = b.has('devis', 'dateSignature') ? `AND ${b.col('devis', 'dateSignature', 'd')} IS NULL` : '';
  return `${b.isLabel('devis', 'statut', 'envoye', 'd')} ${unsigned} AND ${b.notDeleted('devis', 'd')}`;
}

export function quotesDueSql(b: BusinessSql): string {
  return `
  SELECT 'devis' AS "documentType", d.id AS "documentId", d.numero, 'relance' AS level,
         (d.sent_day + $2::int)::text AS "dueSince", d.sent_day::text AS "referenceDate", d.valid_until::text AS "validUntil",
         ($1::date - d.sent_day - $2::int) AS "daysLate", d.montant::text AS amount, "clientId", "clientType", email, "clientName"
    FROM (SELECT ${b.id('devis', 'd')}::text AS id, ${b.col('devis', 'numero', 'd')}::text AS numero, ${b.col('devis', 'montantTtc', 'd')}::numeric AS montant,
                 ${quoteSentDay(b)} AS sent_day, ${quoteValidUntil(b)} AS valid_until, ${clientColumns(b)}
            FROM ${b.table('devis')} d ${clientJoin(b, 'devis')}
           WHERE ${quoteOpen(b)} AND ${clientOk(b)}) d
   WHERE d.sent_day + $2::int <= $1::date AND (d.valid_until IS NULL OR d.valid_until >= $1::date)
     AND NOT ${LOGGED('devis', 'd.id', `l.level = 'relance'`)}
   ORDER BY d.sent_day, d.id`;
}

/** Sent, unsigned quotes whose validity ended before the day $1: they become `expire`. Quotes without a validity never expire. */
export function expiringWhere(b: BusinessSql): string {
  if (!b.has('devis', 'dateValidite')) return 'FALSE';
  return `${quoteOpen(b)} AND ${b.day('devis', 'dateValidite', 'd')} < $1::date`;
}

export async function planReminders(db: Db, b: BusinessSql, opts: PlanOptions): Promise<Plan> {
  const wants = (what: Only) => !opts.only || opts.only === what;
  const [invoices, quotes, expiring] = await Promise.all([
    wants('invoices') ? db.query<PlannedReminder>(invoicesDueSql(b), [opts.asOf, opts.invoiceDays]) : [],
    wants('quotes') ? db.query<PlannedReminder>(quotesDueSql(b), [opts.asOf, opts.quoteDays]) : [],
    wants('expiry')
      ? db.query<ExpiringQuote>(
          `SELECT ${b.id('devis', 'd')}::text AS "documentId", ${b.col('devis', 'numero', 'd')}::text AS numero, ${quoteValidUntil(b)}::text AS "validUntil", "clientName"
             FROM ${b.table('devis')} d CROSS JOIN LATERAL (SELECT ${clientColumns(b)} FROM ${b.table('client')} c WHERE ${b.id('client', 'c')} = ${b.col('devis', 'clientId', 'd')}) c
            WHERE ${expiringWhere(b)} ORDER BY 3, 1`,
          [opts.asOf],
        )
      : [],
  ]);
  const reminders = [...invoices, ...quotes].map((r) => ({ ...r, skip: skipReason(r) }));
  return { asOf: opts.asOf, reminders, expiring };
}

/** A client without an address needs a letter or a call (not a failure); unusable data must be fixed (the run fails). */
function skipReason(r: PlannedReminder): PlannedReminder['skip'] {
  if (/[\r\n\0]/.test(r.numero)) return { reason: `the ${r.documentType} number ${JSON.stringify(r.numero)} holds a line break, which would break the subject line`, action: 'fix-data' };
  if (!r.email) return { reason: 'client has no email address', action: 'letter-or-call' };
  if (!isValidAddress(r.email)) return { reason: `client email "${r.email}" is not valid`, action: 'fix-data' };
  return undefined;
}
