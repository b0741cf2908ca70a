import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DeleteObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDatabaseUrl } from '../../src/db/connection.js';
import { acquireJobLock } from '../../src/db/job-lock.js';
import { Db } from '../../src/db/pool.js';
import { aj, scratchDir } from '../helpers/cli.js';
import { type TestDatabase, createTestDatabase } from '../helpers/pg.js';
import { type S3Server, s3Env, startS3Server } from '../helpers/s3.js';

const BUCKET = 'aj-archive';
let s3: S3Server;
let db: TestDatabase;
let sdk: S3Client;
let env: Record<string, string>;
const work = scratchDir('archive-verify');
const pdf = (text: string) => Buffer.from(`%PDF-1.4\n% ${text}\n%%EOF\n`);

/** Where s3rver keeps an object's bytes: changing them there is corruption behind aj's back. */
const s3rverFile = (key: string) => {
  const parts = key.split('/');
  const name = parts.pop()!;
  return join(s3.directory, BUCKET, ...parts, `${name}._S3rver_object`);
};

const keyOf = async (docId: string) => (await db.query('SELECT object_key FROM archived_documents WHERE doc_id = $1', [docId]))[0]!.object_key as string;

beforeAll(async () => {
  [s3, db] = await Promise.all([startS3Server([BUCKET]), createTestDatabase('archive_verify')]);
  sdk = new S3Client({ endpoint: s3.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } });
  env = { ...s3Env(s3.endpoint, BUCKET), ARCHIVE_BUCKET: `s3://${BUCKET}`, DATABASE_URL: db.url };
  for (let i = 1; i <= 6; i += 1) writeFileSync(join(work, `FA-${i}.pdf`), pdf(`facture ${i}`));
  writeFileSync(join(work, 'DE-1.pdf'), pdf('devis 1'));
  const factures = await aj(['archive', 'put', ...[1, 2, 3, 4, 5, 6].map((i) => join(work, `FA-${i}.pdf`)), '--doc-id-from', 'stem', '--type', 'facture', '--date', '2026-02-15'], { env });
  const devis = await aj(['archive', 'put', join(work, 'DE-1.pdf'), '--type', 'devis', '--doc-id', 'DE-1', '--date', '2026-01-05'], { env });
  if (factures.exitCode !== 0 || devis.exitCode !== 0) throw new Error(`setup failed: ${factures.stderr}${devis.stderr}`);
});

afterAll(async () => {
  sdk?.destroy();
  await Promise.all([s3?.stop(), db?.drop()]);
});

describe('aj archive verify', () => {
  it('reports an intact archive with exit 0 and records the result per row', async () => {
    const result = await aj(['archive', 'verify', '--orphans', '--json'], { env });
    expect(result.exitCode, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ mode: 'quick', checked: 7, intact: 7, findings: [] });
    const deep = await aj(['archive', 'verify', '--deep', '--json'], { env });
    expect(deep.exitCode, deep.stderr).toBe(0);
    expect(JSON.parse(deep.stdout)).toMatchObject({ mode: 'deep', checked: 7, intact: 7 });
    const rows = await db.query('SELECT last_verify_result, last_verified_at FROM archived_documents');
    expect(rows.every((r) => r.last_verify_result === 'ok' && r.last_verified_at)).toBe(true);
  });

  it('finds deleted, replaced and bit-rotted objects and orphans; get refuses the corrupted one', async () => {
    const [deleted, replaced, rotted] = [await keyOf('FA-1'), await keyOf('FA-2'), await keyOf('FA-3')];
    await sdk.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: deleted }));
    await sdk.send(new PutObjectCommand({ Bucket: BUCKET, Key: replaced, Body: pdf('facture X') }));
    const bytes = readFileSync(s3rverFile(rotted));
    bytes[bytes.length - 3] ^= 0x01;
    writeFileSync(s3rverFile(rotted), bytes);
    await sdk.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'facture/2026/02/FA-99/stray.pdf', Body: pdf('stray') }));

    // Same size: the ETag (the MD5 of a single-part upload) gives the forgery away.
    const quick = await aj(['archive', 'verify', '--orphans', '--json'], { env });
    expect(quick.exitCode, quick.stderr).toBe(4);
    const report = JSON.parse(quick.stdout);
    const problems = Object.fromEntries(report.findings.map((f: { key: string; problem: string }) => [f.key, f.problem]));
    expect(problems).toEqual({ [deleted]: 'missing', [replaced]: 'checksum_mismatch', 'facture/2026/02/FA-99/stray.pdf': 'orphan' });
    expect(quick.stderr).toContain('the archive has 3 problem(s)');

    // Same size, same cached ETag: only downloading and rehashing sees the rotted bytes.
    const deep = await aj(['archive', 'verify', '--deep', '--type', 'facture'], { env });
    expect(deep.exitCode, deep.stderr).toBe(4);
    const lines = deep.stdout.trim().split('\n');
    expect(lines[0]).toBe('problem\ttype\tdoc id\tversion\tkey\tdetail');
    expect(lines.slice(1).map((l) => l.split('\t').slice(0, 3).join(' ')).sort()).toEqual(['checksum_mismatch facture FA-2', 'checksum_mismatch facture FA-3', 'missing facture FA-1']);
    const recorded = await db.query(`SELECT doc_id, last_verify_result FROM archived_documents WHERE doc_type = 'facture' ORDER BY doc_id`);
    expect(recorded.map((r) => `${r.doc_id}=${r.last_verify_result}`)).toEqual(['FA-1=missing', 'FA-2=checksum_mismatch', 'FA-3=checksum_mismatch', 'FA-4=ok', 'FA-5=ok', 'FA-6=ok']);

    const out = join(work, 'FA-3-copy.pdf');
    const get = await aj(['archive', 'get', 'facture', 'FA-3', '-o', out], { env });
    expect(get.exitCode).toBe(4);
    expect(get.stderr).toContain('no file was written');
    expect(existsSync(out)).toBe(false);
    const good = await aj(['archive', 'get', 'facture', 'FA-4', '-o', out], { env });
    expect(good.exitCode, good.stderr).toBe(0);
    expect(readFileSync(out)).toEqual(pdf('facture 4'));
  });

  it('filters by type and date: the intact devis passes alone', async () => {
    const result = await aj(['archive', 'verify', '--type', 'devis', '--json'], { env });
    expect(result.exitCode, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ checked: 1, intact: 1 });
    const since = await aj(['archive', 'verify', '--since', '2999-01-01', '--json'], { env });
    expect(JSON.parse(since.stdout)).toMatchObject({ checked: 0 });
    const bad = await aj(['archive', 'verify', '--since', '2026-02-30'], { env });
    expect(bad.exitCode).toBe(2);
  });

  it('exits 75 while another verify holds the archive-verify lock', async () => {
    const holder = await Db.connect(parseDatabaseUrl(db.url), { schema: 'aj' });
    const lock = await acquireJobLock(holder, 'archive-verify');
    try {
      const result = await aj(['archive', 'verify'], { env });
      expect(result.exitCode).toBe(75);
      expect(result.stderr).toContain('archive-verify is already running');
    } finally {
      await lock.release();
      await holder.close();
    }
  });
});
