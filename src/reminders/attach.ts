import type { Context } from '../context.js';
import type { Db } from '../db/pool.js';
import { ConfigError, VerificationError, describeError } from '../errors.js';
import { type LoadedAttachment, loadArchivedPdf } from '../mail/document.js';
import type { PlannedReminder } from './plan.js';

export interface InvoicePdfs {
  /** documentId -> the invoice's latest archived PDF, checked. */
  pdfs: Map<string, LoadedAttachment>;
  /** documentId -> why its PDF cannot be attached: damaged in storage (its reminder is not sent). */
  damaged: Map<string, string>;
}

/**
 * The archived PDF of each invoice to remind, when there is one (REMINDER_ATTACH_PDF, on by
 * default): one query finds the invoices that have a version (archived under their id or number),
 * then each is read through the checked read (size and SHA-256). An invoice without a PDF is
 * reminded without one; a damaged PDF stops that reminder (the run exits 4).
 */
export async function invoicePdfs(ctx: Context, db: Db, reminders: PlannedReminder[], maxMb: number): Promise<InvoicePdfs> {
  const result: InvoicePdfs = { pdfs: new Map(), damaged: new Map() };
  const invoices = reminders.filter((r) => r.documentType === 'facture');
  if (invoices.length === 0) return result;
  const archived = new Set(
    (await db.query<{ doc_id: string }>(`SELECT DISTINCT doc_id FROM archived_documents WHERE doc_type = 'facture' AND doc_id = ANY($1::text[])`, [
      invoices.flatMap((r) => [r.documentId, r.numero]),
    ])).map((row) => row.doc_id),
  );
  const withPdf = invoices.filter((r) => archived.has(r.documentId) || archived.has(r.numero));
  if (withPdf.length === 0) return result;
  const store = await ctx.store('archive');
  for (const r of withPdf) {
    const doc = { type: 'facture' as const, id: r.documentId, numero: r.numero, montantTtc: r.amount, clientName: r.clientName, clientEmail: r.email };
    try {
      result.pdfs.set(r.documentId, await loadArchivedPdf(db, store, doc, maxMb));
    } catch (error) {
      if (error instanceof VerificationError) result.damaged.set(r.documentId, describeError(error));
      else if (error instanceof ConfigError) throw error;
      // Too big to attach (or gone meanwhile): the reminder still goes, without it.
      else ctx.io.warn(`facture ${r.numero}: reminder sent without its PDF: ${describeError(error)}`);
    }
  }
  return result;
}
