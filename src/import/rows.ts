import { type Entity, FIELDS, fieldNames } from './entities.js';
import { FieldProblem } from './fields.js';
import type { ColumnMapping } from './headers.js';

export interface RowProblem {
  line: number;
  column: string;
  value: string;
  reason: string;
}

export type RowResult = { ok: true; values: Array<string | null> } | { ok: false; problems: RowProblem[] };

/**
 * Validates one record and turns it into the staging-table row (fields in entity order).
 * Every problem of the row is collected, not just the first.
 */
export class RowValidator {
  readonly fields: string[];
  private readonly parsers: Array<((value: string) => string) | undefined>;
  private readonly slot: Array<number | undefined>;
  private readonly headerOf = new Map<string, string>();

  constructor(private readonly entity: Entity, private readonly header: string[], mapping: ColumnMapping) {
    this.fields = fieldNames(entity);
    this.slot = mapping.fields.map((f) => (f ? this.fields.indexOf(f) : undefined));
    this.parsers = mapping.fields.map((f) => (f ? FIELDS[entity][f]!.parse : undefined));
    mapping.fields.forEach((f, i) => f && this.headerOf.set(f, header[i]!));
  }

  validate(record: string[], line: number): RowResult {
    const values: Array<string | null> = new Array(this.fields.length).fill(null);
    const problems: RowProblem[] = [];
    for (let i = 0; i < record.length; i += 1) {
      const value = record[i]!.trim();
      if (value === '') continue;
      const slot = this.slot[i];
      if (i >= this.header.length) {
        problems.push({ line, column: `column ${i + 1}`, value, reason: `more cells than the ${this.header.length} header columns (a delimiter inside an unquoted cell?)` });
        continue;
      }
      if (slot === undefined) continue;
      if (value.includes('\uFFFD')) {
        problems.push({ line, column: this.header[i]!, value, reason: 'invalid UTF-8 bytes (the file looks like Windows-1252: pass --encoding windows-1252)' });
        continue;
      }
      const parse = this.parsers[i];
      try {
        values[slot] = parse ? parse(value) : value;
      } catch (error) {
        if (!(error instanceof FieldProblem)) throw error;
        problems.push({ line, column: this.header[i]!, value, reason: error.message });
      }
    }
    if (this.entity === 'clients') this.completeClient(values, line, problems);
    else this.completeChantier(values, line, problems);
    return problems.length > 0 ? { ok: false, problems } : { ok: true, values };
  }

  private get(values: Array<string | null>, field: string): string | null {
    return values[this.fields.indexOf(field)] ?? null;
  }

  private set(values: Array<string | null>, field: string, value: string): void {
    values[this.fields.indexOf(field)] = value;
  }

  private column(field: string): string {
    return this.headerOf.get(field) ?? field;
  }

  private completeClient(values: Array<string | null>, line: number, problems: RowProblem[]): void {
    const raisonSociale = this.get(values, 'raison_sociale');
    if (!this.get(values, 'nom') && raisonSociale) this.set(values, 'nom', raisonSociale);
    // No type here: a new client's is derived on insert (raison sociale or SIRET: professionnel), and an
    // update without a type column keeps the stored one.
    if (!this.get(values, 'nom') && !problems.some((p) => p.column === this.column('nom'))) {
      problems.push({ line, column: this.column('nom'), value: '', reason: 'required: a client needs a nom or a raison sociale' });
    }
    if (!this.get(values, 'reference') && !this.get(values, 'email') && !problems.some((p) => p.column === this.column('email'))) {
      problems.push({ line, column: this.column('reference'), value: '', reason: 'required: a reference or an email, so that a later import updates this client instead of duplicating it' });
    }
  }

  private completeChantier(values: Array<string | null>, line: number, problems: RowProblem[]): void {
    for (const field of ['reference', 'client', 'nom']) {
      if (!this.get(values, field)) problems.push({ line, column: this.column(field), value: '', reason: 'required' });
    }
    const debut = this.get(values, 'date_debut');
    const fin = this.get(values, 'date_fin');
    if (debut && fin && fin < debut) problems.push({ line, column: this.column('date_fin'), value: fin, reason: `ends before it starts (${debut})` });
  }
}

/** One row in COPY text format: tab-separated, \N for NULL, backslash escapes. */
export function copyLine(line: number, values: Array<string | null>): string {
  let out = String(line);
  for (const value of values) out += value === null ? '\t\\N' : `\t${escapeCopy(value)}`;
  return `${out}\n`;
}

const NEEDS_ESCAPE = /[\\\t\n\r]/;

function escapeCopy(value: string): string {
  if (!NEEDS_ESCAPE.test(value)) return value;
  return value.replace(/\\/g, '\\\\').replace(/\t/g, '\\t').replace(/\n/g, '\\n').replace(/\r/g, '\\r');
}
