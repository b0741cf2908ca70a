import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { aj, scratchDir } from '../helpers/cli.js';
import { type TestDatabase, createTestDatabase } from '../helpers/pg.js';

let database: TestDatabase;
let env: Record<string, string>;
let storageUrl: string;

beforeAll(async () => {
  database = await createTestDatabase('ops_shrink');
  storageUrl = `file://${scratchDir('shrink-bk')}`;
  env = { DATABASE_URL: database.url, BACKUP_BUCKET: storageUrl, BACKUP_RETENTION_DAYS: '30', BACKUP_KEEP_MIN: '1' };
  expect((await aj(['db', 'migrate'], { env })).exitCode).toBe(0);
  // Seven normal nightly backups long past retention, then last night's, a tenth of the size.
  await database.query(
    `INSERT INTO backup_runs (status, database_name, storage_url, object_key, host, pid, started_at, finished_at, size_bytes, total_rows)
     SELECT 'succeeded', current_database(), $1, 'old-' || i || '.dump', 'h', 1, now() - (60 - i) * interval '1 day', now() - (60 - i) * interval '1 day', 100000 + i, 5000
       FROM generate_series(1, 7) i`,
    [storageUrl],
  );
  await database.query(
    `INSERT INTO backup_runs (status, database_name, storage_url, object_key, host, pid, started_at, finished_at, size_bytes, total_rows)
     VALUES ('succeeded', current_database(), $1, 'small.dump', 'h', 1, now() - interval '1 hour', now() - interval '1 hour', 9000, 400)`,
    [storageUrl],
  );
});

afterAll(async () => {
  await database?.drop();
});

describe('backup size guard', () => {
  it('pauses retention and makes aj status unhealthy until the shrunk backup is acknowledged', async () => {
    const paused = await aj(['backup', 'prune', '--dry-run', '--json'], { env });
    expect(paused.exitCode, paused.stderr).toBe(0);
    expect(JSON.parse(paused.stdout)).toMatchObject({ removed: [], paused: expect.stringContaining('backup 8 shrank below 50%') });
    expect(paused.stderr).toContain('retention paused');

    const status = await aj(['status', '--json'], { env });
    expect(status.exitCode).toBe(1);
    expect(JSON.parse(status.stdout).checks.find((c: { name: string }) => c.name === 'backup-size')).toMatchObject({ ok: false, detail: expect.stringContaining('aj backup ack 8') });

    expect((await aj(['backup', 'ack', '3'], { env })).exitCode).toBe(2);
    const ack = await aj(['backup', 'ack', '8'], { env });
    expect(ack.exitCode, ack.stderr).toBe(0);
    expect(ack.stdout).toMatch(/backup 8 acknowledged/);

    const resumed = await aj(['backup', 'prune', '--dry-run', '--json'], { env });
    expect(JSON.parse(resumed.stdout)).toMatchObject({ paused: null, removed: [7, 6, 5, 4, 3, 2, 1].map((id) => ({ id })) });
    const healthy = await aj(['status', '--json'], { env });
    expect(JSON.parse(healthy.stdout).checks.find((c: { name: string }) => c.name === 'backup-size')).toMatchObject({ ok: true });
  });

  it('BACKUP_SHRINK_ALERT=0 turns the guard off; a bad value is a configuration error', async () => {
    await database.query(`UPDATE backup_runs SET acknowledged_at = NULL`);
    const off = await aj(['backup', 'prune', '--dry-run', '--json'], { env: { ...env, BACKUP_SHRINK_ALERT: '0' } });
    expect(JSON.parse(off.stdout).removed).toHaveLength(7);
    expect((await aj(['backup', 'prune', '--dry-run'], { env: { ...env, BACKUP_SHRINK_ALERT: '150%' } })).exitCode).toBe(3);
  });
});
