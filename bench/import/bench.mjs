// Benchmark (issue 17): `aj import csv` of a generated clients file against `psql \copy` of the
// same rows, alternating (aj, psql, aj, psql, ...; bench/_lib/alternate.mjs), each run into an
// emptied table with its indexes; medians with min-max and the ratio of medians. Not run in CI.
//   npm run build && node bench/import/bench.mjs [ROWS] [--rounds 3] [--json FILE] [--app]
// ROWS defaults to 1,000,000. Targets: <= 2.0x at 1M rows, <= 2.5x at 100k.
// Default: aj's own clients table; psql copies the file's columns as they are.
// --app: the web app's Prisma-shaped "Client" (test/fixtures/prisma-app.sql, cuid ids and "updatedAt"
// made by aj); psql copies the very rows aj wrote, ids and stamps included.
// Server: AJ_BENCH_DATABASE_URL, default postgresql://postgres@127.0.0.1:5432/postgres.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { alternate, benchOptions } from '../_lib/alternate.mjs';
import { generateClients } from './generate.mjs';
import { MAPPING } from '../_lib/prisma-app-mapping.mjs';

const { rounds, json, positionals } = benchOptions(process.argv.slice(2).filter((a) => a !== '--app'));
const app = process.argv.includes('--app');
const rows = Number(positionals[0] ?? 1_000_000);
const server = process.env.AJ_BENCH_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
const bin = fileURLToPath(new URL('../../bin/aj', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'aj-bench-import-'));
const csv = join(dir, 'clients.csv');
const COLUMNS = 'reference,type,nom,prenom,raison_sociale,email,telephone,adresse,code_postal,ville,siret';
const urlFor = (db) => Object.assign(new URL(server), { pathname: `/${db}` }).toString();


async function sql(db, text) {
  const client = new pg.Client({ connectionString: urlFor(db) });
  await client.connect();
  try {
    await client.query(text);
  } finally {
    await client.end();
  }
}

const run = (command, args, env = {}) => {
  const r = spawnSync(command, args, { env: { ...process.env, ...env }, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${command} ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
};

// aj writes into one database, psql into another of the same shape.
const ajDb = `aj_bench_import_aj_${process.pid}`;
const rawDb = `aj_bench_import_raw_${process.pid}`;
try {
  await generateClients(csv, rows);
  console.log(`file: ${rows.toLocaleString('en')} clients, ${(statSync(csv).size / 1e6).toFixed(0)} MB; target table: ${app ? 'the app\'s "Client"' : 'aj.clients'}`);
  for (const db of [ajDb, rawDb]) await sql('postgres', `CREATE DATABASE "${db}"`);
  const ajEnv = { DATABASE_URL: urlFor(ajDb) };
  let ajEmpty;
  let rawEmpty;
  let rawCopy;
  if (app) {
    const fixture = readFileSync(new URL('../../test/fixtures/prisma-app.sql', import.meta.url), 'utf8');
    for (const db of [ajDb, rawDb]) await sql(db, fixture);
    ajEnv.AJ_SCHEMA_FILE = join(dir, 'aj-schema.json');
    writeFileSync(ajEnv.AJ_SCHEMA_FILE, JSON.stringify(MAPPING));
    run(process.execPath, [bin, 'db', 'migrate'], ajEnv);
    ajEmpty = () => sql(ajDb, 'TRUNCATE "Client" CASCADE');
    rawEmpty = () => sql(rawDb, 'TRUNCATE "Client" CASCADE');
    // The rows aj wrote, exported once after its first run.
    const rawRows = join(dir, 'client-rows.csv');
    rawCopy = { shell: `psql -X -q '${urlFor(rawDb)}' -v ON_ERROR_STOP=1 -c "\\copy \\"Client\\" FROM '${rawRows}' WITH (FORMAT csv)"` };
    rawCopy.export = () => run('psql', ['-X', '-q', urlFor(ajDb), '-c', `\\copy (SELECT * FROM "Client") TO '${rawRows}' WITH (FORMAT csv)`]);
  } else {
    for (const db of [ajDb, rawDb]) run(process.execPath, [bin, 'db', 'migrate'], { DATABASE_URL: urlFor(db) });
    ajEmpty = () => sql(ajDb, 'TRUNCATE aj.clients RESTART IDENTITY CASCADE');
    rawEmpty = () => sql(rawDb, 'TRUNCATE aj.clients RESTART IDENTITY CASCADE');
    rawCopy = { shell: `psql -X -q '${urlFor(rawDb)}' -v ON_ERROR_STOP=1 -c "\\copy aj.clients(${COLUMNS}) FROM '${csv}' WITH (FORMAT csv, HEADER true, DELIMITER ';')"` };
  }
  await alternate(
    [
      {
        name: `aj import csv (${rows.toLocaleString('en')} rows)`,
        cmd: [process.execPath, bin, 'import', 'csv', csv, '--entity', 'clients', '--json'],
        env: ajEnv,
        before: ajEmpty,
        after: (result, round) => {
          const inserted = JSON.parse(result.stdout.slice(result.stdout.indexOf('{'))).inserted;
          if (inserted !== rows) throw new Error(`aj inserted ${inserted} of ${rows} rows`);
          if (round === 1) rawCopy.export?.();
        },
      },
      { name: 'psql \\copy', shell: rawCopy.shell, before: rawEmpty },
    ].map((v, i, all) => (i === 0 ? { ...v, baseline: all[1].name } : v)),
    { rounds, json, title: `import ${rows.toLocaleString('en')} clients${app ? ' into the app\'s "Client"' : ''}` },
  );
} finally {
  for (const db of [ajDb, rawDb]) await sql('postgres', `DROP DATABASE IF EXISTS "${db}" WITH (FORCE)`).catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
}
