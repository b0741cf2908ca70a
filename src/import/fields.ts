import { fold } from '../text.js';
/**
 * Cell parsers for what Excel and other software write in French files. Each returns the
 * value to store, or throws a FieldProblem whose message says why and how to fix it.
 */

export class FieldProblem extends Error {}

// Spaces Excel and French typography put in numbers: normal, non-breaking, narrow non-breaking.
const SPACES = /[\s\u00a0\u202f]/g;

const EMAIL = /^[^\s@"<>,;]+@[^\s@"<>,;]+\.[a-z]{2,}$/i;

export function email(value: string): string {
  if (!EMAIL.test(value)) throw new FieldProblem('not a valid email address');
  return value;
}

/** French postal code; Excel turns 01000 into 1000, so four digits get their zero back. */
export function postalCode(value: string): string {
  const digits = value.replace(SPACES, '');
  if (/^\d{5}$/.test(digits)) return digits;
  if (/^\d{4}$/.test(digits)) return `0${digits}`;
  throw new FieldProblem('a French postal code has 5 digits');
}

/** Phone numbers to E.164: French numbers in any of the usual forms, others when already international. */
export function phone(value: string): string {
  const compact = value.replace(/[\s\u00a0\u202f.\-/()]/g, '');
  // +33 or 0033 (with Excel's stray 0), a national 0, or none: one pattern, as it runs for every row.
  const french = /^(?:(?:\+33|0033)0?|0)?([1-9]\d{8})$/.exec(compact);
  if (french) return `+33${french[1]}`;
  const international = /^(?:\+|00)([1-9]\d{6,14})$/.exec(compact);
  if (international) return `+${international[1]}`;
  throw new FieldProblem('not a phone number (expected e.g. 01 23 45 67 89 or +33 1 23 45 67 89)');
}

// La Poste's establishments share SIREN 356000000 and do not follow Luhn: their digit sum is a multiple of 5.
const LA_POSTE_SIREN = '356000000';

export function siret(value: string): string {
  const compact = value.replace(SPACES, '');
  if (/^\d+(?:[.,]\d+)?e\+?\d+$/i.test(compact)) {
    throw new FieldProblem('written in scientific notation by Excel, digits are lost (format the column as Text before saving)');
  }
  const digits = compact.replace(/[.,]0$/, '');
  if (!/^\d{14}$/.test(digits)) throw new FieldProblem('a SIRET has 14 digits');
  const valid = luhn(digits) || (digits.startsWith(LA_POSTE_SIREN) && digitSum(digits) % 5 === 0);
  if (!valid) throw new FieldProblem('invalid SIRET (check digit)');
  return digits;
}

export function luhn(digits: string): boolean {
  let sum = 0;
  for (let i = 0; i < digits.length; i += 1) {
    let n = digits.charCodeAt(digits.length - 1 - i) - 48;
    if (i % 2 === 1) n = n * 2 > 9 ? n * 2 - 9 : n * 2;
    sum += n;
  }
  return sum % 10 === 0;
}

function digitSum(digits: string): number {
  let sum = 0;
  for (let i = 0; i < digits.length; i += 1) sum += digits.charCodeAt(i) - 48;
  return sum;
}

/** dd/mm/yyyy (also with - or .) or ISO yyyy-mm-dd; never month-first; returns ISO. */
export function date(value: string): string {
  const french = /^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})$/.exec(value);
  const iso = /^(\d{4})-(\d{2})-(\d{2})(?:[T ]00:00(?::00)?)?$/.exec(value);
  const [y, m, d] = french ? [french[3], french[2], french[1]] : iso ? [iso[1], iso[2], iso[3]] : [];
  if (!y || !m || !d) throw new FieldProblem('expected a date as dd/mm/yyyy or yyyy-mm-dd');
  const year = Number(y);
  const month = Number(m);
  const day = Number(d);
  const check = new Date(Date.UTC(year, month - 1, day));
  if (month < 1 || month > 12 || check.getUTCDate() !== day || check.getUTCMonth() !== month - 1) {
    throw new FieldProblem('not a calendar date (dates are read day first: dd/mm/yyyy)');
  }
  return `${y}-${String(month).padStart(2, '0')}-${String(day).padStart(2, '0')}`;
}

// Maps, not object literals: "constructor" in a cell must not find Object.prototype's.
const CLIENT_TYPES = new Map<string, 'particulier' | 'professionnel'>(Object.entries({
  particulier: 'particulier', part: 'particulier', prive: 'particulier', individual: 'particulier', person: 'particulier',
  professionnel: 'professionnel', pro: 'professionnel', entreprise: 'professionnel', societe: 'professionnel', company: 'professionnel', business: 'professionnel',
} as const));

/** The word as written first (most files say "particulier"), folded only when that fails: fold() is the costly part per row. */
function lookUp<T>(words: Map<string, T>, value: string): T | undefined {
  return words.get(value) ?? words.get(fold(value));
}

export function clientType(value: string): 'particulier' | 'professionnel' {
  const type = lookUp(CLIENT_TYPES, value);
  if (!type) throw new FieldProblem('expected particulier or professionnel');
  return type;
}

const STATUTS = new Map<string, string>(Object.entries({
  prevu: 'prevu', aprevoir: 'prevu', planned: 'prevu', encours: 'en_cours', inprogress: 'en_cours',
  termine: 'termine', fini: 'termine', done: 'termine', finished: 'termine', annule: 'annule', cancelled: 'annule', canceled: 'annule',
}));

export function chantierStatut(value: string): string {
  const statut = lookUp(STATUTS, value);
  if (!statut) throw new FieldProblem('expected prévu, en cours, terminé or annulé');
  return statut;
}
