import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { aj, scratchDir } from '../helpers/cli.js';
import { type TestDatabase, createTestDatabase } from '../helpers/pg.js';
import { FaultProxy, type S3Server, s3Env, startS3Server } from '../helpers/s3.js';

const BUCKET = 'aj-archive';
let s3: S3Server;
let db: TestDatabase;
let sdk: S3Client;
let env: Record<string, string>;
const work = scratchDir('archive-put');

const pdf = (text: string) => Buffer.from(`%PDF-1.4\n% ${text}\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n`);
const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');
const envFor = (endpoint: string) => ({ ...s3Env(endpoint, BUCKET), ARCHIVE_BUCKET: `s3://${BUCKET}`, DATABASE_URL: db.url });

async function objectBytes(key: string): Promise<Buffer> {
  const out = await sdk.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
  return Buffer.from(await out.Body!.transformToByteArray());
}

async function objectExists(key: string): Promise<boolean> {
  return sdk.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key })).then(() => true, () => false);
}

async function storedCount(prefix: string): Promise<number> {
  return (await sdk.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: prefix }))).KeyCount ?? 0;
}

beforeAll(async () => {
  [s3, db] = await Promise.all([startS3Server([BUCKET]), createTestDatabase('archive_put')]);
  sdk = new S3Client({ endpoint: s3.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } });
  env = envFor(s3.endpoint);
});

afterAll(async () => {
  sdk?.destroy();
  await Promise.all([s3?.stop(), db?.drop()]);
});

describe('aj archive put', () => {
  it('archives a PDF, skips the same content, stores changed content as a new version', async () => {
    const file = join(work, 'Facture n°42.pdf');
    const v1 = pdf('first');
    writeFileSync(file, v1);
    const first = await aj(['archive', 'put', file, '--type', 'facture', '--doc-id', 'FA-2026-0042', '--date', '2026-03-31', '--json'], { env });
    expect(first.exitCode, first.stderr).toBe(0);
    const report = JSON.parse(first.stdout);
    expect(report).toMatchObject({ archived: 1, skipped: 0, failed: 0, storage: `s3://${BUCKET}` });
    expect(report.files[0]).toMatchObject({ status: 'archived', version: 1, key: 'facture/2026/03/FA-2026-0042/Facture_n_42.pdf', sha256: sha256(v1) });

    const again = await aj(['archive', 'put', file, '--type', 'facture', '--doc-id', 'FA-2026-0042', '--date', '2026-03-31', '--json'], { env });
    expect(again.exitCode, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout).files[0]).toMatchObject({ status: 'skipped', version: 1, detail: 'already archived as version 1' });

    const v2 = pdf('corrected');
    writeFileSync(file, v2);
    const changed = await aj(['archive', 'put', file, '--type', 'facture', '--doc-id', 'FA-2026-0042', '--date', '2026-04-02', '--json'], { env });
    expect(changed.exitCode, changed.stderr).toBe(0);
    expect(JSON.parse(changed.stdout).files[0]).toMatchObject({ status: 'archived', version: 2, key: 'facture/2026/04/FA-2026-0042/v2/Facture_n_42.pdf' });

    const rows = await db.query('SELECT version, object_key, filename, original_filename, size_bytes, md5, sha256, content_type, storage_url FROM archived_documents ORDER BY version');
    expect(rows).toHaveLength(2);
    expect(rows[0]).toMatchObject({ version: 1, original_filename: 'Facture n°42.pdf', filename: 'Facture_n_42.pdf', sha256: sha256(v1), content_type: 'application/pdf', storage_url: `s3://${BUCKET}` });
    expect(rows[0]!.md5).toBe(createHash('md5').update(v1).digest('hex'));
    expect(await objectBytes(rows[0]!.object_key)).toEqual(v1);
    expect(await objectBytes(rows[1]!.object_key)).toEqual(v2);

    const list = await aj(['archive', 'list', '--doc-id', 'FA-2026-0042', '--json'], { env });
    expect(JSON.parse(list.stdout).map((d: { version: number }) => d.version)).toEqual([2, 1]);

    const out = join(work, 'v1-copy.pdf');
    const get = await aj(['archive', 'get', 'facture', 'FA-2026-0042', '--doc-version', '1', '-o', out], { env });
    expect(get.exitCode, get.stderr).toBe(0);
    expect(readFileSync(out)).toEqual(v1);
    const latest = await aj(['archive', 'get', 'facture', 'FA-2026-0042'], { env, encoding: 'buffer', stripFinalNewline: false });
    expect(latest.exitCode).toBe(0);
    expect(Buffer.from(latest.stdout as unknown as Uint8Array)).toEqual(v2);

    // -o DIR: into the directory under the archived file name; again only with --force.
    const folder = mkdtempSync(join(work, 'out-'));
    const into = await aj(['archive', 'get', 'facture', 'FA-2026-0042', '-o', folder], { env });
    expect(into.exitCode, into.stderr).toBe(0);
    const written = join(folder, rows[1]!.filename);
    expect(readFileSync(written)).toEqual(v2);
    expect(into.stderr).toContain(`wrote ${written} (facture FA-2026-0042 version 2`);
    const twice = await aj(['archive', 'get', 'facture', 'FA-2026-0042', '-o', folder], { env });
    expect(twice.exitCode).toBe(2);
    expect(twice.stderr.trim()).toBe(`aj: ${written} already exists (pass --force to replace it)`);
    const forced = await aj(['archive', 'get', 'facture', 'FA-2026-0042', '-o', folder, '--force'], { env });
    expect(forced.exitCode, forced.stderr).toBe(0);
  });

  it('refuses ids and types that escape the layout, and non-PDFs, before uploading anything', async () => {
    const file = join(work, 'ok.pdf');
    writeFileSync(file, pdf('ok'));
    const text = join(work, 'notes.pdf');
    writeFileSync(text, 'not really a pdf');
    const before = (await db.query('SELECT count(*)::int AS n FROM archived_documents'))[0]!.n;
    for (const args of [
      [file, '--type', 'facture', '--doc-id', '../../etc'],
      [file, '--type', 'facture', '--doc-id', 'a/b'],
      [file, '--type', 'facture', '--doc-id', ''],
      [file, '--type', '../facture', '--doc-id', 'FA-1'],
      [text, '--type', 'facture', '--doc-id', 'FA-1'],
      [file, text, '--type', 'facture', '--doc-id-from', 'stem'],
      // No id given: never guessed from the file name (it would stick in a never-overwrite archive).
      [file, '--type', 'facture'],
      // A typo never starts a new document type.
      [file, '--type', 'factur', '--doc-id', 'FA-1'],
    ]) {
      const result = await aj(['archive', 'put', ...args], { env });
      expect(result.exitCode, `${args.join(' ')}: ${result.stderr}`).toBe(2);
      expect(result.stdout).toBe('');
      expect(result.stderr).toMatch(/aj: (refused|invalid document type|which document is it|unknown document type)/);
    }
    const typo = await aj(['archive', 'put', file, '--type', 'factur', '--doc-id', 'FA-1'], { env });
    expect(typo.stderr).toBe('aj: unknown document type "factur": did you mean facture? (known types: devis, facture, avoir, bon-de-commande, bon-de-livraison, contrat, plan; a new one goes into ARCHIVE_DOC_TYPES first)');
    const noId = await aj(['archive', 'put', file, '--type', 'facture'], { env });
    expect(noId.stderr).toContain('pass --doc-id FA-2026-0042 for one file, or --doc-id-from stem|dir|regex:<pattern>');
    expect((await db.query('SELECT count(*)::int AS n FROM archived_documents'))[0]!.n).toBe(before);
    const anyType = await aj(['archive', 'put', text, '--type', 'contrat', '--doc-id', 'N-1', '--any-type', '--json'], { env });
    expect(anyType.exitCode, anyType.stderr).toBe(0);
    expect(JSON.parse(anyType.stdout).files[0]).toMatchObject({ status: 'archived' });
  });

  it('archives a directory of 200 PDFs with bounded concurrency, ignoring non-PDFs', async () => {
    const dir = join(work, 'devis');
    mkdirSync(join(dir, 'sub'), { recursive: true });
    for (let i = 1; i <= 200; i += 1) writeFileSync(join(dir, i % 2 ? '' : 'sub', `DE-2026-${String(i).padStart(4, '0')}.pdf`), pdf(`devis ${i}`));
    writeFileSync(join(dir, 'README.txt'), 'not a pdf');
    const result = await aj(['archive', 'put', dir, '--doc-id-from', 'stem', '--type', 'devis', '--concurrency', '8', '--json'], { env });
    expect(result.exitCode, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ archived: 200, skipped: 0, failed: 0, ignored: 1 });
    const rows = await db.query(`SELECT object_key FROM archived_documents WHERE doc_type = 'devis'`);
    expect(rows).toHaveLength(200);
    const again = await aj(['archive', 'put', dir, '--doc-id-from', 'stem', '--type', 'devis', '--json'], { env });
    expect(JSON.parse(again.stdout)).toMatchObject({ archived: 0, skipped: 200, failed: 0 });
  });

  it('adopts its own upload left by a run killed before its commit, redoes a cut one, never replaces an object it did not record', async () => {
    const dir = join(work, 'adopt');
    mkdirSync(dir);
    for (let i = 1; i <= 10; i += 1) writeFileSync(join(dir, `AD-${i}.pdf`), pdf(`devis adopt ${i}`));
    // A killed run stored AD-3 whole (with aj's SHA-256 metadata) but never recorded it;
    // something else put an object where AD-5's first version goes, and one beside the batch's keys.
    const leftover = readFileSync(join(dir, 'AD-3.pdf'));
    await sdk.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'devis/2026/06/AD-3/AD-3.pdf', Body: leftover, Metadata: { 'aj-sha256': sha256(leftover) } }));
    // A server that kept the part it received when the connection dropped: AD-7 cut short.
    const cut = readFileSync(join(dir, 'AD-7.pdf'));
    await sdk.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'devis/2026/06/AD-7/AD-7.pdf', Body: cut.subarray(0, 20), Metadata: { 'aj-sha256': sha256(cut) } }));
    // Or kept an empty object, without metadata, when it dropped before the body (AD-8).
    await sdk.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'devis/2026/06/AD-8/AD-8.pdf', Body: Buffer.alloc(0) }));
    const foreign = Buffer.from('%PDF-1.4 not the archive\'s');
    await sdk.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'devis/2026/06/AD-5/AD-5.pdf', Body: foreign }));
    await sdk.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'devis/2026/06/AD-4-old/scan.pdf', Body: foreign }));

    const result = await aj(['archive', 'put', dir, '--doc-id-from', 'stem', '--type', 'devis', '--date', '2026-06-15', '--json'], { env });
    expect(result.exitCode).toBe(1);
    const report = JSON.parse(result.stdout);
    expect(report).toMatchObject({ archived: 9, failed: 1 });
    const byDoc = new Map(report.files.map((f: { docId: string }) => [f.docId, f]));
    expect(byDoc.get('AD-3')).toMatchObject({ status: 'archived', version: 1, key: 'devis/2026/06/AD-3/AD-3.pdf' });
    expect(byDoc.get('AD-5')).toMatchObject({ status: 'failed' });
    expect((byDoc.get('AD-5') as { detail: string }).detail).toMatch(/devis\/2026\/06\/AD-5\/AD-5.pdf holds an object that is not in the archive/);
    expect(result.stderr).toMatch(/AD-5\.pdf: .*never overwritten/);
    expect(await objectBytes('devis/2026/06/AD-5/AD-5.pdf')).toEqual(foreign);
    expect(await objectBytes('devis/2026/06/AD-4-old/scan.pdf')).toEqual(foreign);
    const rows = await db.query(`SELECT doc_id FROM archived_documents WHERE doc_type = 'devis' AND doc_id LIKE 'AD-%' ORDER BY doc_id`);
    expect(rows.map((r) => r.doc_id)).not.toContain('AD-5');
    expect(rows).toHaveLength(9);
    for (let i = 1; i <= 10; i += 1) {
      if (i !== 5) expect(await objectBytes(`devis/2026/06/AD-${i}/AD-${i}.pdf`)).toEqual(readFileSync(join(dir, `AD-${i}.pdf`)));
    }
  });

  it('two runs of the same directory at once archive each document exactly once', async () => {
    const dir = join(work, 'twice');
    mkdirSync(dir);
    for (let i = 1; i <= 60; i += 1) writeFileSync(join(dir, `TW-${i}.pdf`), pdf(`facture twice ${i}`));
    const args = ['archive', 'put', dir, '--doc-id-from', 'stem', '--type', 'facture', '--date', '2026-07-01', '--json'];
    const [a, b] = await Promise.all([aj(args, { env }), aj(args, { env })]);
    expect(a.exitCode, a.stderr).toBe(0);
    expect(b.exitCode, b.stderr).toBe(0);
    const [ra, rb] = [JSON.parse(a.stdout), JSON.parse(b.stdout)];
    expect(ra.archived + rb.archived).toBe(60);
    expect(ra.skipped + rb.skipped).toBe(60);
    const rows = await db.query(`SELECT doc_id, version FROM archived_documents WHERE doc_id LIKE 'TW-%'`);
    expect(rows).toHaveLength(60);
    expect(rows.every((r) => r.version === 1)).toBe(true);
    expect(await storedCount('facture/2026/07/')).toBe(60);
  });

  it('streams a PDF too large to hold in memory, and gets it back byte for byte', async () => {
    const file = join(work, 'plan-chantier.pdf');
    const big = Buffer.concat([pdf('plan du chantier'), Buffer.alloc(3 * 1024 * 1024, 7)]);
    writeFileSync(file, big);
    const put = await aj(['archive', 'put', file, '--type', 'plan', '--doc-id', 'CH-2026-031', '--json'], { env });
    expect(put.exitCode, put.stderr).toBe(0);
    expect(JSON.parse(put.stdout).files[0]).toMatchObject({ status: 'archived', size: big.length, sha256: sha256(big) });
    const out = join(work, 'plan-copy.pdf');
    const get = await aj(['archive', 'get', 'plan', 'CH-2026-031', '-o', out], { env });
    expect(get.exitCode, get.stderr).toBe(0);
    expect(readFileSync(out).equals(big)).toBe(true);
  });

  it('after a SIGKILL mid-run, the same command archives every document once, adopting what was stored', async () => {
    const dir = join(work, 'killed');
    mkdirSync(dir);
    for (let i = 1; i <= 600; i += 1) writeFileSync(join(dir, `KL-${i}.pdf`), pdf(`facture killed ${i}`));
    const args = ['archive', 'put', dir, '--doc-id-from', 'stem', '--type', 'facture', '--date', '2026-08-20'];
    const victim = aj(args, { env });
    while (await storedCount('facture/2026/08/KL-') < 300) await new Promise((r) => setTimeout(r, 10));
    victim.kill('SIGKILL');
    await victim;
    const again = await aj([...args, '--json'], { env });
    expect(again.exitCode, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ failed: 0 });
    const rows = await db.query(`SELECT count(*)::int AS n, count(DISTINCT doc_id)::int AS docs, max(version) AS v FROM archived_documents WHERE doc_id LIKE 'KL-%'`);
    expect(rows[0]).toMatchObject({ n: 600, docs: 600, v: 1 });
    expect(await storedCount('facture/2026/08/KL-')).toBe(600);
  });

  it('when storage goes down mid-batch, names the failed files and leaves no row without its object', async () => {
    const proxy = await new FaultProxy(s3.port).start();
    const dir = join(work, 'factures-batch');
    mkdirSync(dir);
    for (let i = 1; i <= 40; i += 1) writeFileSync(join(dir, `FB-${i}.pdf`), pdf(`batch ${i}`.repeat(200)));
    const run = aj(['archive', 'put', dir, '--doc-id-from', 'stem', '--type', 'facture', '--concurrency', '2', '--date', '2026-05-10'], { env: envFor(proxy.endpoint) });
    // Storage dies once a few files are stored.
    while (await storedCount('facture/2026/05/FB-') < 3) await new Promise((r) => setTimeout(r, 5));
    await proxy.stop();
    const result = await run;
    expect(result.exitCode, result.stderr).toBe(1);
    const rows = await db.query(`SELECT doc_id, object_key FROM archived_documents WHERE doc_id LIKE 'FB-%'`);
    expect(rows.length).toBeGreaterThanOrEqual(3);
    expect(rows.length).toBeLessThan(40);
    for (const row of rows) expect(await objectExists(row.object_key), row.object_key).toBe(true);
    const archived = new Set(rows.map((r) => r.doc_id));
    for (let i = 1; i <= 40; i += 1) {
      if (!archived.has(`FB-${i}`)) expect(result.stderr).toContain(`FB-${i}.pdf: `);
    }
    expect(result.stderr).toMatch(/aj: \d+ of 40 file\(s\) failed/);

    // Storage back: the same command completes the batch, skipping what is already there.
    const retry = await aj(['archive', 'put', dir, '--doc-id-from', 'stem', '--type', 'facture', '--date', '2026-05-10', '--json'], { env });
    expect(retry.exitCode, retry.stderr).toBe(0);
    expect(JSON.parse(retry.stdout)).toMatchObject({ skipped: rows.length, archived: 40 - rows.length, failed: 0 });
  });

  it('never leaves a partial output file when get fails', async () => {
    const out = join(work, 'missing.pdf');
    const result = await aj(['archive', 'get', 'facture', 'NOPE-1', '-o', out], { env });
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toContain('no archived facture NOPE-1');
    expect(existsSync(out)).toBe(false);
  });
});
