import { UsageError, VerificationError } from '../errors.js';
import { ENTITIES, type Entity, FIELDS, REQUIRED_COLUMNS, fieldNames } from './entities.js';
import { fold } from '../text.js';
import { printable } from './printable.js';

export interface ColumnMapping {
  /** For each column of the file, the field it fills, or undefined when ignored. */
  fields: Array<string | undefined>;
  /** Headers that matched no field (reported, not an error). */
  unknown: string[];
}

/** `--map "Colonne=field"` entries, and a `--mapping` file of the same lines or a JSON object. */
export function parseMapOverrides(entries: string[], fileText?: string): Map<string, string> {
  const overrides = new Map<string, string>();
  const lines = [...entries];
  if (fileText !== undefined) {
    const trimmed = fileText.replace(/^\uFEFF/, '').trim();
    if (trimmed.startsWith('{')) {
      let json: unknown;
      try {
        json = JSON.parse(trimmed);
      } catch (error) {
        throw new UsageError(`the mapping file is not valid JSON: ${(error as Error).message}`, 'write {"Colonne": "field"} or one Colonne=field per line');
      }
      for (const [column, field] of Object.entries(json as Record<string, unknown>)) lines.push(`${column}=${String(field)}`);
    } else {
      lines.push(...trimmed.split(/\r?\n/).filter((l) => l.trim() && !l.trim().startsWith('#')));
    }
  }
  for (const line of lines) {
    const at = line.lastIndexOf('=');
    if (at <= 0) throw new UsageError(`bad column mapping "${line}"`, 'write it as "Colonne=field"');
    overrides.set(fold(line.slice(0, at)), line.slice(at + 1).trim());
  }
  return overrides;
}

/** Matches the header row to the entity's fields; missing required columns stop the import here. */
export function mapHeader(entity: Entity, header: string[], overrides = new Map<string, string>()): ColumnMapping {
  const known = fieldNames(entity);
  for (const field of overrides.values()) {
    if (field !== '-' && !known.includes(field)) {
      throw new UsageError(`unknown field "${field}" in the column mapping`, `fields for ${entity}: ${known.join(', ')}, or - to ignore a column`);
    }
  }
  const aliasToField = new Map<string, string>();
  for (const [field, spec] of Object.entries(FIELDS[entity])) for (const alias of spec.aliases) aliasToField.set(alias, field);

  const fields: Array<string | undefined> = [];
  const unknown: string[] = [];
  const seen = new Map<string, string>();
  for (const raw of header) {
    const key = fold(raw);
    const override = overrides.get(key);
    const field = override === '-' ? undefined : override ?? aliasToField.get(key) ?? (known.includes(raw.trim()) ? raw.trim() : undefined);
    if (field && seen.has(field)) {
      throw new VerificationError(`columns "${printable(seen.get(field)!)}" and "${printable(raw)}" both map to ${field}`, `ignore one with --map "${printable(raw)}=-"`);
    }
    if (field) seen.set(field, raw);
    else if (override !== '-' && raw.trim() !== '') unknown.push(printable(raw));
    fields.push(field);
  }
  refuseOtherEntity(entity, unknown);
  const missing = REQUIRED_COLUMNS[entity].filter((alternatives) => !alternatives.some((f) => seen.has(f)));
  if (missing.length > 0) {
    const names = missing.map((alternatives) => alternatives.join(' or ')).join(', ');
    throw new VerificationError(
      `missing required column(s) for ${entity}: ${names}; the header has ${header.map((h) => `"${printable(h)}"`).join(', ')}`,
      'rename the header or pass --map "Colonne=field"',
    );
  }
  return { fields, unknown };
}

/**
 * A chantiers file imported with --entity clients (or the reverse) would turn chantiers into clients
 * for good: two or more columns that only the other entity has mean the flag is wrong.
 */
function refuseOtherEntity(entity: Entity, unknown: string[]): void {
  for (const other of ENTITIES.filter((e) => e !== entity)) {
    const aliases = new Set(Object.values(FIELDS[other]).flatMap((spec) => spec.aliases));
    const theirs = unknown.filter((raw) => aliases.has(fold(raw)));
    if (theirs.length >= 2) {
      throw new UsageError(
        `this looks like a ${other} file, not ${entity}: its columns ${theirs.map((c) => `"${c}"`).join(', ')} are ${other} columns`,
        `import it with --entity ${other}, or ignore those columns with --map "${theirs[0]}=-"`,
      );
    }
  }
}
