#!/usr/bin/env node
// Benchmark of `aj archive` against raw S3 calls on a local s3rver, in one run.
//   node bench/archive/bench.mjs [objects=10000] [concurrency=8] [put]   (put: only the put comparison)
// Needs `npm run build`, PostgreSQL (AJ_TEST_DATABASE_URL or postgresql://postgres@127.0.0.1:5432/postgres).
// Targets (issue 4): put >= 0.8x raw concurrent PutObject; quick verify >= 5x a sequential HEAD loop;
// deep verify >= 0.8x a raw concurrent GET of the same objects.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';

// Set before the SDK loads: on Node 20 it prints a deprecation warning otherwise.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
const { GetObjectCommand, HeadObjectCommand, PutObjectCommand, S3Client } = await import('@aws-sdk/client-s3');

const root = fileURLToPath(new URL('../..', import.meta.url));
const objects = Number(process.argv[2] ?? 10_000);
const concurrency = Number(process.argv[3] ?? 8);
const onlyPut = process.argv[4] === 'put';
const bucket = 'aj-archive';
const serverUrl = process.env.AJ_TEST_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';

const work = mkdtempSync(join(tmpdir(), 'aj-bench-archive-'));
const s3dir = join(work, 's3');
mkdirSync(s3dir);
const s3rver = spawn(process.execPath, ['--openssl-legacy-provider', join(root, 'test/helpers/s3rver-process.cjs'), s3dir, bucket], { stdio: ['ignore', 'pipe', 'inherit'] });
const port = await new Promise((resolve) => s3rver.stdout.once('data', (d) => resolve(Number(String(d).trim()))));
const endpoint = `http://127.0.0.1:${port}`;
const sdk = new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } });

const dbName = `aj_bench_archive_${process.pid}`;
const admin = new pg.Client({ connectionString: serverUrl });
await admin.connect();
await admin.query(`CREATE DATABASE ${dbName}`);
const dbUrl = new URL(serverUrl);
dbUrl.pathname = `/${dbName}`;
const env = { ...process.env, DATABASE_URL: dbUrl.toString(), ARCHIVE_BUCKET: `s3://${bucket}`, S3_ENDPOINT: endpoint, AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER', AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' };

const pdf = (i) => Buffer.from(`%PDF-1.4\n% facture ${i}\n${'x'.repeat(2000)}\n%%EOF\n`);
const pdfDir = join(work, 'pdfs');
mkdirSync(pdfDir);
for (let i = 0; i < objects; i += 1) writeFileSync(join(pdfDir, `FA-${i}.pdf`), pdf(i));

async function pool(items, fn) {
  let next = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < items.length) await fn(items[next++]);
  }));
}

async function timed(label, fn) {
  const start = performance.now();
  await fn();
  const seconds = (performance.now() - start) / 1000;
  console.log(`${label.padEnd(46)} ${seconds.toFixed(2)} s  (${(objects / seconds).toFixed(0)} objects/s)`);
  return seconds;
}

function run(command, args) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${args.join(' ')} exited ${code}: ${err}`))));
  });
}

const aj = (args) => run(process.execPath, [join(root, 'bin/aj'), ...args]);

const indexes = [...Array(objects).keys()];
try {
  await aj(['db', 'migrate']);
  console.log(`${objects} objects of ${pdf(0).length} bytes, concurrency ${concurrency}, s3rver on loopback`);
  // s3rver answers its first thousands of requests markedly slower (JIT): warm it so neither side pays that.
  await pool([...Array(6000).keys()], (i) => sdk.send(new PutObjectCommand({ Bucket: bucket, Key: `warm/${i % 1000}`, Body: pdf(i) })));
  // Both sides are a fresh process reading the same files: the raw side is bench/archive/raw-put.mjs.
  // Two alternating rounds (the second archives the files again as another document type, so it
  // uploads everything again); each side's best round counts, which evens out the machine's noise.
  let rawPut = Infinity;
  let ajPut = Infinity;
  for (const type of ['facture', 'devis']) {
    rawPut = Math.min(rawPut, await timed('raw concurrent PutObject (own process)', () => run(process.execPath, [join(root, 'bench/archive/raw-put.mjs'), pdfDir, bucket, `raw-${type}/2026/11`, String(concurrency)])));
    ajPut = Math.min(ajPut, await timed(`aj archive put (directory, --type ${type})`, () => aj(['archive', 'put', pdfDir, '--doc-id-from', 'stem', '--type', type, '--concurrency', String(concurrency), '--json'])));
  }

  if (onlyPut) console.log(`\nput: ${(rawPut / ajPut).toFixed(2)}x raw concurrent PutObject (target >= 0.8)`);
  else await verifyComparisons(rawPut, ajPut);
} finally {
  sdk.destroy();
  s3rver.kill('SIGTERM');
  await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
  await admin.end();
  rmSync(work, { recursive: true, force: true });
}

async function verifyComparisons(rawPut, ajPut) {
  const keys = await archivedKeys();
  const rawHead = await timed('raw sequential HEAD loop', async () => {
    for (const Key of keys) await sdk.send(new HeadObjectCommand({ Bucket: bucket, Key }));
  });
  const ajQuick = await timed('aj archive verify (quick)', () => aj(['archive', 'verify', '--concurrency', String(concurrency)]));
  const rawGet = await timed('raw concurrent GET (body read)', () => pool(keys, async (Key) => {
    const out = await sdk.send(new GetObjectCommand({ Bucket: bucket, Key }));
    for await (const _ of out.Body);
  }));
  const ajDeep = await timed('aj archive verify --deep', () => aj(['archive', 'verify', '--deep', '--concurrency', String(concurrency)]));

  console.log('\nratios (higher is better for aj):');
  console.log(`  put:          ${(rawPut / ajPut).toFixed(2)}x raw concurrent PutObject   (target >= 0.8)`);
  console.log(`  quick verify: ${(rawHead / ajQuick).toFixed(2)}x faster than sequential HEAD (target >= 5)`);
  console.log(`  deep verify:  ${(rawGet / ajDeep).toFixed(2)}x raw concurrent GET          (target >= 0.8)`);
}

async function archivedKeys() {
  const client = new pg.Client({ connectionString: env.DATABASE_URL });
  await client.connect();
  try {
    return (await client.query('SELECT object_key FROM archived_documents')).rows.map((r) => r.object_key);
  } finally {
    await client.end();
  }
}
