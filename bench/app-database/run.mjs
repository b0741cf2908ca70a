// aj on the web app's database: what the business mapping costs. Not run in CI.
//   1. `aj reminders run --dry-run` over the same invoices and quotes, on aj's standalone tables
//      (built-in mapping) and on a Prisma-shaped app (test/fixtures/prisma-app.sql: quoted
//      PascalCase tables, enum labels, text ids, timestamp(3) dates turned into Paris days).
//   2. `aj import csv` of clients into the app's "Client" (cuid ids and "updatedAt" made by aj)
//      against `psql \copy` of the very rows aj wrote, ids and stamps included, into an empty "Client".
// Runs alternate (a, b, a, b, ...); medians with min-max.
//   npm run build && node bench/app-database/run.mjs [invoices=100000] [clients=100000] [rounds=5]
// Server: AJ_BENCH_DATABASE_URL, default postgresql://postgres@127.0.0.1:5432/postgres.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { generateClients } from '../import/generate.mjs';
import { MAPPING } from '../_lib/prisma-app-mapping.mjs';

const [invoices = 100_000, clients = 100_000, rounds = 5] = process.argv.slice(2).map(Number);
const server = process.env.AJ_BENCH_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
const bin = fileURLToPath(new URL('../../bin/aj', import.meta.url));
const fixture = readFileSync(new URL('../../test/fixtures/prisma-app.sql', import.meta.url), 'utf8');
const dir = mkdtempSync(join(tmpdir(), 'aj-bench-app-'));
const urlFor = (db) => Object.assign(new URL(server), { pathname: `/${db}` }).toString();
const AS_OF = '2026-06-15';

const mappingFile = join(dir, 'aj-schema.json');
writeFileSync(mappingFile, JSON.stringify(MAPPING));

async function withClient(url, fn) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

function timed(command, args, env = {}) {
  const started = process.hrtime.bigint();
  const r = spawnSync(command, args, { env: { ...process.env, ...env }, encoding: 'utf8', maxBuffer: 1 << 30 });
  if (r.status !== 0) throw new Error(`${command} ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return { seconds: Number(process.hrtime.bigint() - started) / 1e9, stdout: r.stdout };
}

const stats = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return { median: s[Math.floor(s.length / 2)], min: s[0], max: s.at(-1) };
};
const show = (label, xs) => {
  const { median, min, max } = stats(xs);
  console.log(`${label.padEnd(44)} median ${median.toFixed(2)} s (min ${min.toFixed(2)}, max ${max.toFixed(2)})`);
  return median;
};

const standalone = `aj_bench_app_standalone_${process.pid}`;
const app = `aj_bench_app_prisma_${process.pid}`;
const rawTarget = `aj_bench_app_raw_${process.pid}`;
const databases = [standalone, app, rawTarget];
try {
  for (const db of databases) await withClient(server, (c) => c.query(`CREATE DATABASE "${db}"`));
  // The same business data twice: 2,000 clients, a tenth of the invoices sent and unpaid.
  timed(process.execPath, [bin, 'db', 'migrate'], { DATABASE_URL: urlFor(standalone) });
  await withClient(urlFor(standalone), async (c) => {
    await c.query(`SET search_path = aj`);
    await c.query(`INSERT INTO clients (nom, email) SELECT 'Client ' || i, 'client' || i || '@exemple.fr' FROM generate_series(1, 2000) i`);
    await c.query(`INSERT INTO factures (numero, client_id, statut, montant_ttc, date_emission, date_echeance, date_paiement)
      SELECT 'F-' || i, 1 + i % 2000, CASE WHEN i % 10 = 0 THEN 'envoyee' ELSE 'payee' END, 100 + i % 5000, $1::date - (i % 120) - 30, $1::date - (i % 120),
             CASE WHEN i % 10 = 0 THEN NULL ELSE $1::date END FROM generate_series(1, $2::int) i`, [AS_OF, invoices]);
    await c.query(`INSERT INTO devis (numero, client_id, statut, montant_ttc, date_emission, date_envoi, date_validite)
      SELECT 'D-' || i, 1 + i % 2000, CASE WHEN i % 5 = 0 THEN 'envoye' ELSE 'signe' END, 500, $1::date - (i % 60), $1::date - (i % 60), $1::date - (i % 60) + 45
        FROM generate_series(1, $2::int) i`, [AS_OF, invoices / 5]);
    await c.query('ANALYZE');
  });
  for (const db of [app, rawTarget]) await withClient(urlFor(db), (c) => c.query(fixture));
  await withClient(urlFor(app), async (c) => {
    await c.query(`INSERT INTO "Client" ("id", "nom", "email", "updatedAt") SELECT 'cl' || i, 'Client ' || i, 'client' || i || '@exemple.fr', now() FROM generate_series(1, 2000) i`);
    // Midnight in Paris as Prisma stores it (UTC), as the app's date pickers do.
    await c.query(`INSERT INTO "Facture" ("id", "numero", "clientId", "statut", "montantHT", "montantTTC", "dateEmission", "dateEcheance", "datePaiement", "updatedAt")
      SELECT 'fa' || i, 'F-' || i, 'cl' || (1 + i % 2000), (CASE WHEN i % 10 = 0 THEN 'ENVOYEE' ELSE 'PAYEE' END)::"FactureStatus", 100, 100 + i % 5000,
             (($1::date - (i % 120) - 30)::timestamp AT TIME ZONE 'Europe/Paris') AT TIME ZONE 'UTC', (($1::date - (i % 120))::timestamp AT TIME ZONE 'Europe/Paris') AT TIME ZONE 'UTC',
             CASE WHEN i % 10 = 0 THEN NULL ELSE $1::timestamp END, now() FROM generate_series(1, $2::int) i`, [AS_OF, invoices]);
    await c.query(`INSERT INTO "Devis" ("id", "numero", "clientId", "statut", "montantHT", "montantTTC", "dateEmission", "dateEnvoi", "dateValidite", "updatedAt")
      SELECT 'dv' || i, 'D-' || i, 'cl' || (1 + i % 2000), (CASE WHEN i % 5 = 0 THEN 'ENVOYE' ELSE 'SIGNE' END)::"DevisStatus", 400, 500,
             (($1::date - (i % 60))::timestamp AT TIME ZONE 'Europe/Paris') AT TIME ZONE 'UTC', (($1::date - (i % 60))::timestamp AT TIME ZONE 'Europe/Paris') AT TIME ZONE 'UTC',
             (($1::date - (i % 60) + 45)::timestamp AT TIME ZONE 'Europe/Paris') AT TIME ZONE 'UTC', now() FROM generate_series(1, $2::int) i`, [AS_OF, invoices / 5]);
    await c.query('ANALYZE');
  });

  const plan = (db, env) => JSON.parse(timed(process.execPath, [bin, 'reminders', 'run', '--dry-run', '--json', '--as-of', AS_OF], { DATABASE_URL: urlFor(db), ...env }).stdout).plan;
  const planned = [plan(standalone, {}), plan(app, { AJ_SCHEMA_FILE: mappingFile })].map((p) => `${p.reminders.length} reminders + ${p.expiring.length} expiries`);
  console.log(`reminders: ${invoices.toLocaleString('en')} invoices, ${(invoices / 5).toLocaleString('en')} quotes; planned standalone ${planned[0]}, app ${planned[1]}`);
  if (planned[0] !== planned[1]) throw new Error('the two plans differ: the mapping changed what is due');
  const builtin = [];
  const mapped = [];
  for (let i = 0; i < rounds; i += 1) {
    builtin.push(timed(process.execPath, [bin, 'reminders', 'run', '--dry-run', '--json', '--as-of', AS_OF], { DATABASE_URL: urlFor(standalone) }).seconds);
    mapped.push(timed(process.execPath, [bin, 'reminders', 'run', '--dry-run', '--json', '--as-of', AS_OF], { DATABASE_URL: urlFor(app), AJ_SCHEMA_FILE: mappingFile }).seconds);
  }
  const a = show('reminders --dry-run, aj standalone tables', builtin);
  const b = show('reminders --dry-run, Prisma app (mapping)', mapped);
  console.log(`ratio app/standalone ${(b / a).toFixed(2)}x`);

  const csv = join(dir, 'clients.csv');
  const raw = join(dir, 'client-rows.csv');
  await generateClients(csv, clients);
  const imports = [];
  const copies = [];
  for (let i = 0; i < rounds; i += 1) {
    await withClient(urlFor(app), (c) => c.query(`DELETE FROM "Facture"; DELETE FROM "Devis"; DELETE FROM "Client"`));
    const r = timed(process.execPath, [bin, 'import', 'csv', csv, '--entity', 'clients', '--json'], { DATABASE_URL: urlFor(app), AJ_SCHEMA_FILE: mappingFile });
    if (JSON.parse(r.stdout).inserted !== clients) throw new Error(`aj inserted ${JSON.parse(r.stdout).inserted} of ${clients}`);
    imports.push(r.seconds);
    if (i === 0) timed('psql', [urlFor(app), '-qc', `\\copy (SELECT * FROM "Client") TO '${raw}' WITH (FORMAT csv)`]);
    await withClient(urlFor(rawTarget), (c) => c.query(`TRUNCATE "Client" CASCADE`));
    copies.push(timed('psql', [urlFor(rawTarget), '-qc', `\\copy "Client" FROM '${raw}' WITH (FORMAT csv)`]).seconds);
  }
  const x = show(`aj import csv, ${clients.toLocaleString('en')} clients into "Client"`, imports);
  const y = show('psql \\copy of the same rows into "Client"', copies);
  console.log(`ratio aj/psql ${(x / y).toFixed(2)}x`);
} finally {
  for (const db of databases) await withClient(server, (c) => c.query(`DROP DATABASE IF EXISTS "${db}" WITH (FORCE)`)).catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
}
