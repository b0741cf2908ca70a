import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import * as age from 'age-encryption';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AJ_BIN, aj, scratchDir } from '../helpers/cli.js';
import { type ThrowawayCluster, createThrowawayCluster } from '../helpers/pg-cluster.js';

/**
 * Point-in-time recovery end to end: a cluster of the test's own archiving its WAL through
 * `aj wal push`, a base backup by `aj backup run --physical`, restores to a noted moment and to
 * the end of the archive started as real servers, and the drill on a good and a damaged backup.
 */
let source: ThrowawayCluster;
const restored: ThrowawayCluster[] = [];
let envFile: string;
let storage: string;
let env: Record<string, string>;
let scratch: string;
let baseId: number;
let baseKey: string;
let noted: string;

const ids = async (cluster: ThrowawayCluster) => (await cluster.query<{ id: number }>('SELECT id FROM t ORDER BY id')).map((r) => r.id);
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

/** Ends the current WAL segment and waits until aj wal push has archived it. */
async function switchAndArchive(cluster: ThrowawayCluster): Promise<void> {
  const [{ name }] = await cluster.query<{ name: string }>('SELECT pg_walfile_name(pg_switch_wal()) AS name');
  for (let i = 0; i < 150; i += 1) {
    const [{ last }] = await cluster.query<{ last: string | null }>('SELECT last_archived_wal AS last FROM pg_stat_archiver');
    if (last && last >= name) return;
    await sleep(100);
  }
  throw new Error(`WAL ${name} was not archived: ${cluster.log().split('\n').slice(-5).join('\n')}`);
}

/** A restored data directory started as a server, once it has promoted (recovery reached its target). */
async function startRestored(dataDir: string): Promise<ThrowawayCluster> {
  // Archiving off: a restored copy must not push its new timeline into the source's archive.
  const cluster = await createThrowawayCluster({ dataDir, settings: { archive_mode: 'off' } });
  restored.push(cluster);
  for (let i = 0; i < 300; i += 1) {
    const [{ recovering }] = await cluster.query<{ recovering: boolean }>('SELECT pg_is_in_recovery() AS recovering');
    if (!recovering) return cluster;
    await sleep(100);
  }
  throw new Error(`the restored server did not promote: ${cluster.log().split('\n').slice(-5).join('\n')}`);
}

beforeAll(async () => {
  source = await createThrowawayCluster({ settings: { wal_level: 'replica', archive_mode: 'on', archive_timeout: '60' } });
  envFile = join(source.dir, 'aj.env');
  storage = join(source.dir, 'storage');
  mkdirSync(storage);
  // Encrypted, as the issue asks of a real setup: base backups and WAL to an age key, decrypted on restore.
  const identity = await age.generateIdentity();
  const identityFile = join(source.dir, 'age-identity.txt');
  writeFileSync(identityFile, `${identity}\n`, { mode: 0o600 });
  const settings = { DATABASE_URL: source.url(), BACKUP_BUCKET: `file://${storage}`, BACKUP_AGE_RECIPIENT: await age.identityToRecipient(identity), BACKUP_AGE_IDENTITY_FILE: identityFile };
  writeFileSync(envFile, Object.entries(settings).map(([k, v]) => `${k}=${v}\n`).join(''), { mode: 0o600 });
  for (const path of [storage, envFile, identityFile]) source.giveToServerUser(path);
  await source.query(`ALTER SYSTEM SET archive_command = '${process.execPath} -- ${AJ_BIN} --env-file ${envFile} wal push %p'`);
  await source.query('SELECT pg_reload_conf()');
  env = { ...settings, AJ_TIMEZONE: 'Europe/Paris' };
  scratch = scratchDir('pitr');
  // The server's user walks into the restored directories.
  chmodSync(scratch, 0o711);
  const migrate = await aj(['db', 'migrate'], { env });
  expect(migrate.exitCode, migrate.stderr).toBe(0);
  await source.query('CREATE TABLE t (id int PRIMARY KEY, note text)');
  await source.query(`INSERT INTO t SELECT g, 'before the base backup' FROM generate_series(1, 100) g`);
  // The first archived segment creates the cluster's folders as the server's user.
  await switchAndArchive(source);
}, 60_000);

afterAll(async () => {
  for (const cluster of restored) await cluster.destroy();
  await source?.destroy();
});

describe('aj backup run --physical and aj backup restore --physical', () => {
  it('takes a base backup to storage with its manifest and history', async () => {
    const run = await aj(['backup', 'run', '--physical', '--json'], { env });
    expect(run.exitCode, run.stderr).toBe(0);
    const record = JSON.parse(run.stdout);
    expect(record).toMatchObject({ kind: 'physical', status: 'succeeded', timeline: 1, manifest: { format: 'aj-physical-manifest/1', compress: 'gzip:1', encryption: { type: 'age', recipient: env.BACKUP_AGE_RECIPIENT } } });
    expect(record.objectKey).toMatch(/\/base\.tar\.gz\.age$/);
    baseId = record.id;
    baseKey = record.objectKey;
    const folder = join(storage, record.objectKey.replace(/base\.tar\.gz\.age$/, ''));
    expect(readdirSync(folder).filter((f) => !f.endsWith('.ajmeta')).sort()).toEqual(['backup_manifest', 'base.tar.gz.age', 'manifest.json']);
    const manifest = JSON.parse(readFileSync(join(folder, 'manifest.json'), 'utf8'));
    expect(manifest).toMatchObject({ id: baseId, key: record.objectKey, size: record.sizeBytes, sha256: record.sha256, startWal: record.startWal, stopLsn: record.stopLsn });

    const list = await aj(['backup', 'list'], { env });
    expect(list.stdout.split('\n')[1]).toMatch(new RegExp(`^${baseId}\\tphysical\\t`));

    await source.query(`INSERT INTO t SELECT g, 'after the base backup' FROM generate_series(101, 150) g`);
    // Apart by more than the millisecond the noted time keeps.
    await sleep(50);
    noted = (await source.query<{ at: Date }>('SELECT clock_timestamp() AS at'))[0]!.at.toISOString();
    await sleep(50);
    await source.query(`INSERT INTO t SELECT g, 'after the noted time' FROM generate_series(151, 200) g`);
    await source.query('DELETE FROM t WHERE id <= 10');
    await switchAndArchive(source);
  }, 60_000);

  it('restores to the noted moment from storage alone (the history server lost): exactly the rows of that moment', async () => {
    const dir = join(scratch, 'at-noted-time');
    const lost = { ...env, DATABASE_URL: 'postgresql://postgres@127.0.0.1:1/gone' };
    const restore = await aj(['backup', 'restore', 'latest-in-storage', '--physical', '--target-dir', dir, '--to-time', noted, '--wal-env-file', envFile], { env: lost });
    expect(restore.exitCode, restore.stderr).toBe(0);
    expect(restore.stdout).toContain(`base backup ${baseId} restored into ${dir} (pg_verifybackup: every file as backed up)`);
    expect(readFileSync(join(dir, 'postgresql.auto.conf'), 'utf8')).toContain(`recovery_target_time = '${noted.replace('T', ' ').replace('Z', '')}+00'`);
    expect(existsSync(join(dir, 'recovery.signal'))).toBe(true);
    const cluster = await startRestored(dir);
    expect(await ids(cluster)).toEqual(range(1, 150));
  }, 60_000);

  it('refuses a time before the base backup ended, naming the earliest, and a directory that is not empty', async () => {
    const early = await aj(['backup', 'restore', String(baseId), '--physical', '--target-dir', join(scratch, 'early'), '--to-time', '2020-01-01 12:00 Europe/Paris', '--wal-env-file', envFile], { env });
    expect(early.exitCode, early.stderr).toBe(2);
    expect(early.stderr).toMatch(new RegExp(`^aj: --to-time 2020-01-01T11:00:00.000Z is before the end of base backup ${baseId}: the earliest time it can restore to is \\d{4}-\\d\\d-\\d\\dT`));
    const running = join(scratch, 'at-noted-time');
    const busy = await aj(['backup', 'restore', 'latest', '--physical', '--target-dir', running, '--force', '--wal-env-file', envFile], { env });
    expect(busy.exitCode, busy.stderr).toBe(2);
    expect(busy.stderr).toMatch(new RegExp(`^aj: ${running} belongs to a running PostgreSQL server \\(pid \\d+\\) \\(stop it first, or restore into another directory\\)$`));
    const other = join(scratch, 'not-empty');
    mkdirSync(other);
    writeFileSync(join(other, 'notes.txt'), 'keep me');
    const notEmpty = await aj(['backup', 'restore', 'latest', '--physical', '--target-dir', other, '--wal-env-file', envFile], { env });
    expect(notEmpty.exitCode, notEmpty.stderr).toBe(2);
    expect(notEmpty.stderr).toBe(`aj: --target-dir ${other} is not empty (1 entries) (give an empty or new directory, or add --force to replace what is there)`);
    expect(readFileSync(join(other, 'notes.txt'), 'utf8')).toBe('keep me');

    const wrongKey = join(scratch, 'other-identity.txt');
    writeFileSync(wrongKey, `${await age.generateIdentity()}\n`, { mode: 0o600 });
    const emptyDir = join(scratch, 'wrong-key');
    const undecryptable = await aj(['backup', 'restore', String(baseId), '--physical', '--target-dir', emptyDir, '--identity', wrongKey, '--wal-env-file', envFile], { env });
    expect(undecryptable.exitCode, undecryptable.stderr).toBe(4);
    expect(undecryptable.stderr).toMatch(/^aj: cannot decrypt the backup: .* \(check that the identity matches BACKUP_AGE_RECIPIENT, and verify the object\)$/);
    expect(readdirSync(emptyDir)).toEqual([]);
    expect(busy.stdout).toBe('');
  });

  it('drills to the end of the archive: exit 0 with the rows of now, the scratch server and directory gone', async () => {
    const expected = join(scratch, 'counts.json');
    writeFileSync(expected, JSON.stringify({ postgres: { 'public.t': 190, 'aj.base_backups': 1 } }));
    const drill = await aj(['backup', 'restore', 'latest', '--physical', '--drill', '--to-latest', '--expect-counts', expected, '--wal-env-file', envFile, '--json'], { env });
    expect(drill.exitCode, drill.stderr).toBe(0);
    const result = JSON.parse(drill.stdout);
    expect(result).toMatchObject({ ok: true, backupId: baseId, target: { kind: 'latest' }, filesVerified: true, differences: [] });
    expect(result.databases.map((d: { database: string }) => d.database)).toEqual(['postgres']);
    expect(result.databases[0].counts['public.t']).toBe(190);
    expect(readdirSync(tmpdir()).filter((f) => f.startsWith('aj-drill-'))).toEqual([]);
    expect(await source.query('SELECT verify_ok, verify_error FROM aj.base_backups WHERE id = $1', [baseId])).toEqual([{ verify_ok: true, verify_error: null }]);
    expect(await source.query(`SELECT job, status, exit_code FROM aj.job_runs WHERE job = 'pitr-drill'`)).toEqual([{ job: 'pitr-drill', status: 'succeeded', exit_code: 0 }]);
  }, 60_000);

  it('drills a damaged base backup: exit 4 naming the damage, nothing left behind', async () => {
    const file = join(storage, baseKey);
    const bytes = readFileSync(file);
    bytes[Math.floor(bytes.length / 2)] ^= 0xff;
    writeFileSync(file, bytes);
    const drill = await aj(['backup', 'restore', String(baseId), '--physical', '--drill', '--wal-env-file', envFile], { env });
    expect(drill.exitCode, drill.stderr).toBe(4);
    expect(drill.stderr).toMatch(new RegExp(`^aj: base backup ${baseId} \\(file://.*/base\\.tar\\.gz\\.age\\) is damaged in storage: SHA-256 `));
    expect(drill.stdout).toBe('');
    expect(await source.query('SELECT verify_ok FROM aj.base_backups WHERE id = $1', [baseId])).toEqual([{ verify_ok: false }]);
  }, 60_000);

  it('retention deletes an expired base backup and the WAL only it needed, keeping what the newer one needs', async () => {
    await source.query(`UPDATE aj.base_backups SET started_at = now() - interval '40 days' WHERE id = $1`, [baseId]);
    const retention = { ...env, BACKUP_KEEP_MIN: '1', BACKUP_RETENTION_DAYS: '30' };
    const run = await aj(['backup', 'run', '--physical', '--no-retention', '--json'], { env: retention });
    expect(run.exitCode, run.stderr).toBe(0);
    const record = JSON.parse(run.stdout);
    // The segment before the new backup's start is archived just after it: wait for it, so retention sees it.
    await switchAndArchive(source);
    const prune = await aj(['backup', 'prune', '--yes', '--json'], { env: retention });
    expect(prune.exitCode, prune.stderr).toBe(0);
    const pruned = JSON.parse(prune.stdout);
    expect(pruned.removed).toEqual([{ id: baseId, kind: 'physical', key: baseKey, startedAt: expect.any(String) }]);
    expect(pruned.walDeleted).toBeGreaterThan(0);
    expect(existsSync(join(storage, baseKey))).toBe(false);
    expect(await source.query('SELECT id::int, status FROM aj.base_backups ORDER BY id')).toEqual([{ id: baseId, status: 'deleted' }, { id: record.id, status: 'succeeded' }]);
    const walDir = join(storage, record.objectKey.replace(/base\/.*$/, 'wal'), '00000001');
    const segments = readdirSync(walDir).filter((f) => /^[0-9A-F]{24}\.gz\.age$/.test(f)).map((f) => f.slice(0, 24));
    expect(segments.length).toBeGreaterThan(0);
    expect(segments.every((s) => s >= record.startWal)).toBe(true);
  }, 60_000);
});
