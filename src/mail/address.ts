import { createRequire } from 'node:module';
import type addressparserFn from 'nodemailer/lib/addressparser/index.js';
import { UsageError } from '../errors.js';

export interface Mailbox {
  name: string;
  address: string;
}

// nodemailer's own parser (small, no transport code), so what we validate is what it will send.
const addressparser = createRequire(import.meta.url)('nodemailer/lib/addressparser/index.js') as typeof addressparserFn;

// Deliberately plain: a local part without spaces or quotes, a dotted domain with a TLD.
const ADDRESS = /^[^\s@"<>(),;:\\[\]]+@[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*\.[a-z]{2,}$/i;

export function isValidAddress(address: string): boolean {
  return ADDRESS.test(address) && address.length <= 254;
}

/** Refuses CR, LF and NUL in anything that ends up in a header (header injection). */
export function assertHeaderSafe(field: string, value: string): void {
  if (/[\r\n\0]/.test(value)) throw new UsageError(`${field} contains a line break or NUL character`, 'header values must be a single line');
}

/**
 * Parses one address field value ("Jérôme Dupont <j@exemple.fr>, b@exemple.fr") into mailboxes;
 * groups, empty parts and malformed addresses are refused with the field named.
 */
export function parseMailboxes(field: string, value: string): Mailbox[] {
  assertHeaderSafe(field, value);
  const parsed = addressparser(value);
  const mailboxes: Mailbox[] = [];
  for (const entry of parsed) {
    if ('group' in entry) throw new UsageError(`${field}: address groups are not accepted ("${entry.name}")`, 'list the addresses one by one');
    if (!isValidAddress(entry.address)) {
      throw new UsageError(`${field}: "${entry.address || value}" is not a valid email address`, 'write it as name@domain.fr or "Name <name@domain.fr>"');
    }
    mailboxes.push({ name: entry.name, address: entry.address.toLowerCase() });
  }
  if (mailboxes.length === 0) throw new UsageError(`${field}: no email address in "${value}"`, 'write it as name@domain.fr');
  return mailboxes;
}

/** "Name <address>", the name quoted when it holds specials, so it parses back to the same mailbox. */
export function formatMailbox(m: Mailbox): string {
  if (!m.name) return m.address;
  const name = /[,;<>@"():\\.[\]]/.test(m.name) ? `"${m.name.replace(/["\\]/g, '\\$&')}"` : m.name;
  return `${name} <${m.address}>`;
}
