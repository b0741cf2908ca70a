import { quoteIdent } from '../db/identifiers.js';
import { ConfigError } from '../errors.js';
import type { ColumnInfo, TableInfo } from './catalog.js';
import type { BusinessMapping, EntityName } from './mapping.js';

export { quoteIdent };
export const quoteLiteral = (value: string) => `'${value.replace(/'/g, "''")}'`;

/**
 * The only place that writes SQL naming the app's tables and columns. Every identifier is quoted,
 * every label is a quoted literal, and dates are turned into business days in AJ_TIMEZONE here:
 * services (reminders, import, mail) ask for expressions by aj's field names.
 */
export class BusinessSql {
  constructor(
    readonly mapping: BusinessMapping,
    private readonly tables: Record<EntityName, TableInfo>,
    readonly timezone: string,
  ) {}

  /** `"schema"."Table"` */
  table(entity: EntityName): string {
    const e = this.mapping.entities[entity];
    return `${quoteIdent(e.schema)}.${quoteIdent(e.table)}`;
  }

  /** A readable name for messages: schema.Table */
  tableName(entity: EntityName): string {
    const e = this.mapping.entities[entity];
    return `${e.schema}.${e.table}`;
  }

  has(entity: EntityName, field: string): boolean {
    return this.mapping.entities[entity].columns[field] !== undefined;
  }

  /** `alias."column"` of a mapped field; an unmapped one is a configuration error. */
  col(entity: EntityName, field: string, alias: string): string {
    return `${alias}.${quoteIdent(this.columnName(entity, field))}`;
  }

  id(entity: EntityName, alias: string): string {
    return `${alias}.${quoteIdent(this.mapping.entities[entity].id)}`;
  }

  /** The id column's type (a cast target), for staging tables that hold ids of this entity. */
  idType(entity: EntityName): string {
    return this.info(entity, this.mapping.entities[entity].id).type;
  }

  columnName(entity: EntityName, field: string): string {
    const column = this.mapping.entities[entity].columns[field];
    if (column === undefined) throw new ConfigError(`the business mapping has no ${entity}.${field} column`, 'add it to the file AJ_SCHEMA_FILE names, then run `aj schema check`');
    return column;
  }

  columnType(entity: EntityName, field: string): string {
    return this.info(entity, this.columnName(entity, field)).type;
  }

  /**
   * The business day of a date field: a `date` as it is; a `timestamp` (Prisma's DateTime, UTC)
   * or `timestamptz` as the day of that instant in AJ_TIMEZONE (2026-05-02 22:00 UTC is 3 May in Paris).
   */
  day(entity: EntityName, field: string, alias: string): string {
    const column = this.col(entity, field, alias);
    const zone = quoteLiteral(this.timezone);
    switch (this.info(entity, this.columnName(entity, field)).baseType) {
      case 'date':
        return column;
      case 'timestamp':
        return `((${column} AT TIME ZONE 'UTC') AT TIME ZONE ${zone})::date`;
      case 'timestamptz':
        return `(${column} AT TIME ZONE ${zone})::date`;
      default:
        return `${column}::date`;
    }
  }

  /** A business day (a SQL date expression) as the column stores it: midnight in AJ_TIMEZONE for instants. */
  fromDay(entity: EntityName, field: string, dayExpr: string): string {
    const zone = quoteLiteral(this.timezone);
    const info = this.info(entity, this.columnName(entity, field));
    switch (info.baseType) {
      case 'timestamp':
        return `((((${dayExpr})::date)::timestamp AT TIME ZONE ${zone}) AT TIME ZONE 'UTC')::${info.type}`;
      case 'timestamptz':
        return `(((${dayExpr})::date)::timestamp AT TIME ZONE ${zone})::${info.type}`;
      default:
        return `(${dayExpr})::${info.type}`;
    }
  }

  /** The present instant as an instant field stores it (UTC for a `timestamp`, as Prisma writes). */
  now(entity: EntityName, field: string): string {
    const info = this.info(entity, this.columnName(entity, field));
    if (info.baseType === 'timestamp') return `(now() AT TIME ZONE 'UTC')::${info.type}`;
    if (info.baseType === 'date') return `(now() AT TIME ZONE ${quoteLiteral(this.timezone)})::date`;
    return `now()::${info.type}`;
  }

  /** The app's labels for one of aj's labels (first: the one aj writes). */
  labels(entity: EntityName, field: string, label: string): string[] {
    return this.mapping.entities[entity].labels[field]?.[label] ?? [];
  }

  /** `alias."statut" IN ('ENVOYEE', ...)`; FALSE when the app has no label for it. */
  isLabel(entity: EntityName, field: string, label: string, alias: string): string {
    const values = this.labels(entity, field, label);
    if (!this.has(entity, field) || values.length === 0) return 'FALSE';
    return `${this.col(entity, field, alias)}::text IN (${values.map(quoteLiteral).join(', ')})`;
  }

  /** The app's label for aj's label, typed for the column (an enum label needs its type). */
  labelValue(entity: EntityName, field: string, label: string): string {
    const value = this.labels(entity, field, label)[0];
    if (value === undefined) throw new ConfigError(`the business mapping has no ${entity}.${field} label for "${label}"`, 'add it under labels in the file AJ_SCHEMA_FILE names, then run `aj schema check`');
    return `${quoteLiteral(value)}::${this.columnType(entity, field)}`;
  }

  /** aj's label (text) -> the app's label, typed; NULL for a label the mapping lacks. */
  labelFrom(entity: EntityName, field: string, ajLabelExpr: string): string {
    const mapped = Object.entries(this.mapping.entities[entity].labels[field] ?? {}).filter(([, values]) => values.length > 0);
    if (mapped.length === 0) return `NULL::${this.columnType(entity, field)}`;
    const cases = mapped.map(([label, values]) => `WHEN ${quoteLiteral(label)} THEN ${quoteLiteral(values[0]!)}`).join(' ');
    return `(CASE ${ajLabelExpr} ${cases} END)::${this.columnType(entity, field)}`;
  }

  /** The app's label (any type) -> aj's label as text; `otherwise` for labels aj has no word for. */
  labelTo(entity: EntityName, field: string, alias: string, otherwise: string): string {
    const mapped = Object.entries(this.mapping.entities[entity].labels[field] ?? {}).filter(([, values]) => values.length > 0);
    if (!this.has(entity, field) || mapped.length === 0) return quoteLiteral(otherwise);
    const cases = mapped.map(([label, values]) => `WHEN ${this.col(entity, field, alias)}::text IN (${values.map(quoteLiteral).join(', ')}) THEN ${quoteLiteral(label)}`).join(' ');
    return `(CASE ${cases} ELSE ${quoteLiteral(otherwise)} END)`;
  }

  /** The company name, else "prénom nom", as letters address a client (the client table as `alias`). */
  clientName(alias: string): string {
    const text = (field: string) => `NULLIF(btrim(${this.col('client', field, alias)}::text), '')`;
    const company = this.has('client', 'raisonSociale') ? [text('raisonSociale')] : [];
    const person = ['prenom', 'nom'].filter((f) => this.has('client', f)).map(text);
    return `COALESCE(${[...company, `NULLIF(concat_ws(' ', ${person.join(', ')}), '')`].join(', ')}, '')`;
  }

  /** `alias."deletedAt" IS NULL`, or TRUE when the app has no soft delete. */
  notDeleted(entity: EntityName, alias: string): string {
    return this.has(entity, 'deletedAt') ? `${this.col(entity, 'deletedAt', alias)} IS NULL` : 'TRUE';
  }

  /** A text value cast to the field's column type (staging columns are text). */
  cast(entity: EntityName, field: string, textExpr: string): string {
    const type = this.columnType(entity, field);
    return /^(text|character varying.*)$/.test(type) ? textExpr : `(${textExpr})::${type}`;
  }

  /**
   * Columns aj sets itself on insert: an id when the app generates ids in code (no default),
   * createdAt when it has no default, updatedAt always (Prisma's @updatedAt has none).
   */
  insertExtras(entity: EntityName): Array<[column: string, value: string]> {
    const e = this.mapping.entities[entity];
    const extras: Array<[string, string]> = [];
    const idInfo = this.info(entity, e.id);
    if (e.idKind === 'uuid') extras.push([quoteIdent(e.id), `gen_random_uuid()::${idInfo.type}`]);
    // cuid-like: 'c' and 24 base-16 characters (96 random bits): the length and alphabet of Prisma's cuid().
    if (e.idKind === 'cuid') extras.push([quoteIdent(e.id), `('c' || substr(replace(gen_random_uuid()::text, '-', ''), 1, 24))::${idInfo.type}`]);
    if (this.has(entity, 'createdAt') && !this.info(entity, e.columns.createdAt!).hasDefault) extras.push([quoteIdent(e.columns.createdAt!), this.now(entity, 'createdAt')]);
    if (this.has(entity, 'updatedAt')) extras.push([quoteIdent(e.columns.updatedAt!), this.now(entity, 'updatedAt')]);
    return extras;
  }

  /** `"updatedAt" = <now>` for an UPDATE's SET list, or nothing. */
  touch(entity: EntityName): string[] {
    return this.has(entity, 'updatedAt') ? [`${quoteIdent(this.columnName(entity, 'updatedAt'))} = ${this.now(entity, 'updatedAt')}`] : [];
  }

  private info(entity: EntityName, column: string): ColumnInfo {
    const info = this.tables[entity].columns.get(column);
    if (!info) throw new ConfigError(`${this.tableName(entity)} has no column ${column}`, 'fix the file AJ_SCHEMA_FILE names, then run `aj schema check`');
    return info;
  }
}
