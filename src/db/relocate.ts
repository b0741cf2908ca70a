import type pg from 'pg';
import { OperationError } from '../errors.js';
import { quoteIdent } from './identifiers.js';

/**
 * Before aj had a schema of its own, its migrations created its tables in `public`, beside the
 * web app's (001 to 007; later ones too where AJ_DB_SCHEMA was set to public). A migration that
 * creates a table adds it here.
 */
const OPERATIONS_TABLES = ['aj_migrations', 'backup_runs', 'archived_documents', 'email_messages', 'reminder_log', 'import_runs', 'job_runs', 'ops_alerts', 'restore_runs', 'deliveries'];

// aj's standalone business tables and the columns migration 001 gives them. The web app may have
// a table of the same name (its own `factures`): that one has other columns and stays in public.
const STANDALONE_TABLES: Record<string, readonly string[]> = {
  clients: ['id', 'reference', 'type', 'nom', 'prenom', 'raison_sociale', 'email', 'telephone', 'adresse', 'code_postal', 'ville', 'siret', 'reminders_paused', 'created_at', 'updated_at', 'deleted_at'],
  chantiers: ['id', 'reference', 'client_id', 'nom', 'adresse', 'code_postal', 'ville', 'statut', 'date_debut', 'date_fin', 'created_at', 'updated_at', 'deleted_at'],
  devis: ['id', 'numero', 'client_id', 'chantier_id', 'statut', 'montant_ht', 'montant_ttc', 'date_emission', 'date_envoi', 'date_validite', 'date_signature', 'created_at', 'updated_at', 'deleted_at'],
  factures: ['id', 'numero', 'client_id', 'chantier_id', 'devis_id', 'statut', 'montant_ht', 'montant_ttc', 'date_emission', 'date_echeance', 'date_paiement', 'created_at', 'updated_at', 'deleted_at'],
};

/**
 * Moves an earlier install's tables from `public` into aj's schema, data, sequences, indexes and
 * constraints with them (ALTER TABLE ... SET SCHEMA), in one transaction. Only when aj's schema has
 * no ledger yet and `public` has one; the caller holds the migration lock. Returns the moved tables.
 */
export async function relocateEarlierInstall(client: pg.ClientBase, schema: string): Promise<string[]> {
  if (schema === 'public') return [];
  const { rows } = await client.query<{ here: string | null; earlier: string | null }>(
    `SELECT to_regclass(format('%I.aj_migrations', $1::text))::text AS here, to_regclass('public.aj_migrations')::text AS earlier`,
    [schema],
  );
  if (rows[0]!.here || !rows[0]!.earlier) return [];
  try {
    await client.query('BEGIN');
    const tables = await earlierTables(client);
    for (const table of tables) await client.query(`ALTER TABLE public.${quoteIdent(table)} SET SCHEMA ${quoteIdent(schema)}`);
    await client.query('COMMIT');
    return tables;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw new OperationError(
      `could not move aj's tables from public into schema ${schema}: ${(error as Error).message}`,
      `nothing was moved; check that schema ${schema} holds none of aj's table names and that aj's database user owns the tables in public`,
      { cause: error },
    );
  }
}

/** aj's operations tables present in public, and the standalone business tables that have aj's shape. */
async function earlierTables(client: pg.ClientBase): Promise<string[]> {
  const names = [...OPERATIONS_TABLES, ...Object.keys(STANDALONE_TABLES)];
  const { rows } = await client.query<{ name: string; columns: string[] }>(
    `SELECT c.relname AS name, array_agg(a.attname::text) AS columns
       FROM pg_class c
       JOIN pg_namespace n ON n.oid = c.relnamespace
       JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
      WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND c.relname = ANY($1::text[])
      GROUP BY c.relname`,
    [names],
  );
  const present = new Map(rows.map((r) => [r.name, new Set(r.columns)]));
  return names.filter((name) => {
    const columns = present.get(name);
    if (!columns) return false;
    const shape = STANDALONE_TABLES[name];
    return !shape || shape.every((column) => columns.has(column));
  });
}
