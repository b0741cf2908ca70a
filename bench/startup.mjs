#!/usr/bin/env node
// Startup benchmark: how much aj adds to a bare Node start, in one run on this machine.
// Targets (issue 2): `aj --version` <= 1.5x `node -e 0`; `aj backup list` (with its query) <= 2.5x.
// Usage: npm run build && node bench/startup.mjs   (BENCH_RUNS=30; BENCH_DATABASE_URL=postgresql://... for backup list)
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const aj = fileURLToPath(new URL('../bin/aj', import.meta.url));
const runs = Number(process.env.BENCH_RUNS ?? 20);
const databaseUrl = process.env.BENCH_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/aj_bench_startup';
// Only what the commands need: a developer's AWS_* or SMTP_* must not change what is measured.
const env = { PATH: process.env.PATH, HOME: process.env.HOME, DATABASE_URL: databaseUrl, AJ_DATA_DIR: fileURLToPath(new URL('../aj-data', import.meta.url)) };

/** One run: wall milliseconds, exit status and the first stderr line. */
function once(cmd, args) {
  const started = process.hrtime.bigint();
  const result = spawnSync(cmd, args, { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  return { ms, status: result.status ?? 1, error: (result.error?.message ?? result.stderr.split('\n').find(Boolean) ?? '').trim() };
}

/** Median over `runs` after two warm-up runs (page cache, JIT of npm's shims do not count). */
function measure(label, cmd, args) {
  for (let i = 0; i < 2; i += 1) {
    const warm = once(cmd, args);
    if (warm.status !== 0) return { label, failed: `exit ${warm.status}: ${warm.error}` };
  }
  const times = Array.from({ length: runs }, () => once(cmd, args).ms).sort((a, b) => a - b);
  return { label, median: times[Math.floor(times.length / 2)], min: times[0] };
}

/** `aj backup list` should time the query, not the first migration or a missing database. */
function prepareDatabase() {
  const url = new URL(databaseUrl);
  const name = url.pathname.slice(1);
  url.pathname = '/postgres';
  spawnSync('psql', ['-X', '-q', url.toString(), '-c', `CREATE DATABASE "${name}"`], { encoding: 'utf8' });
  const migrated = once(aj, ['db', 'migrate']);
  return migrated.status === 0 ? undefined : `aj db migrate failed (exit ${migrated.status}: ${migrated.error})`;
}

const baseline = measure('node -e 0', process.execPath, ['-e', '0']);
const results = [
  measure('aj --version', aj, ['--version']),
  measure('aj --help', aj, ['--help']),
];
const dbProblem = prepareDatabase();
results.push(dbProblem ? { label: 'aj backup list', failed: dbProblem } : measure('aj backup list', aj, ['backup', 'list']));

const targets = { 'aj --version': 1.5, 'aj backup list': 2.5 };
console.log(`node ${process.version}, ${runs} runs each, median (min) wall time\n`);
console.log(`${baseline.label.padEnd(18)} ${baseline.median.toFixed(1).padStart(7)} ms (${baseline.min.toFixed(1)})`);
for (const r of results) {
  if (r.failed) {
    console.log(`${r.label.padEnd(18)} not measured: ${r.failed}`);
    continue;
  }
  const ratio = r.median / baseline.median;
  const target = targets[r.label];
  const verdict = target ? `  target <= ${target}x: ${ratio <= target ? 'met' : 'MISSED'}` : '';
  console.log(`${r.label.padEnd(18)} ${r.median.toFixed(1).padStart(7)} ms (${r.min.toFixed(1)})  ${ratio.toFixed(2)}x node -e 0${verdict}`);
}
