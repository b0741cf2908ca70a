import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DeleteObjectCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { aj, scratchDir } from '../../helpers/cli.js';
import { type TestDatabase, createTestDatabase, dropDatabase, urlFor } from '../../helpers/pg.js';
import { pgBinDirWith } from '../../helpers/pg-wrappers.js';
import { FaultProxy, type S3Server, s3Env, startS3Server } from '../../helpers/s3.js';
import { connectTo, contentChecksums, seedBusinessData } from './fixture.js';

let s3: S3Server;
let source: TestDatabase;
let client: S3Client;
const scratch: string[] = [];

beforeAll(async () => {
  [s3, source] = await Promise.all([startS3Server(), createTestDatabase('backup_src')]);
  await seedBusinessData(source);
  const migrate = await aj(['db', 'migrate'], { env: { DATABASE_URL: source.url } });
  expect(migrate.exitCode, migrate.stderr).toBe(0);
  client = new S3Client({ endpoint: s3.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } });
});

afterAll(async () => {
  client?.destroy();
  await Promise.all(scratch.map((name) => dropDatabase(name)));
  await source?.drop();
  await s3?.stop();
});

/** Prisma-style URL, as the web app writes it: libpq must never see these parameters. */
const prismaUrl = () => `${source.url}?schema=public&connection_limit=5`;

function envFor(prefix: string, extra: Record<string, string> = {}, endpoint = s3.endpoint) {
  return { DATABASE_URL: prismaUrl(), ...s3Env(endpoint, 'aj-backups', prefix), ...extra };
}

async function objectsUnder(prefix: string): Promise<string[]> {
  const out = await client.send(new ListObjectsV2Command({ Bucket: 'aj-backups', Prefix: `${prefix}/` }));
  return (out.Contents ?? []).map((o) => o.Key!.slice(prefix.length + 1)).sort();
}

function scratchDb(label: string): { name: string; url: string } {
  const name = `aj_drill_${label}_${Math.random().toString(16).slice(2, 8)}`;
  scratch.push(name);
  return { name, url: urlFor(name) };
}

async function historyFor(prefix: string) {
  return source.query<{ id: number; status: string; error: string | null; object_key: string | null; verify_ok: boolean | null }>(
    'SELECT id, status, error, object_key, verify_ok FROM backup_runs WHERE storage_url = $1 ORDER BY id',
    [`s3://aj-backups/${prefix}`],
  );
}

describe('aj backup against a real S3 server', () => {
  it('round-trips a database through S3: backup, verify, restore with --verify, same content', async () => {
    const env = envFor('roundtrip');
    const run = await aj(['backup', 'run', '--json'], { env });
    expect(run.stderr).not.toMatch(/NodeVersionSupportWarning/);
    expect(run.exitCode, run.stderr).toBe(0);
    const record = JSON.parse(run.stdout);
    expect(record).toMatchObject({ status: 'succeeded', databaseName: source.name });
    expect(record.objectKey).toMatch(new RegExp(`^${source.name}/\\d{4}/\\d{2}/\\d{2}/${source.name}-\\d{8}T\\d{6}\\.\\d{3}Z\\.dump$`));
    expect(record.rowCounts['public.journal']).toBe(20_000);
    expect(await objectsUnder('roundtrip')).toEqual([record.objectKey, record.globalsKey, record.manifestKey].sort());

    const manifest = JSON.parse(await (await client.send(new GetObjectCommand({ Bucket: 'aj-backups', Key: `roundtrip/${record.manifestKey}` }))).Body!.transformToString());
    expect(manifest).toMatchObject({ sha256: record.sha256, size: record.sizeBytes, database: source.name, rowCounts: record.rowCounts });

    const verify = await aj(['backup', 'verify', 'latest', '--json'], { env });
    expect(verify.exitCode, verify.stderr).toBe(0);
    expect(JSON.parse(verify.stdout)[0]).toMatchObject({ id: record.id, ok: true });

    const target = scratchDb('roundtrip');
    const restore = await aj(['backup', 'restore', 'latest', '--target-url', target.url, '--create', '--verify', '--yes', '--json'], { env });
    expect(restore.exitCode, restore.stderr).toBe(0);
    expect(JSON.parse(restore.stdout)).toMatchObject({ ok: true, backupId: record.id, created: true, differences: [] });

    const restored = await connectTo(target.url);
    try {
      expect(await contentChecksums(restored)).toEqual(await contentChecksums(source));
    } finally {
      await restored.end();
    }
  });

  it('restores from storage alone when the history database is lost (latest-in-storage, or a key)', async () => {
    const env = { ...envFor('roundtrip'), DATABASE_URL: 'postgresql://postgres@127.0.0.1:1/gone' };
    const target = scratchDb('disaster');
    // DATABASE_URL names a database that has no backups: --database names the one to restore.
    const restore = await aj(['backup', 'restore', 'latest-in-storage', '--database', source.name, '--target-url', target.url, '--create', '--verify', '--yes', '--json'], { env });
    expect(restore.exitCode, restore.stderr).toBe(0);
    expect(restore.stderr).toMatch(new RegExp(`latest-in-storage: the newest backup of database ${source.name} is ${source.name}/`));
    const result = JSON.parse(restore.stdout);
    expect(result).toMatchObject({ ok: true, created: true, differences: [] });
    expect(result.tablesChecked).toBeGreaterThan(5);
    // Over a database that has the dump's objects: without --clean, one line saying what to do.
    const occupied = await aj(['backup', 'restore', result.key, '--target-url', target.url, '--yes'], { env });
    expect(occupied.exitCode).toBe(1);
    expect(occupied.stderr.trim()).toMatch(new RegExp(`^aj: database ${target.name} already holds objects of this backup \\(.*already exists.*\\) \\(restore into a new database \\(--create and a new name in --target-url\\), or add --clean to drop and replace them\\)$`));
    const byKey = await aj(['backup', 'restore', result.key, '--target-url', target.url, '--clean', '--yes'], { env });
    expect(byKey.exitCode, byKey.stderr).toBe(0);
    // Restored by key, with no history row: the key is named, not a backup "0".
    expect(byKey.stdout).toMatch(new RegExp(`^restored ${result.key.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} into ${target.name} in `));
    const bogus = await aj(['backup', 'restore', 'x/y.txt', '--target-url', target.url, '--yes'], { env });
    expect(bogus.exitCode, bogus.stderr).toBe(2);
  });

  it('lists history newest first, as TSV in a pipe and as JSON', async () => {
    const env = envFor('roundtrip');
    const list = await aj(['backup', 'list', '--json'], { env });
    expect(list.exitCode, list.stderr).toBe(0);
    expect(JSON.parse(list.stdout).backups[0]).toMatchObject({ status: 'succeeded' });
    const tsv = await aj(['backup', 'list', '--status', 'succeeded'], { env });
    expect(tsv.stdout.split('\n')[0]).toBe('id\tkind\tstarted\tstatus\tsize\tduration\tsha256\tkey');
    const bad = await aj(['backup', 'list', '--status', 'nope'], { env });
    expect(bad.exitCode, bad.stderr).toBe(2);
  });

  it('fails cleanly when storage dies mid-upload: a failed row, exit 1, nothing left once the next run has run', async () => {
    const proxy = await new FaultProxy(s3.port).start();
    try {
      proxy.mode = { kind: 'cut-request', afterBytes: 64 * 1024 };
      const run = await aj(['backup', 'run'], { env: envFor('cut', {}, proxy.endpoint) });
      expect(run.exitCode, run.stderr).toBe(1);
      expect(run.stdout).toBe('');
      expect(run.stderr.trim().split('\n').at(-1)).toMatch(/^aj: cannot upload .*\(check/);
    } finally {
      await proxy.stop();
    }
    // Real S3 stores nothing of a cut PUT; s3rver may keep the part it got, after aj has looked.
    // What it kept cannot be proven against the failed run: the next run removes it.
    const kept = await objectsUnder('cut');
    expect(kept.length).toBeLessThanOrEqual(1);
    expect((await historyFor('cut')).map((r) => r.status)).toEqual(['failed']);
    const next = await aj(['backup', 'run', '--json'], { env: envFor('cut') });
    expect(next.exitCode, next.stderr).toBe(0);
    const record = JSON.parse(next.stdout);
    expect(record.cleanup.removed).toEqual(kept);
    expect(await objectsUnder('cut')).toEqual([record.objectKey, record.globalsKey, record.manifestKey].sort());
  });

  it('fails cleanly when pg_dump fails after writing part of a dump', async () => {
    const bin = pgBinDirWith({ pg_dump: `"$REAL" "$@" | head -c 20000\necho "pg_dump: error: injected failure" >&2\nexit 1` });
    const run = await aj(['backup', 'run'], { env: envFor('dumpfail', { PG_BIN_DIR: bin }) });
    expect(run.exitCode, run.stderr).toBe(1);
    expect(run.stderr).toMatch(/pg_dump failed: injected failure/);
    expect(await objectsUnder('dumpfail')).toEqual([]);
    expect((await historyFor('dumpfail')).map((r) => [r.status, r.error])).toEqual([['failed', expect.stringMatching(/injected failure/)]]);
  });

  it('never shows the password to child processes: passfile 0600, nothing in argv', async () => {
    const log = join(scratchDir('argv'), 'argv.log');
    const bin = pgBinDirWith({ pg_dump: `echo "ARGV $*" >> ${log}\necho "PGPASSWORD=\${PGPASSWORD:-unset} MODE=$(stat -c %a "$PGPASSFILE")" >> ${log}\nexec "$REAL" "$@"` });
    const url = new URL(source.url);
    url.username = 'postgres';
    url.password = 'S3cr3t-p@ss';
    const run = await aj(['backup', 'run'], { env: { ...envFor('argv', { PG_BIN_DIR: bin }), DATABASE_URL: `${url}?schema=public&connection_limit=5` } });
    expect(run.exitCode, run.stderr).toBe(0);
    const text = readFileSync(log, 'utf8');
    expect(text).toMatch(/ARGV --format=custom/);
    expect(text).not.toContain('S3cr3t');
    expect(text).not.toContain('connection_limit');
    expect(text).toContain('PGPASSWORD=unset MODE=600');
    expect(run.stdout + run.stderr).not.toContain('S3cr3t');
  });

  it('refuses to restore over the production database without --force', async () => {
    const env = envFor('roundtrip');
    const noTarget = await aj(['backup', 'restore', 'latest'], { env });
    expect(noTarget.exitCode, noTarget.stderr).toBe(2);
    expect(noTarget.stderr).toMatch(/--target-url/);
    const same = await aj(['backup', 'restore', 'latest', '--target-url', source.url], { env });
    expect(same.exitCode, same.stderr).toBe(2);
    const unattended = await aj(['backup', 'restore', 'latest', '--force'], { env });
    expect(unattended.exitCode, unattended.stderr).toBe(2);
    expect(unattended.stderr).toMatch(/--yes/);
  });

  it('detects a byte flipped in the stored object: verify and restore exit 4 and touch nothing', async () => {
    const env = envFor('flip');
    const run = await aj(['backup', 'run', '--json'], { env });
    expect(run.exitCode, run.stderr).toBe(0);
    const record = JSON.parse(run.stdout);
    const key = `flip/${record.objectKey}`;
    const original = Buffer.from(await (await client.send(new GetObjectCommand({ Bucket: 'aj-backups', Key: key }))).Body!.transformToByteArray());
    original[Math.floor(original.length / 2)] ^= 0x01;
    await client.send(new PutObjectCommand({ Bucket: 'aj-backups', Key: key, Body: original }));

    const verify = await aj(['backup', 'verify', String(record.id)], { env });
    expect(verify.exitCode, verify.stderr).toBe(4);
    expect((await historyFor('flip'))[0]).toMatchObject({ verify_ok: false });

    const target = scratchDb('flip');
    const restore = await aj(['backup', 'restore', String(record.id), '--target-url', target.url, '--create', '--yes'], { env });
    expect(restore.exitCode, restore.stderr).toBe(4);
    expect(restore.stderr).toMatch(/damaged/);
    const exists = await source.query('SELECT 1 FROM pg_database WHERE datname = $1', [target.name]);
    expect(exists).toEqual([]);
  });

  it('reports a dump deleted behind its back as a verification finding (exit 4), not a crash', async () => {
    const env = envFor('missing');
    const run = await aj(['backup', 'run', '--json'], { env });
    expect(run.exitCode, run.stderr).toBe(0);
    const record = JSON.parse(run.stdout);
    await client.send(new DeleteObjectCommand({ Bucket: 'aj-backups', Key: `missing/${record.objectKey}` }));
    const verify = await aj(['backup', 'verify', String(record.id), '--json'], { env });
    expect(verify.exitCode, verify.stderr).toBe(4);
    expect(JSON.parse(verify.stdout)[0]).toMatchObject({ id: record.id, ok: false, error: expect.stringMatching(/object not found/) });
    expect((await historyFor('missing'))[0]).toMatchObject({ verify_ok: false });
  });

  it('lets only one of two concurrent runs proceed: the other exits 75', async () => {
    const bin = pgBinDirWith({ pg_dump: 'sleep 2\nexec "$REAL" "$@"' });
    const env = envFor('concurrent', { PG_BIN_DIR: bin });
    const [a, b] = await Promise.all([aj(['backup', 'run'], { env }), aj(['backup', 'run'], { env })]);
    expect([a.exitCode, b.exitCode].sort()).toEqual([0, 75]);
    expect([a, b].find((r) => r.exitCode === 75)!.stderr).toMatch(/backup is already running \(pid \d+ on /);
    expect((await historyFor('concurrent')).map((r) => r.status)).toEqual(['succeeded']);
  });

  it('recovers after aj is SIGKILLed mid-dump: the stale run is closed, the next one succeeds', async () => {
    const slow = pgBinDirWith({ pg_dump: 'exec sleep 30' });
    const env = envFor('killed', { PG_BIN_DIR: slow });
    const victim = aj(['backup', 'run'], { env });
    for (let i = 0; i < 100 && (await historyFor('killed')).length === 0; i += 1) await new Promise((r) => setTimeout(r, 100));
    victim.kill('SIGKILL');
    await victim;
    expect((await historyFor('killed')).map((r) => r.status)).toEqual(['running']);
    const good = await aj(['backup', 'run', '--json'], { env: envFor('killed') });
    expect(good.exitCode, good.stderr).toBe(0);
    // Said once, not once per history table.
    expect(good.stderr.match(/had been interrupted/g)).toEqual(['had been interrupted']);
    expect(good.stderr).toMatch(/1 earlier backup run\(s\) had been interrupted; recorded as such/);
    const rows = await historyFor('killed');
    expect(rows.map((r) => [r.status, r.error])).toEqual([['failed', 'interrupted'], ['succeeded', null]]);
    expect(await objectsUnder('killed')).toHaveLength(3);
  });

  it('stops cleanly on SIGTERM: exit 130, the run recorded as interrupted, no object', async () => {
    const slow = pgBinDirWith({ pg_dump: '"$REAL" "$@" | head -c 30000\nexec sleep 20' });
    const run = aj(['backup', 'run'], { env: envFor('sigterm', { PG_BIN_DIR: slow }) });
    for (let i = 0; i < 100 && (await historyFor('sigterm')).length === 0; i += 1) await new Promise((r) => setTimeout(r, 100));
    await new Promise((r) => setTimeout(r, 500));
    run.kill('SIGTERM');
    const result = await run;
    expect(result.exitCode, result.stderr).toBe(130);
    expect(result.stderr).toMatch(/interrupted by SIGTERM/);
    expect((await historyFor('sigterm')).map((r) => [r.status, r.error])).toEqual([['failed', 'interrupted by SIGTERM']]);
    expect(await objectsUnder('sigterm')).toEqual([]);
  });

  it('is a no-op with BACKUP_ENABLED=false', async () => {
    const run = await aj(['backup', 'run'], { env: envFor('disabled', { BACKUP_ENABLED: 'false' }) });
    expect(run.exitCode, run.stderr).toBe(0);
    expect(run.stderr).toMatch(/backups disabled/);
    expect(await objectsUnder('disabled')).toEqual([]);
  });
});

