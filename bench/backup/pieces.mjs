#!/usr/bin/env node
// What each part of an aj backup costs on its own, in wall and CPU seconds, on the database that
// bench/backup/run.mjs generates (run that first): pg_dump alone, the exact row count in a snapshot
// (as aj runs it, and with the server's defaults), SHA-256 and MD5 of the dump, writing it to a file
// with an fsync, and aj's fixed cost per run (a backup of an empty database against pg_dump of it).
// Usage: npm run build && node bench/backup/pieces.mjs [--rounds 3]
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, mkdtempSync, openSync, closeSync, fsyncSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { benchOptions, median } from '../_lib/alternate.mjs';

const root = fileURLToPath(new URL('../..', import.meta.url));
const { rounds } = benchOptions(process.argv.slice(2), { rounds: 3 });
const server = process.env.BENCH_SERVER_URL ?? 'postgresql://postgres@127.0.0.1:5432';
const db = 'aj_bench_backup';
const { pgToolPath } = await import(join(root, 'dist/src/db/pg-tools.js'));
const pgDump = pgToolPath('pg_dump', {});
const work = mkdtempSync(join(tmpdir(), 'aj-bench-pieces-'));
const dumpFile = join(work, 'dump');

/** Wall and CPU seconds (user + system, children included) of a shell command. */
function shell(command, env = process.env) {
  const started = process.hrtime.bigint();
  const r = spawnSync('/usr/bin/time', ['-f', '%U %S', 'sh', '-c', command], { encoding: 'utf8', env });
  if (r.status !== 0) throw new Error(`${command}: ${r.stderr}`);
  const [user, sys] = r.stderr.trim().split('\n').at(-1).split(' ').map(Number);
  return { wall: Number(process.hrtime.bigint() - started) / 1e9, cpu: user + sys };
}

/** Wall and CPU seconds of work in this process. */
async function inProcess(work) {
  const started = process.hrtime.bigint();
  const cpu = process.cpuUsage();
  await work();
  const used = process.cpuUsage(cpu);
  return { wall: Number(process.hrtime.bigint() - started) / 1e9, cpu: (used.user + used.system) / 1e6 };
}

// The server's CPU is the backend's: a count's wall time on an otherwise idle server is its CPU time.
const count = (settings) => shell(`psql -X -q -o /dev/null '${server}/${db}' -c "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; ${settings} SELECT count(*) FROM factures_bench; COMMIT"`);
const hash = (algorithm) => inProcess(async () => {
  const h = createHash(algorithm);
  for await (const chunk of createReadStream(dumpFile, { highWaterMark: 1 << 16 })) h.update(chunk);
  h.digest('hex');
});
const pieces = {
  'pg_dump -Fc -Z1 > /dev/null': () => shell(`${pgDump} -Fc -Z1 '${server}/${db}' > /dev/null`),
  'count(*) as aj runs it (no parallel workers, no JIT)': () => count('SET LOCAL max_parallel_workers_per_gather = 0; SET LOCAL jit = off;'),
  'count(*) with the server defaults (parallel, JIT)': () => count(''),
  'SHA-256 of the dump (reading it from the page cache)': () => hash('sha256'),
  'MD5 of the dump (S3_CHECKSUM=md5, every part)': () => hash('md5'),
  'write the dump to a file, 64 KiB writes, fsync': () => inProcess(async () => {
    const out = join(work, 'copy');
    const fd = openSync(out, 'w');
    for await (const chunk of createReadStream(dumpFile, { highWaterMark: 1 << 16 })) writeSync(fd, chunk);
    fsyncSync(fd);
    closeSync(fd);
    rmSync(out);
  }),
};

try {
  spawnSync('psql', ['-X', '-q', `${server}/postgres`, '-c', 'DROP DATABASE IF EXISTS aj_bench_empty WITH (FORCE)', '-c', 'CREATE DATABASE aj_bench_empty']);
  const empty = { ...process.env, DATABASE_URL: `${server}/aj_bench_empty`, AJ_DATA_DIR: join(work, 'data'), BACKUP_BUCKET: `file://${join(work, 'repo')}`, BACKUP_COMPRESS: 'gzip:1' };
  if (spawnSync(process.execPath, [join(root, 'bin/aj'), 'db', 'migrate'], { env: empty }).status !== 0) throw new Error('aj db migrate failed');
  pieces['aj backup run of an empty database (fixed cost per run)'] = () => shell(`'${process.execPath}' '${join(root, 'bin/aj')}' backup run -q --no-retention`, empty);
  pieces['pg_dump -Fc -Z1 of the same empty database'] = () => shell(`${pgDump} -Fc -Z1 '${server}/aj_bench_empty' > /dev/null`);

  shell(`${pgDump} -Fc -Z1 '${server}/${db}' > ${dumpFile}`);
  const results = new Map(Object.keys(pieces).map((k) => [k, []]));
  for (let round = 0; round < rounds; round += 1) {
    for (const [name, measure] of Object.entries(pieces)) results.get(name).push(await measure());
  }
  console.log(`${rounds} rounds, medians (min-max)`);
  for (const [name, runs] of results) {
    const f = (key) => `${median(runs.map((r) => r[key])).toFixed(2)} s (${Math.min(...runs.map((r) => r[key])).toFixed(2)}-${Math.max(...runs.map((r) => r[key])).toFixed(2)})`;
    console.log(`  ${name.padEnd(58)} wall ${f('wall')}   cpu ${f('cpu')}`);
  }
} finally {
  spawnSync('psql', ['-X', '-q', `${server}/postgres`, '-c', 'DROP DATABASE IF EXISTS aj_bench_empty WITH (FORCE)']);
  rmSync(work, { recursive: true, force: true });
}
