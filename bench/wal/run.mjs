#!/usr/bin/env node
// WAL archiving benchmark: pgbench on a throwaway cluster whose archive_command is `aj wal push`,
// against archive_command = /bin/true (the rate PostgreSQL produces WAL with archiving costing
// nothing), in alternating rounds (bench/_lib/alternate.mjs). Reports pgbench tps (median, min-max),
// the archiver's backlog when pgbench stops (.ready files waiting) and how long it takes to drain,
// the size of archived segments, gzip levels on a real segment, and the RPO with archive_timeout = 60
// (a committed row: time until its WAL file is archived).
//
// Usage: npm run build && node bench/wal/run.mjs [--rounds 3] [--seconds 60] [--clients 4] [--scale 20]
//          [--storage file|s3] [--synchronous-commit on|off] [--rpo 3] [--json out.json]
// Runs as root (initdb as the postgres user) or as a user that can run initdb itself.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { chownSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { gzipSync, gunzipSync } from 'node:zlib';
import { alternate, median } from '../_lib/alternate.mjs';

const root = fileURLToPath(new URL('../..', import.meta.url));
const aj = join(root, 'bin/aj');
const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' }, seconds: { type: 'string', default: '60' }, clients: { type: 'string', default: '4' },
    scale: { type: 'string', default: '20' }, 'synchronous-commit': { type: 'string', default: 'on' }, storage: { type: 'string', default: 'file' }, rpo: { type: 'string', default: '3' }, json: { type: 'string' },
  },
});
const rounds = Number(values.rounds);
const seconds = Number(values.seconds);
const bin = readdirSync('/usr/lib/postgresql').filter((v) => /^\d+$/.test(v)).sort((a, b) => b - a).map((v) => `/usr/lib/postgresql/${v}/bin`)[0];
const asRoot = process.getuid() === 0;
const owner = asRoot ? { uid: Number(execFileSync('id', ['-u', 'postgres'])), gid: Number(execFileSync('id', ['-g', 'postgres'])) } : undefined;
const give = (path) => owner && chownSync(path, owner.uid, owner.gid);
const asServer = (file, args) => (asRoot ? ['runuser', ['-u', 'postgres', '--', file, ...args]] : [file, args]);

const work = mkdtempSync(join(tmpdir(), 'aj-bench-wal-'));
execFileSync('chmod', ['755', work]);
give(work);
const dataDir = join(work, 'data');
const port = 20000 + (process.pid % 20000);
const url = `postgresql://postgres@127.0.0.1:${port}/postgres`;
const envFile = join(work, 'aj.env');
let s3rver;

function must(result, what) {
  if (result.status !== 0) throw new Error(`${what}: ${result.stderr ?? ''}${result.error ?? ''}`);
  return String(result.stdout ?? '');
}
const server = (file, args) => {
  const [cmd, argv] = asServer(join(bin, file), args);
  return must(spawnSync(cmd, argv, { cwd: work, encoding: 'utf8' }), `${file} ${args.join(' ')}`);
};
const psql = (sql) => must(spawnSync(join(bin, 'psql'), ['-X', '-qtA', '-v', 'ON_ERROR_STOP=1', url, '-c', sql], { encoding: 'utf8' }), sql.slice(0, 60)).trim();
const readyCount = () => readdirSync(join(dataDir, 'pg_wal', 'archive_status')).filter((f) => f.endsWith('.ready')).length;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function startS3() {
  const dir = join(work, 's3rver');
  mkdirSync(dir);
  const child = spawn(process.execPath, ['--openssl-legacy-provider', join(root, 'test/helpers/s3rver-process.cjs'), dir, 'aj-bench'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise((resolve) => child.stdout.once('data', (d) => resolve(Number(String(d).trim()))));
  return { child, env: { S3_ENDPOINT: `http://127.0.0.1:${port}`, AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER', BACKUP_BUCKET: 's3://aj-bench/wal' } };
}

async function setUp() {
  server('initdb', ['-D', dataDir, '-U', 'postgres', '--auth=trust', '--no-sync']);
  const storage = join(work, 'storage');
  mkdirSync(storage);
  give(storage);
  let env = { BACKUP_BUCKET: `file://${storage}`, AJ_DATA_DIR: join(work, 'aj-data') };
  if (values.storage === 's3') {
    s3rver = await startS3();
    env = { ...env, ...s3rver.env };
  }
  writeFileSync(envFile, Object.entries({ ...env, AWS_EC2_METADATA_DISABLED: 'true' }).map(([k, v]) => `${k}=${v}`).join('\n') + '\n', { mode: 0o600 });
  give(envFile);
  writeFileSync(join(dataDir, 'postgresql.auto.conf'), '');
  const conf = {
    listen_addresses: "'127.0.0.1'", port, unix_socket_directories: `'${work}'`, shared_buffers: '128MB', max_wal_size: '2GB',
    wal_level: 'replica', archive_mode: 'on', archive_timeout: '60', archive_command: "'/bin/true'", checkpoint_timeout: '5min',
    // off: commits do not wait for the disk, so pgbench writes WAL as fast as the CPU allows (the archiver's worst case).
    synchronous_commit: values['synchronous-commit'],
  };
  writeFileSync(join(dataDir, 'postgresql.conf'), Object.entries(conf).map(([k, v]) => `${k} = ${v}`).join('\n') + '\n', { flag: 'a' });
  server('pg_ctl', ['-D', dataDir, '-l', join(work, 'server.log'), '-w', 'start']);
  must(spawnSync(join(bin, 'pgbench'), ['-i', '-q', '-s', values.scale, url], { encoding: 'utf8' }), 'pgbench -i');
  return storage;
}

function setArchiveCommand(command) {
  psql(`ALTER SYSTEM SET archive_command = '${command.replaceAll("'", "''")}'`);
  psql('SELECT pg_reload_conf()');
}
const ajCommand = `${process.execPath} ${aj} --env-file ${envFile} wal push %p`;

/** Waits for the archiver to empty its backlog; seconds it took. */
async function drain(limitSeconds = 600) {
  const started = Date.now();
  while (readyCount() > 0) {
    if (Date.now() - started > limitSeconds * 1000) throw new Error(`backlog not drained after ${limitSeconds} s`);
    await sleep(200);
  }
  return (Date.now() - started) / 1000;
}

function pgbench() {
  const out = must(spawnSync(join(bin, 'pgbench'), ['-n', '-c', values.clients, '-j', '2', '-T', String(seconds), url], { encoding: 'utf8' }), 'pgbench');
  return Number(/tps = ([\d.]+)/.exec(out)[1]);
}

function walBytes() {
  return BigInt(psql(`SELECT pg_current_wal_lsn() - '0/0'`));
}

async function round(command) {
  setArchiveCommand(command);
  await drain();
  psql('CHECKPOINT');
  const walBefore = walBytes();
  const tps = pgbench();
  const ready = readyCount();
  const walMiB = Number(walBytes() - walBefore) / 2 ** 20;
  const drainSeconds = await drain();
  return { tps, ready, walMiB, drainSeconds };
}

/** Commit a row, then time until the WAL file holding it is archived (archive_timeout closes it). */
async function rpoSample() {
  psql('CREATE TABLE IF NOT EXISTS rpo (at timestamptz)');
  const started = Date.now();
  const segment = psql(`INSERT INTO rpo VALUES (now()); SELECT pg_walfile_name(pg_current_wal_lsn())`);
  for (;;) {
    const last = psql('SELECT coalesce(last_archived_wal, \'\') FROM pg_stat_archiver');
    if (last.slice(0, 24) >= segment) return { seconds: (Date.now() - started) / 1000, segment };
    if (Date.now() - started > 300_000) throw new Error(`${segment} not archived after 300 s`);
    await sleep(250);
  }
}

function storedSegments(storage) {
  const sizes = [];
  const walk = (dir) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (/^[0-9A-F]{24}\.gz$/.test(entry.name)) sizes.push({ path, size: statSync(path).size });
    }
  };
  walk(storage);
  return sizes;
}

/**
 * `aj wal push` of one real segment (the newest archived one still in pg_wal), as PostgreSQL runs it:
 * a new upload to fresh storage of the bench's kind, then the same push again (already archived, no upload).
 */
async function timePushes() {
  const done = readdirSync(join(dataDir, 'pg_wal', 'archive_status')).filter((f) => /^[0-9A-F]{24}\.done$/.test(f)).sort();
  const segment = done.at(-1).slice(0, 24);
  const times = { upload: [], again: [] };
  for (let i = 0; i < 5; i += 1) {
    const env = { ...process.env, AJ_DATA_DIR: join(work, 'aj-data'), AWS_EC2_METADATA_DISABLED: 'true', ...(s3rver ? { ...s3rver.env, BACKUP_BUCKET: `s3://aj-bench/timing-${i}` } : { BACKUP_BUCKET: `file://${join(work, `timing-${i}`)}` }) };
    for (const kind of ['upload', 'again']) {
      const started = process.hrtime.bigint();
      must(spawnSync(process.execPath, [aj, 'wal', 'push', `pg_wal/${segment}`], { cwd: dataDir, env, encoding: 'utf8' }), `aj wal push ${segment}`);
      times[kind].push(Number(process.hrtime.bigint() - started) / 1e9);
    }
  }
  return times;
}

function gzipLevels(segment) {
  return [1, 3, 6, 9].map((level) => {
    const times = [];
    let size = 0;
    for (let i = 0; i < 3; i += 1) {
      const t = process.hrtime.bigint();
      size = gzipSync(segment, { level }).length;
      times.push(Number(process.hrtime.bigint() - t) / 1e6);
    }
    return { level, ms: median(times), ratio: size / segment.length };
  });
}

try {
  console.log(`WAL archiving bench: pgbench -c ${values.clients} -T ${seconds} at scale ${values.scale}, synchronous_commit ${values['synchronous-commit']}, ${rounds} rounds, ${values.storage} storage, load ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  const storage = await setUp();
  const results = { aj: [], raw: [] };
  const variant = (name, command) => ({
    name,
    fn: async () => round(command),
    after: (result) => {
      results[name].push(result.value);
      console.log(`    ${name}: ${result.value.tps.toFixed(0)} tps, ${result.value.walMiB.toFixed(0)} MiB of WAL, ${result.value.ready} .ready at the end, drained in ${result.value.drainSeconds.toFixed(1)} s`);
    },
  });
  const timing = await alternate([variant('aj', ajCommand), variant('raw', '/bin/true')], { rounds, title: 'wal', quiet: false });
  setArchiveCommand(ajCommand);
  const rpo = [];
  const quietSegments = [];
  for (let i = 0; i < Number(values.rpo); i += 1) {
    await sleep(Math.random() * 20_000);
    const sample = await rpoSample();
    rpo.push(sample.seconds);
    quietSegments.push(sample.segment);
    console.log(`    RPO sample ${i + 1}: ${sample.seconds.toFixed(1)} s`);
  }
  const pushTimes = await timePushes();
  const stats = (xs) => ({ median: median(xs), min: Math.min(...xs), max: Math.max(...xs) });
  const segments = values.storage === 'file' ? storedSegments(storage) : [];
  const sample = segments.length ? gunzipSync(readFileSync(segments[segments.length >> 1].path)) : undefined;
  const summary = {
    at: new Date().toISOString(), seconds, synchronousCommit: values['synchronous-commit'], clients: Number(values.clients), scale: Number(values.scale), storage: values.storage, loadAverage1m: timing.loadAverage1m,
    aj: { tps: stats(results.aj.map((r) => r.tps)), readyAtEnd: stats(results.aj.map((r) => r.ready)), drainSeconds: stats(results.aj.map((r) => r.drainSeconds)), walMiB: stats(results.aj.map((r) => r.walMiB)) },
    raw: { tps: stats(results.raw.map((r) => r.tps)), readyAtEnd: stats(results.raw.map((r) => r.ready)), walMiB: stats(results.raw.map((r) => r.walMiB)) },
    rpoSeconds: stats(rpo),
    pushSeconds: { upload: stats(pushTimes.upload), alreadyArchived: stats(pushTimes.again) },
    // A segment closed by archive_timeout after one small commit: what a quiet office hour costs per minute.
    quietSegmentBytes: segments.length ? median(segments.filter((s) => quietSegments.some((q) => s.path.endsWith(`${q}.gz`))).map((s) => s.size)) : undefined,
    archivedSegments: segments.length ? { count: segments.length, medianBytes: median(segments.map((s) => s.size)), ratio: median(segments.map((s) => s.size)) / 2 ** 24 } : undefined,
    gzipLevels: sample ? gzipLevels(sample) : undefined,
  };
  console.log(JSON.stringify(summary, null, 2));
  if (values.json) writeFileSync(values.json, `${JSON.stringify(summary, null, 2)}\n`);
} finally {
  spawnSync(...asServer(join(bin, 'pg_ctl'), ['-D', dataDir, '-m', 'immediate', '-w', 'stop']), { cwd: work });
  s3rver?.child.kill();
  rmSync(work, { recursive: true, force: true });
}
