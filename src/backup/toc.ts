/**
 * A dump's table of contents as `pg_restore --list` prints it, one entry a line:
 * `216; 1259 22515 TABLE aj backup_runs postgres`: id; catalog oid, object oid, kind (one or more
 * capitalised words: TABLE DATA, FK CONSTRAINT, DEFAULT ACL...), schema (`-` for none), name, owner.
 * Lines starting with `;` are comments, which pg_restore --use-list skips.
 */
export interface TocEntry {
  line: string;
  kind: string;
  /** The entry's schema; `-` for objects outside any schema (the SCHEMA entry itself, its COMMENT, its ACL). */
  schema: string;
  /** The rest: name (or `SCHEMA aj` for a schema's comment and ACL) and owner. */
  rest: string;
}

const ENTRY = /^\d+; \d+ \d+ (.*)$/;

export function parseToc(list: string): TocEntry[] {
  const entries: TocEntry[] = [];
  for (const line of list.split('\n')) {
    const match = ENTRY.exec(line);
    if (!match) continue;
    const words = match[1]!.split(' ');
    // The kind is the leading run of capitalised words; aj's schema name is lowercase (AJ_DB_SCHEMA),
    // so it is never mistaken for one.
    let i = 0;
    while (i < words.length - 1 && /^[A-Z]+$/.test(words[i]!)) i += 1;
    entries.push({ line, kind: words.slice(0, i).join(' '), schema: words[i]!, rest: words.slice(i + 1).join(' ') });
  }
  return entries;
}

/** The schema entry, its comment and ACL, and every object in it. */
export function inSchema(entry: TocEntry, schema: string): boolean {
  if (entry.schema === schema) return true;
  if (entry.schema !== '-') return false;
  // `SCHEMA - aj owner`, then `COMMENT - SCHEMA aj owner` and `ACL - SCHEMA aj owner`.
  const named = entry.kind === 'SCHEMA' ? entry.rest : entry.rest.startsWith('SCHEMA ') ? entry.rest.slice('SCHEMA '.length) : undefined;
  return named !== undefined && (named === schema || named.startsWith(`${schema} `));
}

/** The schema where a dump keeps aj's migration ledger, if anywhere. */
export function ledgerSchema(entries: TocEntry[]): string | undefined {
  return entries.find((e) => e.kind === 'TABLE' && e.rest.split(' ')[0] === 'aj_migrations')?.schema;
}
