import pg from 'pg';
import type { TestDatabase } from '../../helpers/pg.js';

/** A small business database with the types a dump must carry faithfully. */
export async function seedBusinessData(db: TestDatabase, extraRows = 20_000): Promise<void> {
  await db.query(`
    CREATE SEQUENCE facture_numero_seq START 1000;
    CREATE TABLE clients_demo (id serial PRIMARY KEY, nom text NOT NULL, notes text, photo bytea, prefs jsonb, solde numeric(12,2), vu_le timestamptz);
    CREATE TABLE factures_demo (id bigint PRIMARY KEY DEFAULT nextval('facture_numero_seq'), client_id int REFERENCES clients_demo(id), montant numeric(12,2));
    CREATE TABLE journal (id bigserial PRIMARY KEY, ligne text);
    CREATE VIEW factures_par_client AS SELECT c.nom, sum(f.montant) AS total FROM clients_demo c JOIN factures_demo f ON f.client_id = c.id GROUP BY c.nom;
    INSERT INTO clients_demo (nom, notes, photo, prefs, solde, vu_le) VALUES
      ('Élodie Müller', 'Haie à tailler, œillets', '\\xdeadbeef00ff', '{"relance": true, "langue": "fr"}', 1234.56, '2026-03-29 01:30:00+01'),
      ('Jardins d''Ève SARL', E'ligne 1\\nligne 2; "guillemets"', NULL, '[]', -0.01, '2026-10-25 02:30:00+02'),
      ('Zoé', NULL, '\\x', 'null', 0, NULL);
    INSERT INTO factures_demo (client_id, montant) SELECT 1 + (i % 3), i * 1.5 FROM generate_series(1, 50) i;
    INSERT INTO journal (ligne) SELECT md5(i::text) || repeat('x', i % 50) FROM generate_series(1, ${extraRows}) i;
  `);
}

/** A content fingerprint per table, to compare a source and its restored copy. */
export async function contentChecksums(db: { query: TestDatabase['query'] }): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const table of ['clients_demo', 'factures_demo', 'journal']) {
    const [row] = await db.query<{ md5: string }>(`SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) AS md5 FROM ${table} t`);
    out[table] = row!.md5;
  }
  const [seq] = await db.query<{ last_value: string }>('SELECT last_value FROM facture_numero_seq');
  out.sequence = seq!.last_value;
  const [view] = await db.query<{ n: string }>('SELECT count(*) AS n FROM factures_par_client');
  out.view = view!.n;
  return out;
}

/** A plain connection to a restored database, which the test does not own (no drop). */
export async function connectTo(url: string): Promise<{ query: TestDatabase['query']; end(): Promise<void> }> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  return { query: async (sql, values) => (await client.query(sql, values)).rows, end: () => client.end() };
}
