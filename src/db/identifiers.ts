/** A PostgreSQL identifier, double-quoted so that any name (capitals, keywords) is taken as written. */
export const quoteIdent = (name: string) => `"${name.replace(/"/g, '""')}"`;
