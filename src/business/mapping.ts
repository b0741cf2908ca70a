import { z } from 'zod';

/**
 * Where the web app keeps its business data: for each entity aj reads or writes, the table, the
 * columns aj uses and the status labels. aj's own words (fields, labels) are the keys; the app's
 * names are the values. `aj schema detect --write` proposes one; the built-in mapping describes
 * aj's standalone tables (quick start, tests).
 */
export const ENTITY_NAMES = ['client', 'chantier', 'devis', 'facture'] as const;
export type EntityName = (typeof ENTITY_NAMES)[number];

/** How new rows get their id: the database's default (identity, serial, DEFAULT ...), or aj makes one. */
export const ID_KINDS = ['generated', 'cuid', 'uuid'] as const;
export type IdKind = (typeof ID_KINDS)[number];

/** What a field holds, so detect and check know which column types fit it. */
export type FieldKind = 'text' | 'link' | 'amount' | 'day' | 'instant' | 'flag' | 'label';

export interface FieldSpec {
  kind: FieldKind;
  /** Without it, aj cannot do its work on this entity. */
  required?: boolean;
  /** What aj does when the app has no such column; shown by detect and check. */
  without?: string;
}

/** The fields of each entity, in aj's words. `id` is separate: every entity has one. */
export const FIELDS = {
  client: {
    reference: { kind: 'text', without: 'imports match clients by email only' },
    type: { kind: 'label', without: 'every client is treated as a particulier in letters' },
    nom: { kind: 'text', required: true },
    prenom: { kind: 'text' },
    raisonSociale: { kind: 'text' },
    email: { kind: 'text', required: true },
    telephone: { kind: 'text' },
    adresse: { kind: 'text' },
    codePostal: { kind: 'text' },
    ville: { kind: 'text' },
    siret: { kind: 'text' },
    remindersPaused: { kind: 'flag', without: 'no per-client pause: every client with an email gets reminders' },
    deletedAt: { kind: 'instant', without: 'no soft delete: every row counts' },
    createdAt: { kind: 'instant' },
    updatedAt: { kind: 'instant' },
  },
  chantier: {
    reference: { kind: 'text', without: 'chantiers cannot be imported (they are matched by reference)' },
    clientId: { kind: 'link', required: true },
    nom: { kind: 'text', required: true },
    adresse: { kind: 'text' },
    codePostal: { kind: 'text' },
    ville: { kind: 'text' },
    statut: { kind: 'label' },
    dateDebut: { kind: 'day' },
    dateFin: { kind: 'day' },
    deletedAt: { kind: 'instant', without: 'no soft delete: every row counts' },
    createdAt: { kind: 'instant' },
    updatedAt: { kind: 'instant' },
  },
  devis: {
    numero: { kind: 'text', required: true },
    clientId: { kind: 'link', required: true },
    statut: { kind: 'label', required: true },
    montantTtc: { kind: 'amount', required: true },
    dateEmission: { kind: 'day' },
    dateEnvoi: { kind: 'day', without: 'quote reminders count from the issue date (dateEmission)' },
    dateValidite: { kind: 'day', without: 'quotes never expire and are reminded whatever their age' },
    dateSignature: { kind: 'day', without: 'a quote counts as signed by its status only' },
    deletedAt: { kind: 'instant', without: 'no soft delete: every row counts' },
    updatedAt: { kind: 'instant' },
  },
  facture: {
    numero: { kind: 'text', required: true },
    clientId: { kind: 'link', required: true },
    statut: { kind: 'label', required: true },
    montantTtc: { kind: 'amount', required: true },
    dateEmission: { kind: 'day' },
    dateEcheance: { kind: 'day', without: 'an invoice falls due 30 days after its issue date (dateEmission)' },
    datePaiement: { kind: 'day', without: 'an invoice counts as paid by its status only' },
    deletedAt: { kind: 'instant', without: 'no soft delete: every row counts' },
    updatedAt: { kind: 'instant' },
  },
} as const satisfies Record<EntityName, Record<string, FieldSpec>>;

export type FieldOf<E extends EntityName> = keyof (typeof FIELDS)[E] & string;

/** aj's labels for each label field; the mapping gives the app's label(s) for each. */
export const LABELS = {
  client: { type: ['particulier', 'professionnel'] },
  chantier: { statut: ['prevu', 'en_cours', 'termine', 'annule'] },
  devis: { statut: ['brouillon', 'envoye', 'signe', 'refuse', 'expire'] },
  facture: { statut: ['brouillon', 'envoyee', 'payee', 'annulee'] },
} as const satisfies Record<EntityName, Record<string, readonly string[]>>;

/** Labels aj cannot work without: it reminds `envoyee` invoices and `envoye` quotes, and expires quotes. */
export const REQUIRED_LABELS: Partial<Record<EntityName, Record<string, readonly string[]>>> = {
  devis: { statut: ['envoye', 'expire'] },
  facture: { statut: ['envoyee'] },
};

/** At least one of these fields must be mapped (dates aj computes from). */
export const ONE_OF: Partial<Record<EntityName, string[][]>> = {
  devis: [['dateEnvoi', 'dateEmission']],
  facture: [['dateEcheance', 'dateEmission']],
};

export interface EntityMapping {
  schema: string;
  table: string;
  id: string;
  idKind: IdKind;
  /** aj field -> the app's column. */
  columns: Record<string, string>;
  /** label field -> aj label -> the app's labels (the first is the one aj writes). */
  labels: Record<string, Record<string, string[]>>;
}

export interface BusinessMapping {
  /** Where it came from: a file path, or `built-in`. */
  source: string;
  entities: Record<EntityName, EntityMapping>;
}

const identifier = z.string().min(1).max(63);
const labelValues = z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]).transform((v) => (Array.isArray(v) ? v : [v]));

const entityFileSchema = z
  .object({
    schema: identifier.default('public'),
    table: identifier,
    id: identifier.default('id'),
    idKind: z.enum(ID_KINDS).default('generated'),
    columns: z.record(identifier).default({}),
    labels: z.record(z.record(labelValues)).default({}),
  })
  .strict();

/** The JSON file `aj schema detect --write` writes and AJ_SCHEMA_FILE points at. */
export const mappingFileSchema = z
  .object({
    $comment: z.string().optional(),
    version: z.literal(1),
    client: entityFileSchema,
    chantier: entityFileSchema,
    devis: entityFileSchema,
    facture: entityFileSchema,
  })
  .strict();

export type MappingFile = z.input<typeof mappingFileSchema>;

/** Parses a mapping file's JSON; field and label names are checked against aj's own. */
export function parseMappingFile(data: unknown, source: string): { mapping?: BusinessMapping; problems: string[] } {
  const parsed = mappingFileSchema.safeParse(data);
  if (!parsed.success) {
    return { problems: parsed.error.issues.map((i) => `${i.path.join('.') || '(top)'}: ${i.message}`) };
  }
  const problems: string[] = [];
  const entities = {} as Record<EntityName, EntityMapping>;
  for (const name of ENTITY_NAMES) {
    const e = parsed.data[name];
    const known: Record<string, FieldSpec> = FIELDS[name];
    for (const field of Object.keys(e.columns)) if (!known[field]) problems.push(`${name}.columns.${field}: not a field aj knows (${Object.keys(known).join(', ')})`);
    const labelFields: Record<string, readonly string[]> = LABELS[name];
    for (const [field, labels] of Object.entries(e.labels)) {
      if (!labelFields[field]) {
        problems.push(`${name}.labels.${field}: not a label field (${Object.keys(labelFields).join(', ') || 'none'})`);
        continue;
      }
      for (const label of Object.keys(labels)) if (!labelFields[field]!.includes(label)) problems.push(`${name}.labels.${field}.${label}: not one of aj's labels (${labelFields[field]!.join(', ')})`);
    }
    entities[name] = { schema: e.schema, table: e.table, id: e.id, idKind: e.idKind, columns: e.columns, labels: e.labels };
  }
  return problems.length > 0 ? { problems } : { mapping: { source, entities }, problems };
}

/** The mapping file's JSON form of a mapping (what `--write` writes). */
export function toMappingFile(mapping: BusinessMapping, comment?: string): MappingFile {
  const file: Record<string, unknown> = { ...(comment ? { $comment: comment } : {}), version: 1 };
  for (const name of ENTITY_NAMES) {
    const e = mapping.entities[name];
    file[name] = { schema: e.schema, table: e.table, id: e.id, idKind: e.idKind, columns: e.columns, labels: e.labels };
  }
  return file as MappingFile;
}

/** aj's standalone tables (migration 001), in aj's own schema: the mapping when no file is configured. */
export function builtinMapping(ajSchema: string): BusinessMapping {
  const snake = (field: string) => field.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
  const entity = (table: string, name: EntityName): EntityMapping => ({
    schema: ajSchema,
    table,
    id: 'id',
    idKind: 'generated',
    columns: Object.fromEntries(Object.keys(FIELDS[name]).map((f) => [f, snake(f)])),
    labels: Object.fromEntries(Object.entries(LABELS[name]).map(([field, labels]) => [field, Object.fromEntries((labels as readonly string[]).map((l) => [l, [l]]))])),
  });
  return {
    source: 'built-in',
    entities: { client: entity('clients', 'client'), chantier: entity('chantiers', 'chantier'), devis: entity('devis', 'devis'), facture: entity('factures', 'facture') },
  };
}
