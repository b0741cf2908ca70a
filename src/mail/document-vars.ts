import type { BusinessDocument } from './document.js';
import type { TemplateVars } from './templates.js';

/** The variables a devis or facture gives a template, for `aj mail send --document` and `aj mail preview --document` alike. */
export function documentVars(doc: BusinessDocument): TemplateVars {
  return { nom: doc.clientName, document: doc.type === 'devis' ? 'devis' : 'facture', numero: doc.numero, montant: formatEuros(doc.montantTtc) };
}

/** 1234.5 -> "1 234,50 €" as French readers expect. */
export function formatEuros(amount: string | number): string {
  return new Intl.NumberFormat('fr-FR', { style: 'currency', currency: 'EUR' }).format(Number(amount)).replace(/\u202f/g, '\u00a0');
}
