#!/usr/bin/env node
// Backup/restore benchmark: aj against the raw tools doing the same work, in alternating rounds
// (bench/_lib/alternate.mjs), on one generated database; then proves that what was timed restores.
//
// Usage: npm run build && npm run bench:backup -- [--rounds 3] [--json out.json] [--only file,s3,age,restore]
// Env: BENCH_SERVER_URL (postgresql://postgres@127.0.0.1:5432), BENCH_ROWS (8000000: a 1.8 GB database,
// a 454 MiB dump at gzip 1), BENCH_DROP=1 drops the generated database at the end (it is kept and
// reused otherwise: generating 8M rows takes about 70 s plus 8 s of VACUUM on an idle 2-core machine).
// What each part of a backup costs on its own: bench/backup/pieces.mjs.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { alternate, benchOptions } from '../_lib/alternate.mjs';

const root = fileURLToPath(new URL('../..', import.meta.url));
const aj = join(root, 'bin/aj');
const { rounds, json, positionals } = benchOptions(process.argv.slice(2), { rounds: 3 });
const onlyAt = process.argv.indexOf('--only');
const only = new Set((onlyAt > 0 ? process.argv[onlyAt + 1] : 'file,s3,age,restore').split(','));
const server = process.env.BENCH_SERVER_URL ?? 'postgresql://postgres@127.0.0.1:5432';
const db = 'aj_bench_backup';
const dbUrl = `${server}/${db}`;
const rows = Number(process.env.BENCH_ROWS ?? 8_000_000);
const work = mkdtempSync(join(tmpdir(), 'aj-bench-backup-'));
if (positionals.some((p) => p !== process.argv[onlyAt + 1])) throw new Error(`unexpected arguments: ${positionals.join(' ')}`);

// The tools aj itself runs (PG_BIN_DIR's default), not Debian's /usr/bin/pg_dump Perl wrapper,
// which adds about 0.3 s to every raw run.
const { pgToolPath } = await import(join(root, 'dist/src/db/pg-tools.js'));
const pgDump = pgToolPath('pg_dump', {});
const pgRestore = pgToolPath('pg_restore', {});

function must(result, what) {
  if (result.status !== 0) throw new Error(`${what}: ${result.stderr ?? ''}${result.error ?? ''}`);
  return result.stdout;
}
const psql = (dbname, sql) => must(spawnSync('psql', ['-X', '-q', '-tA', '-v', 'ON_ERROR_STOP=1', `${server}/${dbname}`, '-c', sql], { encoding: 'utf8' }), sql.slice(0, 60)).trim();
const dropDb = (name) => psql('postgres', `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);

/** The database, generated once: the marker comment is set only when generation completed. */
function ensureDatabase() {
  const marker = `aj bench: ${rows} rows`;
  const exists = psql('postgres', `SELECT 1 FROM pg_database WHERE datname = '${db}'`);
  if (exists && psql(db, `SELECT coalesce(obj_description('factures_bench'::regclass), '') FROM pg_class WHERE relname = 'factures_bench'`) === marker) return;
  console.log(`generating ${rows} rows in ${db}...`);
  const started = Date.now();
  dropDb(db);
  psql('postgres', `CREATE DATABASE ${db}`);
  psql(db, `CREATE TABLE factures_bench (id bigint PRIMARY KEY, client text, libelle text, montant numeric(12,2), emise timestamptz, meta jsonb);
    INSERT INTO factures_bench SELECT i, 'Client ' || (i % 5000), md5(i::text) || ' ' || md5((i * 7)::text) || ' taille de haie, élagage', (i % 100000) / 100.0,
      now() - (i % 1000) * interval '1 day', jsonb_build_object('chantier', i % 777, 'tva', 20) FROM generate_series(1, ${rows}) i;`);
  // A production table has been vacuumed: hint bits set and the visibility map filled (autovacuum may be off here).
  psql(db, 'VACUUM (ANALYZE) factures_bench');
  psql(db, `COMMENT ON TABLE factures_bench IS '${marker}'`);
  console.log(`generated in ${((Date.now() - started) / 1000).toFixed(0)} s`);
}

async function startS3rver() {
  const child = spawn(process.execPath, ['--openssl-legacy-provider', join(root, 'test/helpers/s3rver-process.cjs'), join(work, 's3'), 'aj-bench'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise((resolve, reject) => {
    child.once('error', reject);
    child.stdout.once('data', (d) => resolve(Number(String(d).trim())));
  });
  return { child, endpoint: `http://127.0.0.1:${port}` };
}

ensureDatabase();
const size = psql(db, `SELECT pg_size_pretty(pg_database_size('${db}'))`);
console.log(`database ${db}: ${size}; ${spawnSync('nproc', { encoding: 'utf8' }).stdout.trim()} cores; ${rounds} rounds; pg_dump ${pgDump}\n`);

const s3 = await startS3rver();
const base = {
  DATABASE_URL: dbUrl, BACKUP_COMPRESS: 'gzip:1', AJ_DATA_DIR: join(work, 'data'), AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  AWS_EC2_METADATA_DISABLED: 'true', AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER',
};
const fileRepo = { ...base, BACKUP_BUCKET: `file://${join(work, 'repo')}` };
const s3Repo = { ...base, BACKUP_BUCKET: 's3://aj-bench/nightly', S3_ENDPOINT: s3.endpoint };
const age = await import('age-encryption');
const identity = await age.generateIdentity();
const recipient = await age.identityToRecipient(identity);
const identityFile = join(work, 'identity.txt');
writeFileSync(identityFile, `${identity}\n`, { mode: 0o600 });
const ageRepo = { ...base, BACKUP_BUCKET: `file://${join(work, 'repo-age')}`, BACKUP_AGE_RECIPIENT: recipient };
const ageInstalled = spawnSync('age', ['--version']).status === 0;
const ajRun = (name, env, baseline) => ({ name, cmd: [process.execPath, aj, 'backup', 'run', '-q', '--no-retention'], env, baseline });

const variants = [];
if (only.has('file')) {
  variants.push(ajRun('aj backup run, file storage', fileRepo, 'pg_dump -Fc -Z1 > /dev/null'));
  variants.push({ name: 'pg_dump -Fc -Z1 > /dev/null', shell: `${pgDump} -Fc -Z1 '${dbUrl}' > /dev/null` });
}
if (only.has('s3')) {
  variants.push(ajRun('aj backup run, S3 (s3rver)', s3Repo, 'pg_dump | lib-storage Upload'));
  variants.push({ name: 'pg_dump | lib-storage Upload', cmd: [process.execPath, join(root, 'bench/backup/raw-s3-upload.mjs'), pgDump, dbUrl, s3.endpoint, 'aj-bench', 'raw/dump'], env: base });
}
if (only.has('age')) {
  // Without the age binary aj falls back to its bundled JavaScript encryptor; there is no raw tool then.
  variants.push(ajRun(`aj backup run, age-encrypted${ageInstalled ? '' : ' (bundled JS: age not installed)'}`, ageRepo, ageInstalled ? 'pg_dump | age -r > /dev/null' : undefined));
  if (ageInstalled) variants.push({ name: 'pg_dump | age -r > /dev/null', shell: `${pgDump} -Fc -Z1 '${dbUrl}' | age -r ${recipient} > /dev/null` });
}
let rawDump;
if (only.has('restore')) {
  rawDump = join(work, 'raw.dump');
  must(spawnSync('sh', ['-c', `${pgDump} -Fc -Z1 '${dbUrl}' > ${rawDump}`], { encoding: 'utf8' }), 'pg_dump to a file');
  if (!only.has('file')) must(spawnSync(process.execPath, [aj, 'backup', 'run', '-q', '--no-retention'], { env: { ...process.env, ...fileRepo }, encoding: 'utf8' }), 'aj backup run');
  variants.push({
    name: 'aj backup restore --jobs 2 (file)', baseline: 'pg_restore -j 2 (local file)', env: fileRepo,
    cmd: [process.execPath, aj, 'backup', 'restore', 'latest', '--jobs', '2', '--create', '--yes', '-q', '--target-url', `${server}/aj_bench_aj_restore`],
    before: () => dropDb('aj_bench_aj_restore'),
  });
  variants.push({
    name: 'pg_restore -j 2 (local file)', cmd: [pgRestore, '-j', '2', '--no-owner', '--no-acl', '-d', `${server}/aj_bench_raw_restore`, rawDump],
    before: () => { dropDb('aj_bench_raw_restore'); psql('postgres', 'CREATE DATABASE aj_bench_raw_restore'); },
  });
}

try {
  must(spawnSync(process.execPath, [aj, 'db', 'migrate'], { env: { ...process.env, ...base }, encoding: 'utf8' }), 'aj db migrate');
  await alternate(variants, { rounds, json, title: `backup of ${db} (${size})` });

  // What was timed must restore: the newest file-storage backup, with every table's count checked.
  console.log('\nchecking that the timed backups restore and verify...');
  const checks = [];
  if (only.has('file') || only.has('restore')) {
    dropDb('aj_bench_verify');
    checks.push(['restore --verify (file storage)', [aj, 'backup', 'restore', 'latest', '--create', '--yes', '--verify', '--jobs', '2', '--target-url', `${server}/aj_bench_verify`], fileRepo]);
  }
  if (only.has('s3')) checks.push(['verify (S3)', [aj, 'backup', 'verify', 'latest'], s3Repo]);
  if (only.has('age')) checks.push(['verify (age, decrypted)', [aj, 'backup', 'verify', 'latest', '--identity', identityFile], ageRepo]);
  for (const [label, args, env] of checks) {
    const result = spawnSync(process.execPath, args, { env: { ...process.env, ...env }, encoding: 'utf8' });
    console.log(`  ${label}: exit ${result.status}${result.status === 0 ? '' : `\n${result.stdout}${result.stderr}`}`);
    if (result.status !== 0) process.exitCode = 1;
  }
} finally {
  s3.child.kill();
  for (const name of ['aj_bench_raw_restore', 'aj_bench_aj_restore', 'aj_bench_verify']) dropDb(name);
  if (process.env.BENCH_DROP) dropDb(db);
  rmSync(work, { recursive: true, force: true });
}
