import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { generateIdentity, identityToRecipient } from 'age-encryption';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { walKey } from '../../src/wal/layout.js';
import { aj, scratchDir } from '../helpers/cli.js';
import { closedPort } from '../helpers/ports.js';
import { type ArchivingCluster, createArchivingCluster } from '../helpers/wal-cluster.js';

/** The system identifier, as pg_controldata prints it. */
async function systemIdentifier(cluster: ArchivingCluster): Promise<string> {
  const [row] = await cluster.query<{ id: string }>('SELECT system_identifier::text AS id FROM pg_control_system()');
  return row!.id;
}

describe('aj wal push / fetch on a cluster archiving through aj', () => {
  let cluster: ArchivingCluster;
  let sysid: string;
  let segment: string;
  const alerts: unknown[] = [];
  const webhook = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      alerts.push(JSON.parse(body));
      res.end('ok');
    });
  });
  const storedPath = (name: string, encrypted = false) => join(cluster.storageDir, ...walKey(sysid, name, encrypted).split('/'));

  beforeAll(async () => {
    await new Promise<void>((resolve) => webhook.listen(0, '127.0.0.1', resolve));
    cluster = await createArchivingCluster({ ALERT_WEBHOOK_URL: `http://127.0.0.1:${(webhook.address() as { port: number }).port}/hook` });
    sysid = await systemIdentifier(cluster);
    segment = await cluster.switchWal();
    await cluster.waitArchived(segment);
  });
  afterAll(async () => {
    await cluster?.destroy();
    webhook.close();
  });

  it('archives what PostgreSQL hands it, and fetch gives back the same bytes', async () => {
    expect(existsSync(storedPath(segment))).toBe(true);
    const original = readFileSync(join(cluster.dataDir, 'pg_wal', segment));
    expect(statSync(storedPath(segment)).size).toBeLessThan(original.length / 4);
    const dir = scratchDir('wal-fetch');
    const fetched = await aj(['wal', 'fetch', segment, 'pg_wal/RECOVERYXLOG', '--cluster', sysid], { cwd: dir, env: { BACKUP_BUCKET: `file://${cluster.storageDir}` } });
    expect(fetched.exitCode, fetched.stderr).toBe(1);
    mkdirSync(join(dir, 'pg_wal'));
    const again = await aj(['wal', 'fetch', segment, 'pg_wal/RECOVERYXLOG', '--cluster', sysid], { cwd: dir, env: { BACKUP_BUCKET: `file://${cluster.storageDir}` } });
    expect(again.exitCode, again.stderr).toBe(0);
    expect(again.stdout).toBe('');
    expect(readFileSync(join(dir, 'pg_wal', 'RECOVERYXLOG')).equals(original)).toBe(true);
    expect(readdirSync(join(dir, 'pg_wal'))).toEqual(['RECOVERYXLOG']);
  });

  it('a second push of the same segment succeeds without uploading; other content is refused with exit 5 and an alert', async () => {
    const before = statSync(storedPath(segment)).mtimeMs;
    // No database is touched, not even to refresh a metrics file: PostgreSQL runs this per segment.
    const metricsFile = join(scratchDir('wal-metrics'), 'aj.prom');
    const same = await aj(['--env-file', cluster.envFile, 'wal', 'push', `pg_wal/${segment}`, '--json'], {
      cwd: cluster.dataDir, env: { AJ_METRICS_FILE: metricsFile, DATABASE_URL: `postgresql://nobody@127.0.0.1:${await closedPort()}/none` },
    });
    expect(same.exitCode, same.stderr).toBe(0);
    expect(same.stderr).toBe('');
    expect(existsSync(metricsFile)).toBe(false);
    expect(JSON.parse(same.stdout).requested.outcome).toBe('already-archived');
    expect(statSync(storedPath(segment)).mtimeMs).toBe(before);

    // A local put killed after linking the object, before its metadata sidecar: written again whole, then provable.
    rmSync(`${storedPath(segment)}.ajmeta`);
    const repaired = await aj(['--env-file', cluster.envFile, 'wal', 'push', `pg_wal/${segment}`, '--json'], { cwd: cluster.dataDir });
    expect(repaired.exitCode, repaired.stderr).toBe(0);
    expect(JSON.parse(repaired.stdout).requested.outcome).toBe('uploaded');
    expect(JSON.parse(readFileSync(`${storedPath(segment)}.ajmeta`, 'utf8'))).toMatchObject({ 'aj-wal-sha256': JSON.parse(repaired.stdout).requested.sha256 });
    const after = statSync(storedPath(segment)).mtimeMs;

    const forged = join(scratchDir('wal-forged'), segment);
    const content = readFileSync(join(cluster.dataDir, 'pg_wal', segment));
    content[100] = content[100]! ^ 0xff;
    writeFileSync(forged, content);
    const other = await aj(['--env-file', cluster.envFile, 'wal', 'push', forged, '--data-dir', cluster.dataDir]);
    expect(other.exitCode).toBe(5);
    expect(other.stderr).toMatch(new RegExp(`^aj: WAL file ${segment} is already archived with different content at file://.*: not overwritten \\(two servers`, 'm'));
    expect(statSync(storedPath(segment)).mtimeMs).toBe(after);
    expect(alerts).toEqual([expect.objectContaining({ key: 'wal-push:conflict', subject: expect.stringContaining(`refused to overwrite ${segment}`) })]);
  });

  it('a damaged stored segment is refused by fetch with exit 4, a missing one with exit 1', async () => {
    const stored = storedPath(segment);
    const damagedRoot = scratchDir('wal-damaged-storage');
    cpSync(cluster.storageDir, damagedRoot, { recursive: true });
    const damagedFile = join(damagedRoot, ...walKey(sysid, segment, false).split('/'));
    const bytes = readFileSync(damagedFile);
    bytes[bytes.length >> 1] = bytes[bytes.length >> 1]! ^ 0x55;
    writeFileSync(damagedFile, bytes);
    expect(readFileSync(stored).equals(bytes)).toBe(false);
    const dir = scratchDir('wal-damaged');
    const damaged = await aj(['wal', 'fetch', segment, 'RECOVERYXLOG', '--cluster', sysid], { cwd: dir, env: { BACKUP_BUCKET: `file://${damagedRoot}` } });
    expect(damaged.exitCode).toBe(4);
    expect(damaged.stderr).toMatch(new RegExp(`^aj: WAL file ${segment} \\(file://.*\\) is damaged in storage: SHA-256 .*; not restored`, 'm'));
    expect(readdirSync(dir).filter((f) => !f.startsWith('.local'))).toEqual([]);

    const missing = await aj(['wal', 'fetch', '00000001000000000000FFFF', 'RECOVERYXLOG', '--cluster', sysid], { cwd: dir, env: { BACKUP_BUCKET: `file://${cluster.storageDir}` } });
    expect(missing.exitCode).toBe(1);
    expect(missing.stderr.trim()).toMatch(/^aj: 00000001000000000000FFFF is not in the archive file:\/\/\S+ \(recovery ends where the archive ends\)$/);
  });

  it('encrypts to BACKUP_AGE_RECIPIENT (age binary when installed, else the bundled implementation) and decrypts with --identity, byte-identical', async () => {
    const identity = await generateIdentity();
    const recipient = await identityToRecipient(identity);
    const keyDir = scratchDir('wal-age');
    writeFileSync(join(keyDir, 'key.txt'), `${identity}\n`, { mode: 0o600 });
    const name = await cluster.switchWal();
    await cluster.waitArchived(name);
    // The segment is still in pg_wal (no checkpoint since): pushed again, encrypted, to other storages.
    for (const binary of [undefined, 'none']) {
      const storage = scratchDir('wal-age-storage');
      const env = { BACKUP_BUCKET: `file://${storage}`, AJ_AGE_BINARY: binary };
      const pushed = await aj(['wal', 'push', `pg_wal/${name}`], { cwd: cluster.dataDir, env: { ...env, BACKUP_AGE_RECIPIENT: recipient } });
      expect(pushed.exitCode, pushed.stderr).toBe(0);
      expect(readFileSync(join(storage, ...walKey(sysid, name, true).split('/'))).subarray(0, 21).toString()).toBe('age-encryption.org/v1');
      const dir = scratchDir('wal-age-fetch');
      const without = await aj(['wal', 'fetch', name, 'seg', '--cluster', sysid], { cwd: dir, env });
      expect(without.exitCode).toBe(3);
      expect(without.stderr).toMatch(/is encrypted \(set BACKUP_AGE_IDENTITY_FILE or pass --identity FILE/);
      const fetched = await aj(['wal', 'fetch', name, 'seg', '--cluster', sysid], { cwd: dir, env: { ...env, BACKUP_AGE_IDENTITY_FILE: join(keyDir, 'key.txt') } });
      expect(fetched.exitCode, fetched.stderr).toBe(0);
      expect(readFileSync(join(dir, 'seg')).equals(readFileSync(join(cluster.dataDir, 'pg_wal', name)))).toBe(true);
    }
  });

  it('aj doctor: ok on a server archiving through aj; a warning with the postgresql.conf lines where archiving is off, a failure under WAL_ARCHIVING=required', async () => {
    const doctor = async (env: Record<string, string>) => {
      const result = await aj(['--env-file', cluster.envFile, 'doctor', '--json'], { env });
      return { exitCode: result.exitCode, check: (JSON.parse(result.stdout) as { checks: Array<{ name: string; status: string; detail: string; hint?: string }> }).checks.find((c) => c.name === 'wal archiving') };
    };
    const archiving = await doctor({ DATABASE_URL: cluster.url() });
    expect(archiving.check).toMatchObject({ status: 'ok', detail: expect.stringMatching(/^archive_mode = on, archive_command runs aj wal push; last archived 0{7}1\w{16} at 20/) });

    const shared = 'postgresql://postgres@127.0.0.1:5432/postgres';
    const off = await doctor({ DATABASE_URL: shared });
    expect(off.check).toEqual({
      name: 'wal archiving', status: 'warn', detail: 'archive_mode is off: no point-in-time recovery',
      hint: `add to postgresql.conf: wal_level = replica; archive_mode = on; archive_command = 'aj --env-file ${cluster.envFile} wal push %p'; archive_timeout = 60; restart PostgreSQL. ${cluster.envFile} must be readable by the postgres user (it runs archive_command)`,
    });
    const required = await doctor({ DATABASE_URL: shared, WAL_ARCHIVING: 'required' });
    expect(required.check).toMatchObject({ status: 'fail', detail: 'archive_mode is off: no point-in-time recovery' });
    expect(required.exitCode).toBe(1);
  });

  it('outside a data directory, push names the fix (exit 3)', async () => {
    const result = await aj(['wal', 'push', 'pg_wal/000000010000000000000001'], { env: { BACKUP_BUCKET: `file://${cluster.storageDir}` } });
    expect(result.exitCode).toBe(3);
    expect(result.stderr).toMatch(/is not a PostgreSQL data directory \(no global\/pg_control\) \(run it as PostgreSQL does/);
  });
});
