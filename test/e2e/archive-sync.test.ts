import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { dirname, join } from 'node:path';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDatabaseUrl } from '../../src/db/connection.js';
import { acquireJobLock } from '../../src/db/job-lock.js';
import { Db } from '../../src/db/pool.js';
import { aj, scratchDir } from '../helpers/cli.js';
import { type TestDatabase, createTestDatabase } from '../helpers/pg.js';
import { type S3Server, s3Env, startS3Server } from '../helpers/s3.js';

const ARCHIVE = 'aj-archive';
const APP_BUCKET = 'aj-test';
let s3: S3Server;
let db: TestDatabase;
let sdk: S3Client;
let env: Record<string, string>;
const source = scratchDir('archive-sync-src');
const pdf = (text: string, size = 3000) => Buffer.concat([Buffer.from(`%PDF-1.7\n% ${text}\n`), randomBytes(size), Buffer.from('\n%%EOF\n')]);
// Written an hour ago: settled, as the app's files are between two cron runs.
const HOUR_AGO = new Date(Date.now() - 3_600_000);

function write(path: string, content: Buffer, mtime = HOUR_AGO): Buffer {
  const full = join(source, path);
  mkdirSync(dirname(full), { recursive: true });
  writeFileSync(full, content);
  utimesSync(full, mtime, mtime);
  return content;
}

const sync = async (args: string[] = [], from = source, extraEnv: Record<string, string> = {}) => {
  const result = await aj(['archive', 'sync', '--from', from, '--json', ...args], { env: { ...env, ...extraEnv } });
  return { ...result, report: result.stdout ? JSON.parse(result.stdout) : undefined };
};
const versions = async (docId: string) =>
  (await db.query('SELECT version, object_key FROM archived_documents WHERE doc_id = $1 ORDER BY version', [docId])).map((r) => `${r.version} ${r.object_key}`);
const getArchived = async (type: string, docId: string) => {
  const out = join(scratchDir('archive-sync-get'), 'out.pdf');
  const get = await aj(['archive', 'get', type, docId, '-o', out], { env });
  expect(get.exitCode, get.stderr).toBe(0);
  return readFileSync(out);
};

beforeAll(async () => {
  [s3, db] = await Promise.all([startS3Server([ARCHIVE, APP_BUCKET]), createTestDatabase('archive_sync')]);
  sdk = new S3Client({ endpoint: s3.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } });
  env = { ...s3Env(s3.endpoint, ARCHIVE), ARCHIVE_BUCKET: `s3://${ARCHIVE}`, DATABASE_URL: db.url, AWS_EC2_METADATA_DISABLED: 'true' };
});

afterAll(async () => {
  sdk?.destroy();
  await Promise.all([s3?.stop(), db?.drop()]);
});

describe('aj archive sync from a directory', () => {
  const facture42 = pdf('facture FA-2026-0042');
  const facture43 = pdf('facture FA-2026-0043');
  const devis7 = pdf('devis DE-2026-0007');

  it('first run: archives every PDF of the layout by type and id, names a PDF outside it, ignores other files', async () => {
    write('facture/2026/03/FA-2026-0042/facture.pdf', facture42);
    write('facture/2026/03/FA-2026-0043/facture.pdf', facture43);
    write('devis/2026/02/DE-2026-0007/devis.pdf', devis7);
    write('facture/2026/03/FA-2026-0042/thumbnail.png', Buffer.from('png'));
    write('scans/devis-signe.pdf', pdf('scan'));

    const { exitCode, stderr, report } = await sync(['--settle', '0']);
    expect(exitCode, stderr).toBe(0);
    expect(report).toMatchObject({ listed: 5, read: 3, archived: 3, alreadyArchived: 0, failed: 0, unchanged: 0, outsideLayout: 1, ignored: 1, storage: `s3://${ARCHIVE}` });
    expect(report.files).toContainEqual({ path: 'scans/devis-signe.pdf', status: 'outside-layout', detail: 'does not match {type}/{year}/{month}/{docId}/{file}.pdf' });
    expect(stderr).toContain('scans/devis-signe.pdf: outside the layout, not archived');
    expect(await versions('FA-2026-0042')).toEqual(['1 facture/2026/03/FA-2026-0042/facture.pdf']);
    expect(await versions('DE-2026-0007')).toEqual(['1 devis/2026/02/DE-2026-0007/devis.pdf']);
    expect(await getArchived('facture', 'FA-2026-0042')).toEqual(facture42);
    // Recorded as a job, so that a failing run alerts and shows in aj status.
    expect(await db.query(`SELECT status, exit_code FROM job_runs WHERE job = 'archive-sync'`)).toEqual([{ status: 'succeeded', exit_code: 0 }]);
  });

  it('second run reads nothing: a file whose bytes changed behind the same size and mtime is not even noticed', async () => {
    // Proof that unchanged files are not read: same size, same mtime, other bytes. A run that read
    // the file would archive a version 2.
    const path = join(source, 'facture/2026/03/FA-2026-0043/facture.pdf');
    const { mtime } = statSync(path);
    writeFileSync(path, pdf('forged behind aj', facture43.length - pdf('', 0).length - 'forged behind aj'.length));
    expect(statSync(path).size).toBe(facture43.length);
    utimesSync(path, mtime, mtime);

    const { exitCode, stderr, report } = await sync(['--settle', '0']);
    expect(exitCode, stderr).toBe(0);
    expect(report).toMatchObject({ listed: 5, read: 0, unchanged: 3, archived: 0, outsideLayout: 1 });
    expect(await versions('FA-2026-0043')).toEqual(['1 facture/2026/03/FA-2026-0043/facture.pdf']);
    expect(await getArchived('facture', 'FA-2026-0043')).toEqual(facture43);
  });

  it('a changed file becomes version 2 beside version 1; two new files of one document become successive versions', async () => {
    const corrected = write('facture/2026/03/FA-2026-0042/facture.pdf', pdf('facture FA-2026-0042 corrigée'), new Date(HOUR_AGO.getTime() + 60_000));
    const sent = write('devis/2026/04/DE-2026-0008/devis.pdf', pdf('devis DE-2026-0008'), new Date(HOUR_AGO.getTime() + 1_000));
    const signed = write('devis/2026/04/DE-2026-0008/devis-signe.pdf', pdf('devis DE-2026-0008 signé'), new Date(HOUR_AGO.getTime() + 2_000));

    const { exitCode, stderr, report } = await sync(['--settle', '0']);
    expect(exitCode, stderr).toBe(0);
    expect(report).toMatchObject({ read: 3, archived: 3, unchanged: 2 });
    expect(await versions('FA-2026-0042')).toEqual(['1 facture/2026/03/FA-2026-0042/facture.pdf', '2 facture/2026/03/FA-2026-0042/v2/facture.pdf']);
    expect(await getArchived('facture', 'FA-2026-0042')).toEqual(corrected);
    expect(await versions('DE-2026-0008')).toEqual(['1 devis/2026/04/DE-2026-0008/devis.pdf', '2 devis/2026/04/DE-2026-0008/v2/devis-signe.pdf']);
    expect(await getArchived('devis', 'DE-2026-0008')).toEqual(signed);
    expect(sent).not.toEqual(signed);
  });

  it('a file touched without a change in content is read once, found archived, and not versioned', async () => {
    const path = join(source, 'devis/2026/02/DE-2026-0007/devis.pdf');
    utimesSync(path, new Date(HOUR_AGO.getTime() + 5_000), new Date(HOUR_AGO.getTime() + 5_000));
    const { report } = await sync(['--settle', '0']);
    expect(report).toMatchObject({ read: 1, archived: 0, alreadyArchived: 1 });
    expect(await versions('DE-2026-0007')).toHaveLength(1);
    expect((await sync(['--settle', '0'])).report).toMatchObject({ read: 0 });
  });

  it('leaves a file still being written for a later run, and --dry-run reads and writes nothing', async () => {
    write('facture/2026/05/FA-2026-0050/facture.pdf', pdf('facture FA-2026-0050'), new Date());
    const settling = await sync();
    expect(settling.exitCode, settling.stderr).toBe(0);
    expect(settling.report).toMatchObject({ read: 0, archived: 0, settling: 1 });

    const dry = await sync(['--settle', '0', '--dry-run']);
    expect(dry.exitCode, dry.stderr).toBe(0);
    expect(dry.report).toMatchObject({ dryRun: true, read: 0, archived: 0 });
    expect(dry.report.files).toContainEqual({ path: 'facture/2026/05/FA-2026-0050/facture.pdf', status: 'would-archive', type: 'facture', docId: 'FA-2026-0050', detail: 'new' });
    expect(await versions('FA-2026-0050')).toEqual([]);

    expect((await sync(['--settle', '0'])).report).toMatchObject({ read: 1, archived: 1 });
    expect(await versions('FA-2026-0050')).toEqual(['1 facture/2026/05/FA-2026-0050/facture.pdf']);
  });

  it('storage down: exit 1 naming the file, nothing remembered, so the next run archives it', async () => {
    const content = write('facture/2026/05/FA-2026-0051/facture.pdf', pdf('facture FA-2026-0051'));
    const down = await sync(['--settle', '0'], source, { S3_ENDPOINT: 'http://127.0.0.1:1' });
    expect(down.exitCode, down.stderr).toBe(1);
    expect(down.report).toMatchObject({ read: 1, archived: 0, failed: 1 });
    expect(down.stderr).toContain('facture/2026/05/FA-2026-0051/facture.pdf: ');
    expect(await db.query(`SELECT 1 FROM archive_sync_files WHERE path = 'facture/2026/05/FA-2026-0051/facture.pdf'`)).toEqual([]);

    const up = await sync(['--settle', '0']);
    expect(up.exitCode, up.stderr).toBe(0);
    expect(up.report).toMatchObject({ read: 1, archived: 1 });
    expect(await getArchived('facture', 'FA-2026-0051')).toEqual(content);
  });

  it('refuses bad flags before anything (exit 2), and exits 75 while another sync runs', async () => {
    expect((await sync([], join(source, 'no-such-dir'))).exitCode).toBe(2);
    const pattern = await sync(['--pattern', '{type}/{file}.pdf']);
    expect(pattern.exitCode).toBe(2);
    expect(pattern.stderr).toContain('needs {docId}');
    expect(pattern.stdout).toBe('');

    const holder = await Db.connect(parseDatabaseUrl(db.url), { schema: 'aj' });
    const lock = await acquireJobLock(holder, 'archive-sync');
    try {
      const held = await sync(['--settle', '0']);
      expect(held.exitCode).toBe(75);
      expect(held.stderr).toContain('archive-sync is already running');
    } finally {
      await lock.release();
      await holder.close();
    }
  });
});

/** A loopback proxy in front of s3rver that counts the GETs of objects (listings are GETs of the bucket). */
async function countingProxy(upstreamPort: number): Promise<{ endpoint: string; objectGets: string[]; stop(): Promise<void> }> {
  const objectGets: string[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(upstreamPort, '127.0.0.1');
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => undefined);
    }
    client.on('data', (chunk: Buffer) => {
      for (const [, path] of chunk.toString('latin1').matchAll(/^GET (\/[^?\s]+)[^\s]* HTTP/gm)) {
        if (path!.split('/').filter(Boolean).length > 1) objectGets.push(path!);
      }
      upstream.write(chunk);
    });
    upstream.pipe(client);
    client.on('end', () => upstream.end());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    objectGets,
    stop: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe('aj archive sync from an S3 bucket', () => {
  const from = `s3://${APP_BUCKET}/app/pdf`;
  const put = (key: string, body: Buffer) => sdk.send(new PutObjectCommand({ Bucket: APP_BUCKET, Key: `app/pdf/${key}`, Body: body }));

  it('archives new objects, then skips unchanged ones by ETag without a single GET, and versions a replaced one', async () => {
    const first = pdf('facture FA-2026-0100');
    await put('facture/2026/06/FA-2026-0100/facture.pdf', first);
    await put('devis/2026/06/DE-2026-0100/devis.pdf', pdf('devis DE-2026-0100'));
    await put('facture/2026/06/README.txt', Buffer.from('not a pdf'));

    const proxy = await countingProxy(s3.port);
    try {
      const viaProxy = { S3_ENDPOINT: proxy.endpoint };
      const run = await sync([], from, viaProxy);
      expect(run.exitCode, run.stderr).toBe(0);
      expect(run.report).toMatchObject({ source: from, listed: 3, read: 2, archived: 2, ignored: 1 });
      expect(proxy.objectGets.filter((p) => p.startsWith(`/${APP_BUCKET}/`))).toHaveLength(2);
      expect(await getArchived('facture', 'FA-2026-0100')).toEqual(first);

      proxy.objectGets.length = 0;
      const again = await sync([], from, viaProxy);
      expect(again.exitCode, again.stderr).toBe(0);
      expect(again.report).toMatchObject({ listed: 3, read: 0, unchanged: 2, archived: 0 });
      expect(proxy.objectGets).toEqual([]);

      const replaced = pdf('facture FA-2026-0100 avoir');
      await put('facture/2026/06/FA-2026-0100/facture.pdf', replaced);
      const changed = await sync([], from, viaProxy);
      expect(changed.report).toMatchObject({ read: 1, archived: 1, unchanged: 1 });
      expect(await versions('FA-2026-0100')).toEqual(['1 facture/2026/06/FA-2026-0100/facture.pdf', '2 facture/2026/06/FA-2026-0100/v2/facture.pdf']);
      expect(await getArchived('facture', 'FA-2026-0100')).toEqual(replaced);
    } finally {
      await proxy.stop();
    }
  });

  it('refuses to sync the archive into itself', async () => {
    const self = await sync([], `s3://${ARCHIVE}`);
    expect(self.exitCode).toBe(2);
    expect(self.stderr).toContain('overlaps the archive');
  });
});
