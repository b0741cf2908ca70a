#!/usr/bin/env node
// Runs named variants alternately (aj, raw, aj, raw, ...) so that a machine that slows down or warms
// up during the benchmark affects every variant alike, then prints medians with min-max and the
// ratio of medians. Dependency-free.
//
// As a library:
//   import { alternate, benchOptions } from '../_lib/alternate.mjs';
//   const { rounds, json } = benchOptions();            // --rounds N (default 3), --json FILE
//   await alternate([
//     { name: 'aj backup', cmd: ['node', 'bin/aj', 'backup', 'run'], env: {...}, baseline: 'pg_dump' },
//     { name: 'pg_dump', shell: 'pg_dump -Fc -Z1 db > /dev/null' },
//     { name: 'in-process', fn: async () => { ... } },   // timed, no RSS
//   ], { rounds, json, title: 'backup' });
// A variant may have `before` (untimed, each round, e.g. drop the restored database) and `after`
// (untimed, gets the round's result). `baseline` names the variant its ratio is computed against.
//
// As a command:
//   node bench/_lib/alternate.mjs [--rounds 5] [--json out.json] [--baseline node] 'aj=bin/aj --version' 'node=node -e 0'
//   (each argument is name=shell command; every variant is compared with the baseline, by default the last)
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';

const GNU_TIME = '/usr/bin/time';
const hasGnuTime = existsSync(GNU_TIME);

/** --rounds N (default 3) and --json FILE from argv; the remaining arguments as `positionals`. */
export function benchOptions(argv = process.argv.slice(2), defaults = {}) {
  const { values, positionals } = parseArgs({
    args: argv,
    strict: false,
    allowPositionals: true,
    options: { rounds: { type: 'string' }, json: { type: 'string' }, baseline: { type: 'string' } },
  });
  const rounds = Number(values.rounds ?? defaults.rounds ?? 3);
  if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`--rounds must be a positive integer, got ${values.rounds}`);
  const text = (x) => (typeof x === 'string' ? x : undefined);
  return { rounds, json: text(values.json), baseline: text(values.baseline), positionals };
}

/** One timed run: wall seconds (hrtime), peak RSS in MiB (GNU time; undefined for in-process variants). */
export async function timeOnce(variant) {
  if (variant.fn) {
    const started = process.hrtime.bigint();
    const value = await variant.fn();
    return { seconds: Number(process.hrtime.bigint() - started) / 1e9, value };
  }
  const command = variant.shell ? ['sh', '-c', variant.shell] : variant.cmd;
  if (!command?.length) throw new Error(`variant ${variant.name} needs cmd, shell or fn`);
  // GNU time writes its figure on the last stderr line, in a file of its own so the tool's stderr stays readable.
  const rssFile = hasGnuTime ? `${process.env.TMPDIR ?? '/tmp'}/aj-bench-rss-${process.pid}` : undefined;
  const argv = hasGnuTime ? [GNU_TIME, '-o', rssFile, '-f', '%M', ...command] : command;
  const started = process.hrtime.bigint();
  const { code, stdout, stderr } = await run(argv, { env: { ...process.env, ...variant.env }, cwd: variant.cwd });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (code !== 0) throw new Error(`${variant.name} exited ${code}: ${stderr.trim().split('\n').slice(-5).join(' | ')}`);
  let rssMiB;
  if (rssFile) {
    rssMiB = Number(readFileSync(rssFile, 'utf8').trim().split('\n').at(-1)) / 1024;
    rmSync(rssFile, { force: true });
  }
  return { seconds, rssMiB, stdout, stderr };
}

function run(argv, options) {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0], argv.slice(1), { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout = (stdout + d).slice(-65536); });
    child.stderr.on('data', (d) => { stderr = (stderr + d).slice(-65536); });
    child.once('error', reject);
    child.once('close', (code, signal) => resolve({ code: code ?? signal, stdout, stderr }));
  });
}

export function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/**
 * Runs every variant once per round, in the given order, `rounds` times; prints the table and
 * returns (and with `json`, writes) the summary.
 */
export async function alternate(variants, { rounds = 3, json, title, quiet = false } = {}) {
  const names = new Set();
  for (const v of variants) {
    if (names.has(v.name)) throw new Error(`two variants are named ${v.name}`);
    names.add(v.name);
  }
  for (const v of variants) if (v.baseline && !names.has(v.baseline)) throw new Error(`${v.name}: no variant named ${v.baseline}`);
  const results = new Map(variants.map((v) => [v.name, []]));
  const loads = [loadavg()[0]];
  for (let round = 1; round <= rounds; round += 1) {
    for (const variant of variants) {
      await variant.before?.(round);
      const result = await timeOnce(variant);
      await variant.after?.(result, round);
      results.get(variant.name).push(result);
      if (!quiet) {
        const rss = result.rssMiB === undefined ? '' : `   peak RSS ${result.rssMiB.toFixed(0)} MiB`;
        console.log(`  round ${round}/${rounds}  ${variant.name.padEnd(44)} ${result.seconds.toFixed(2).padStart(8)} s${rss}`);
      }
    }
    loads.push(loadavg()[0]);
  }
  const summary = {
    title,
    rounds,
    at: new Date().toISOString(),
    loadAverage1m: { min: Math.min(...loads), max: Math.max(...loads) },
    variants: variants.map((v) => {
      const runs = results.get(v.name);
      const seconds = runs.map((r) => r.seconds);
      const rss = runs.map((r) => r.rssMiB).filter((x) => x !== undefined);
      return {
        name: v.name,
        baseline: v.baseline,
        seconds: { median: median(seconds), min: Math.min(...seconds), max: Math.max(...seconds), runs: seconds },
        peakRssMiB: rss.length ? { median: median(rss), max: Math.max(...rss) } : undefined,
      };
    }),
  };
  const byName = new Map(summary.variants.map((v) => [v.name, v]));
  for (const v of summary.variants) {
    if (v.baseline) v.ratio = v.seconds.median / byName.get(v.baseline).seconds.median;
  }
  printTable(summary);
  if (json) writeFileSync(json, `${JSON.stringify(summary, null, 2)}\n`);
  return summary;
}

function printTable(summary) {
  const rows = summary.variants.map((v) => [
    v.name,
    v.seconds.median.toFixed(2),
    `${v.seconds.min.toFixed(2)}–${v.seconds.max.toFixed(2)}`,
    v.peakRssMiB ? v.peakRssMiB.max.toFixed(0) : '',
    v.ratio === undefined ? '' : `${v.ratio.toFixed(2)}x vs ${v.baseline}`,
  ]);
  const header = ['variant', 'median s', 'min–max s', 'peak RSS MiB', 'ratio of medians'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  console.log(`\n${summary.title ? `${summary.title}: ` : ''}${summary.rounds} alternating rounds, load average (1 min) ${summary.loadAverage1m.min.toFixed(2)}–${summary.loadAverage1m.max.toFixed(2)}`);
  console.log(line(header));
  for (const row of rows) console.log(line(row));
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { rounds, json, baseline, positionals } = benchOptions();
  if (positionals.length === 0) {
    console.error("usage: node bench/_lib/alternate.mjs [--rounds N] [--json FILE] [--baseline NAME] 'name=shell command' ...");
    process.exit(2);
  }
  const variants = positionals.map((arg) => {
    const at = arg.indexOf('=');
    if (at < 1) throw new Error(`expected name=command, got ${arg}`);
    return { name: arg.slice(0, at), shell: arg.slice(at + 1) };
  });
  const against = baseline ?? variants.at(-1).name;
  for (const v of variants) if (v.name !== against) v.baseline = against;
  await alternate(variants, { rounds, json });
}
