#!/usr/bin/env node
// Start-up benchmark (issue 17): how much aj adds to a bare Node start. Runs alternate
// (node -e 0, aj --version, aj --help, aj backup list, node -e 0, ...; bench/_lib/alternate.mjs) and each
// aj command gets the median, min-max and its ratio of medians to `node -e 0`.
// Targets: `aj --version` <= 1.15x, `aj backup list` (connection, migration check, query) <= 2.0x.
//   npm run build && node bench/startup.mjs [--rounds 21] [--json FILE]
// Database for backup list: BENCH_DATABASE_URL (default postgresql://postgres@127.0.0.1:5432/aj_bench_startup),
// created and migrated first.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { alternate, benchOptions } from './_lib/alternate.mjs';

const { rounds, json } = benchOptions(process.argv.slice(2), { rounds: 21 });
const aj = fileURLToPath(new URL('../bin/aj', import.meta.url));
const databaseUrl = process.env.BENCH_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/aj_bench_startup';
// Only what the commands need: a developer's AWS_* or SMTP_* must not change what is measured.
const env = { PATH: process.env.PATH, HOME: process.env.HOME, DATABASE_URL: databaseUrl, AJ_DATA_DIR: fileURLToPath(new URL('../aj-data', import.meta.url)) };

/** `aj backup list` should time the query, not the first migration or a missing database. */
function prepareDatabase() {
  const url = new URL(databaseUrl);
  const name = url.pathname.slice(1);
  url.pathname = '/postgres';
  spawnSync('psql', ['-X', '-q', url.toString(), '-c', `CREATE DATABASE "${name}"`], { encoding: 'utf8' });
  const migrated = spawnSync(process.execPath, ['--', aj, 'db', 'migrate'], { env, encoding: 'utf8' });
  if (migrated.status !== 0) throw new Error(`aj db migrate failed (exit ${migrated.status}): ${migrated.stderr.trim()}`);
}

prepareDatabase();
const node = { name: 'node -e 0', cmd: [process.execPath, '-e', '0'], env };
const ajRun = (args) => ({ name: `aj ${args.join(' ')}`, cmd: [aj, ...args], env, baseline: node.name });
const summary = await alternate([node, ajRun(['--version']), ajRun(['--help']), ajRun(['backup', 'list'])], { rounds, json, title: 'start-up', quiet: true });

const targets = { 'aj --version': 1.15, 'aj backup list': 2.0 };
const ms = (s) => `${(s * 1000).toFixed(1)} ms`;
console.log(`\nnode ${process.version}, ${rounds} alternating rounds, load average ${summary.loadAverage1m.min.toFixed(2)}-${summary.loadAverage1m.max.toFixed(2)}`);
for (const v of summary.variants) {
  const target = targets[v.name];
  const verdict = target === undefined ? '' : `  target <= ${target}x: ${v.ratio <= target ? 'met' : 'MISSED'}`;
  const ratio = v.ratio === undefined ? '' : `  ${v.ratio.toFixed(2)}x node -e 0`;
  console.log(`${v.name.padEnd(16)} median ${ms(v.seconds.median)} (${ms(v.seconds.min)} - ${ms(v.seconds.max)})${ratio}${verdict}`);
}
