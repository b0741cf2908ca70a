#!/usr/bin/env node
// Backup/restore benchmark: aj against the raw PostgreSQL tools, in one run, on the same database.
// Usage: npm run build && node bench/backup/run.mjs   (BENCH_ROWS=8000000 gives ~1.1 GB; BENCH_KEEP=1 keeps the database)
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
const aj = join(root, 'bin/aj');
const server = process.env.BENCH_SERVER_URL ?? 'postgresql://postgres@127.0.0.1:5432';
const db = 'aj_bench_backup';
const rows = Number(process.env.BENCH_ROWS ?? 8_000_000);
const work = mkdtempSync(join(tmpdir(), 'aj-bench-'));
const psql = (dbname, sql) => must(spawnSync('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', `${server}/${dbname}`, '-c', sql], { encoding: 'utf8' }));

function must(result) {
  if (result.status !== 0) throw new Error(`${result.stderr ?? ''}${result.error ?? ''}`);
  return result.stdout;
}

/** Wall seconds and peak RSS (MiB) of a command, via GNU time. */
function timed(label, cmd, args, env = {}, shell = false) {
  const started = process.hrtime.bigint();
  const result = shell
    ? spawnSync('/usr/bin/time', ['-f', '%M', 'sh', '-c', cmd], { encoding: 'utf8', env: { ...process.env, ...env } })
    : spawnSync('/usr/bin/time', ['-f', '%M', cmd, ...args], { encoding: 'utf8', env: { ...process.env, ...env } });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (result.status !== 0) throw new Error(`${label} failed: ${result.stderr}`);
  const rssMiB = Number(result.stderr.trim().split('\n').at(-1)) / 1024;
  console.log(`${label.padEnd(38)} ${seconds.toFixed(2).padStart(7)} s   peak RSS ${rssMiB.toFixed(0).padStart(5)} MiB`);
  return { seconds, rssMiB };
}

async function startS3rver() {
  const dir = join(work, 's3');
  const child = spawn(process.execPath, ['--openssl-legacy-provider', join(root, 'test/helpers/s3rver-process.cjs'), dir, 'aj-bench'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise((resolve) => child.stdout.once('data', (d) => resolve(Number(String(d).trim()))));
  return { child, endpoint: `http://127.0.0.1:${port}` };
}

const exists = spawnSync('psql', ['-X', '-tA', `${server}/postgres`, '-c', `SELECT 1 FROM pg_database WHERE datname = '${db}'`], { encoding: 'utf8' }).stdout.trim();
if (!exists) {
  console.log(`generating ${rows} rows in ${db}...`);
  psql('postgres', `CREATE DATABASE ${db}`);
  psql(db, `CREATE TABLE factures_bench (id bigint PRIMARY KEY, client text, libelle text, montant numeric(12,2), emise timestamptz, meta jsonb);
    INSERT INTO factures_bench SELECT i, 'Client ' || (i % 5000), md5(i::text) || ' ' || md5((i * 7)::text) || ' taille de haie, élagage', (i % 100000) / 100.0,
      now() - (i % 1000) * interval '1 day', jsonb_build_object('chantier', i % 777, 'tva', 20) FROM generate_series(1, ${rows}) i;`);
}
const size = must(spawnSync('psql', ['-X', '-tA', `${server}/${db}`, '-c', `SELECT pg_size_pretty(pg_database_size('${db}'))`], { encoding: 'utf8' })).trim();
console.log(`database ${db}: ${size}; machine: ${spawnSync('nproc', { encoding: 'utf8' }).stdout.trim()} cores\n`);

const dbUrl = `${server}/${db}`;
const base = { DATABASE_URL: dbUrl, BACKUP_COMPRESS: 'gzip:1', AJ_DATA_DIR: join(work, 'data'), AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' };
must(spawnSync(process.execPath, [aj, 'db', 'migrate'], { env: { ...process.env, ...base }, encoding: 'utf8' }));
const s3 = await startS3rver();
try {
  const raw = timed('raw pg_dump -Fc -Z1 > /dev/null', `pg_dump -Fc -Z1 '${dbUrl}' > /dev/null`, [], {}, true);
  const fileRun = timed('aj backup run (file storage)', process.execPath, [aj, 'backup', 'run', '-q', '--no-retention'], { ...base, BACKUP_BUCKET: `file://${join(work, 'repo')}` });
  const s3Run = timed('aj backup run (s3rver on loopback)', process.execPath, [aj, 'backup', 'run', '-q', '--no-retention'], {
    ...base, BACKUP_BUCKET: 's3://aj-bench/nightly', S3_ENDPOINT: s3.endpoint, AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER',
  });
  const age = await import('age-encryption');
  const recipient = await age.identityToRecipient(await age.generateIdentity());
  const encRun = timed('aj backup run (file, age encryption)', process.execPath, [aj, 'backup', 'run', '-q', '--no-retention'], {
    ...base, BACKUP_BUCKET: `file://${join(work, 'repo-enc')}`, BACKUP_AGE_RECIPIENT: recipient,
  });

  const dumpFile = join(work, 'raw.dump');
  must(spawnSync('sh', ['-c', `pg_dump -Fc -Z1 '${dbUrl}' > ${dumpFile}`]));
  psql('postgres', 'DROP DATABASE IF EXISTS aj_bench_raw_restore');
  psql('postgres', 'CREATE DATABASE aj_bench_raw_restore');
  const rawRestore = timed('raw pg_restore -j 2 (local file)', 'pg_restore', ['-j', '2', '--no-owner', '--no-acl', '-d', `${server}/aj_bench_raw_restore`, dumpFile]);
  psql('postgres', 'DROP DATABASE IF EXISTS aj_bench_aj_restore');
  const ajRestore = timed('aj backup restore --jobs 2 (file)', process.execPath, [aj, 'backup', 'restore', 'latest', '--jobs', '2', '--create', '--yes', '-q', '--target-url', `${server}/aj_bench_aj_restore`], {
    ...base, BACKUP_BUCKET: `file://${join(work, 'repo')}`,
  });

  console.log('\nratios (aj / raw tool, lower is better):');
  console.log(`  backup, file storage      ${(fileRun.seconds / raw.seconds).toFixed(2)}x   (target <= 1.15)`);
  console.log(`  backup, S3 (s3rver)       ${(s3Run.seconds / raw.seconds).toFixed(2)}x   (target <= 1.15)`);
  console.log(`  backup, age encryption    ${(encRun.seconds / raw.seconds).toFixed(2)}x   (target <= 1.30)`);
  console.log(`  restore --jobs 2          ${(ajRestore.seconds / rawRestore.seconds).toFixed(2)}x   (target <= 1.15)`);
  console.log(`  peak RSS of aj            ${Math.max(fileRun.rssMiB, s3Run.rssMiB, encRun.rssMiB, ajRestore.rssMiB).toFixed(0)} MiB (target < 200)`);
} finally {
  s3.child.kill();
  psql('postgres', 'DROP DATABASE IF EXISTS aj_bench_raw_restore WITH (FORCE)');
  psql('postgres', 'DROP DATABASE IF EXISTS aj_bench_aj_restore WITH (FORCE)');
  if (!process.env.BENCH_KEEP) psql('postgres', `DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
  rmSync(work, { recursive: true, force: true });
}
