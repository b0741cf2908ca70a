import { z } from 'zod';

/** The company's details, as letters print them: checked at start so a typo never reaches a client. */
export const DEFAULT_COMPANY_NAME = 'Art et Jardin';

const invalid = (ctx: z.RefinementCtx, message: string) => {
  ctx.addIssue({ code: z.ZodIssueCode.custom, message });
  return z.NEVER;
};

/** Free text over several lines: a literal `\n` (one-line environment variables) is a line break. */
export const multiline = z
  .string()
  .transform((v) => v.replace(/\\n/g, '\n').split('\n').map((line) => line.trim()).join('\n').trim())
  .pipe(z.string().min(1))
  .optional();

/** Stored compact and upper-case; the ISO 13616 check digits must hold (mod 97 = 1). */
export const iban = z
  .string()
  .transform((v, ctx) => {
    const compact = v.replace(/[\s-]/g, '').toUpperCase();
    if (!/^[A-Z]{2}\d{2}[A-Z0-9]{11,30}$/.test(compact)) return invalid(ctx, `expected an IBAN such as FR76 3000 6000 0112 3456 7890 189, got "${v}"`);
    if (ibanRemainder(compact) !== 1) return invalid(ctx, `"${v}" is not a valid IBAN (its check digits do not match: a typo?)`);
    return compact;
  })
  .optional();

function ibanRemainder(compact: string): number {
  const digits = (compact.slice(4) + compact.slice(0, 4)).replace(/[A-Z]/g, (c) => String(c.charCodeAt(0) - 55));
  let remainder = 0;
  for (const digit of digits) remainder = (remainder * 10 + Number(digit)) % 97;
  return remainder;
}

export const bic = z
  .string()
  .transform((v, ctx) => {
    const compact = v.replace(/\s/g, '').toUpperCase();
    return /^[A-Z]{4}[A-Z]{2}[A-Z0-9]{2}([A-Z0-9]{3})?$/.test(compact) ? compact : invalid(ctx, `expected a BIC of 8 or 11 characters such as BNPAFRPPXXX, got "${v}"`);
  })
  .optional();

export const siret = z
  .string()
  .transform((v, ctx) => {
    const digits = v.replace(/\s/g, '');
    return /^\d{14}$/.test(digits) ? digits : invalid(ctx, `expected a SIRET of 14 digits, got "${v}"`);
  })
  .optional();

/** "FR7630006000011234567890189" -> "FR76 3000 6000 0112 3456 7890 189", as printed on invoices. */
export function formatIban(compact: string): string {
  return compact.replace(/(.{4})(?=.)/g, '$1 ');
}

/** "12345678900012" -> "123 456 789 00012" (SIREN, then the establishment's NIC). */
export function formatSiret(digits: string): string {
  return `${digits.slice(0, 3)} ${digits.slice(3, 6)} ${digits.slice(6, 9)} ${digits.slice(9)}`;
}
