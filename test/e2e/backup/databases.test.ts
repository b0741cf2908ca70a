import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { aj } from '../../helpers/cli.js';
import { type TestDatabase, createTestDatabase, dropDatabase, urlFor } from '../../helpers/pg.js';
import { type S3Server, s3Env, startS3Server } from '../../helpers/s3.js';
import { connectTo } from './fixture.js';

// Run `npm run build` first. Two databases back up under one prefix; the second one's name starts
// with the first one's, as `shop` and `shop_2` would.

let s3: S3Server;
let first: TestDatabase;
let second: { name: string; url: string };
let client: S3Client;
const scratch: string[] = [];

const envOf = (url: string, extra: Record<string, string> = {}) => ({ DATABASE_URL: url, ...s3Env(s3.endpoint, 'aj-backups', 'shared'), ...extra });

beforeAll(async () => {
  [s3, first] = await Promise.all([startS3Server(), createTestDatabase('shared')]);
  second = { name: `${first.name}_2`, url: urlFor(`${first.name}_2`) };
  await first.query(`CREATE DATABASE "${second.name}"`);
  await first.query(`CREATE TABLE premier (id int); INSERT INTO premier VALUES (1)`);
  const other = await connectTo(second.url);
  await other.query(`CREATE TABLE second_only (id int); INSERT INTO second_only VALUES (2)`);
  await other.end();
  client = new S3Client({ endpoint: s3.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } });
  for (const url of [first.url, second.url]) {
    const run = await aj(['backup', 'run'], { env: envOf(url) });
    expect(run.exitCode, run.stderr).toBe(0);
  }
});

afterAll(async () => {
  client?.destroy();
  await Promise.all([...scratch, second?.name].filter(Boolean).map((name) => dropDatabase(name!)));
  await first?.drop();
  await s3?.stop();
});

describe('several databases under one prefix', () => {
  it('list --remote looks only at the configured database: the other one is not unknown', async () => {
    for (const db of [first, second]) {
      const list = await aj(['backup', 'list', '--remote', '--json'], { env: envOf(db.url) });
      expect(list.exitCode, list.stderr).toBe(0);
      expect(JSON.parse(list.stdout).remote).toEqual({ database: db.name, missing: [], unknown: [], orphans: [], partials: [] });
    }
  });

  it('restore latest-in-storage takes the configured database, or the one named by --database, and says which', async () => {
    const cases = [
      { args: [], from: first.name, table: 'premier' },
      { args: ['--database', second.name], from: second.name, table: 'second_only' },
    ];
    for (const { args, from, table } of cases) {
      const target = `aj_shared_restore_${Math.random().toString(16).slice(2, 8)}`;
      scratch.push(target);
      const restore = await aj(['backup', 'restore', 'latest-in-storage', ...args, '--target-url', urlFor(target), '--create', '--yes', '--json'], { env: envOf(first.url) });
      expect(restore.exitCode, restore.stderr).toBe(0);
      expect(JSON.parse(restore.stdout).key).toMatch(new RegExp(`^${from}/`));
      expect(restore.stderr).toContain(`latest-in-storage: the newest backup of database ${from} is ${from}/`);
      const restored = await connectTo(urlFor(target));
      try {
        expect(await restored.query(`SELECT count(*)::int AS n FROM ${table}`)).toEqual([{ n: 1 }]);
      } finally {
        await restored.end();
      }
    }
  });

  it("prune never deletes another database's backups, even when its rows are in this history", async () => {
    // A history restored from the other database's dump holds its rows: they must not be pruned from here.
    const other = await connectTo(second.url);
    const [theirs] = await other.query<{ object_key: string; manifest_key: string }>(`SELECT object_key, manifest_key FROM aj.backup_runs WHERE status = 'succeeded'`);
    await other.end();
    await first.query(
      `INSERT INTO backup_runs (status, database_name, storage_url, host, pid, compress, aj_version, object_key, manifest_key, size_bytes, sha256, started_at, finished_at)
       VALUES ('succeeded', $1, 's3://aj-backups/shared', 'elsewhere', 1, 'gzip:1', '0', $2, $3, 1, 'x', now() - interval '100 days', now() - interval '100 days')`,
      [second.name, theirs!.object_key, theirs!.manifest_key],
    );
    const prune = await aj(['backup', 'prune', '--yes', '--json'], { env: envOf(first.url, { BACKUP_RETENTION_DAYS: '30', BACKUP_KEEP_MIN: '1' }) });
    expect(prune.exitCode, prune.stderr).toBe(0);
    expect(JSON.parse(prune.stdout).removed).toEqual([]);
    const stored = await client.send(new ListObjectsV2Command({ Bucket: 'aj-backups', Prefix: `shared/${second.name}/` }));
    expect((stored.Contents ?? []).filter((o) => o.Key!.endsWith('.dump'))).toHaveLength(1);
  });
});
