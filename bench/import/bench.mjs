// Benchmark: `aj import csv` against `psql \copy` of the same generated clients file into the
// same empty table (with its indexes), in two fresh databases. Not run in CI.
//   npm run build && node bench/import/bench.mjs [ROWS]      (default 1,000,000)
// Server: AJ_BENCH_DATABASE_URL, default postgresql://postgres@127.0.0.1:5432/postgres.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { generateClients } from './generate.mjs';

const rows = Number(process.argv[2] ?? 1_000_000);
const server = process.env.AJ_BENCH_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
const bin = fileURLToPath(new URL('../../bin/aj', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'aj-bench-import-'));
const csv = join(dir, 'clients.csv');
const COLUMNS = 'reference,type,nom,prenom,raison_sociale,email,telephone,adresse,code_postal,ville,siret';

const urlFor = (db) => Object.assign(new URL(server), { pathname: `/${db}` }).toString();

async function admin(sql) {
  const client = new pg.Client({ connectionString: server });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/** Runs a command, returning wall time and the peak RSS read from /proc while it runs. */
function timed(command, args, env) {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let peakKb = 0;
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const poll = setInterval(() => {
      const status = existsSync(`/proc/${child.pid}/status`) ? readFileSync(`/proc/${child.pid}/status`, 'utf8') : '';
      const hwm = /VmHWM:\s+(\d+)/.exec(status);
      if (hwm) peakKb = Math.max(peakKb, Number(hwm[1]));
    }, 50);
    child.on('error', reject);
    child.on('close', (code) => {
      clearInterval(poll);
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      if (code !== 0) reject(new Error(`${command} exited ${code}: ${out}`));
      else resolve({ seconds, peakMb: peakKb / 1024, out });
    });
  });
}

const dbs = [`aj_bench_psql_${process.pid}`, `aj_bench_aj_${process.pid}`];
try {
  await generateClients(csv, rows);
  console.log(`file: ${rows.toLocaleString('en')} rows, ${(statSync(csv).size / 1e6).toFixed(0)} MB`);
  for (const db of dbs) {
    await admin(`CREATE DATABASE "${db}"`);
    await timed('node', [bin, 'db', 'migrate'], { DATABASE_URL: urlFor(db) });
  }
  const psql = await timed('psql', [urlFor(dbs[0]), '-v', 'ON_ERROR_STOP=1', '-c', `\\copy aj.clients(${COLUMNS}) FROM '${csv}' WITH (FORMAT csv, HEADER true, DELIMITER ';')`], {});
  const aj = await timed('node', [bin, 'import', 'csv', csv, '--entity', 'clients', '--json'], { DATABASE_URL: urlFor(dbs[1]) });
  const summary = JSON.parse(aj.out.slice(aj.out.indexOf('{')));
  if (summary.inserted !== rows) throw new Error(`aj inserted ${summary.inserted} of ${rows} rows`);
  console.log(`psql \\copy      ${psql.seconds.toFixed(2)} s`);
  console.log(`aj import csv   ${aj.seconds.toFixed(2)} s, ${Math.round(rows / aj.seconds).toLocaleString('en')} rows/s, peak RSS ${aj.peakMb.toFixed(0)} MB`);
  console.log(`ratio aj/psql   ${(aj.seconds / psql.seconds).toFixed(2)}x (target <= 3x, peak RSS < 250 MB)`);
} finally {
  for (const db of dbs) await admin(`DROP DATABASE IF EXISTS "${db}" WITH (FORCE)`).catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
}
