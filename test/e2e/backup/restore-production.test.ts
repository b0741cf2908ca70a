import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { aj, scratchDir } from '../../helpers/cli.js';
import { type TestDatabase, createTestDatabase, dropDatabase, urlFor } from '../../helpers/pg.js';
import { connectTo, contentChecksums, seedBusinessData } from './fixture.js';

/**
 * A restore over the production database brings back the app's data and leaves aj's schema as it
 * is: the backup history stays true. A restore into a new database brings everything, aj's schema too.
 */
let source: TestDatabase;
let env: Record<string, string>;
let atFirstBackup: Record<string, string>;
const scratch: string[] = [];
const others: TestDatabase[] = [];

const backupRuns = () => source.query('SELECT id::int, status, object_key, deleted_at FROM aj.backup_runs ORDER BY id');

async function backup(environment = env): Promise<number> {
  const run = await aj(['backup', 'run', '--json'], { env: environment });
  expect(run.exitCode, run.stderr).toBe(0);
  return JSON.parse(run.stdout).id;
}

beforeAll(async () => {
  source = await createTestDatabase('restore_prod');
  await seedBusinessData(source, 2_000);
  env = { DATABASE_URL: source.url, BACKUP_BUCKET: `file://${scratchDir('restore-prod-bk')}` };
  expect(await backup()).toBe(1);
  atFirstBackup = await contentChecksums(source);
  await source.query(`
    INSERT INTO journal (ligne) SELECT 'after backup 1 ' || i FROM generate_series(1, 30) i;
    DELETE FROM factures_demo WHERE id > 1040;
    SELECT nextval('facture_numero_seq');
  `);
  expect(await backup()).toBe(2);
});

afterAll(async () => {
  await Promise.all(scratch.map((name) => dropDatabase(name)));
  await Promise.all(others.map((db) => db.drop()));
  await source?.drop();
});

describe('aj backup restore over the production database', () => {
  it("restores the app's data and keeps aj's history: later backups stay, ids are not reused, the restore is recorded", async () => {
    const historyBefore = await backupRuns();
    const restore = await aj(['backup', 'restore', '1', '--force', '--clean', '--yes', '--verify', '--json'], { env });
    expect(restore.exitCode, restore.stderr).toBe(0);
    expect(JSON.parse(restore.stdout)).toMatchObject({ ok: true, backupId: 1, database: source.name, overProduction: true, differences: [], tablesChecked: 3 });

    expect(await contentChecksums(source)).toEqual(atFirstBackup);
    expect(await backupRuns()).toEqual(historyBefore);
    const list = await aj(['backup', 'list', '--json'], { env });
    expect(JSON.parse(list.stdout).backups.map((b: { id: number }) => b.id)).toEqual([2, 1]);
    expect(await backup()).toBe(3);

    expect(await source.query('SELECT backup_id::int, target_database, over_production, status, verify_ok, tables_checked, error FROM aj.restore_runs')).toEqual([
      { backup_id: 1, target_database: source.name, over_production: true, status: 'succeeded', verify_ok: true, tables_checked: 3, error: null },
    ]);
    const [job] = await source.query(`SELECT status, summary FROM aj.job_runs WHERE job = 'restore-drill'`);
    expect(job).toEqual({ status: 'succeeded', summary: `backup 1 into ${source.name} (over production): succeeded, 3 tables verified` });
  });

  it("restores everything into a new database, aj's schema as it was dumped", async () => {
    const name = `aj_drill_prod_${Math.random().toString(16).slice(2, 8)}`;
    scratch.push(name);
    const restore = await aj(['backup', 'restore', '2', '--target-url', urlFor(name), '--create', '--verify', '--yes', '--json'], { env });
    expect(restore.exitCode, restore.stderr).toBe(0);
    const result = JSON.parse(restore.stdout);
    expect(result).toMatchObject({ ok: true, created: true, overProduction: false, differences: [] });
    expect(result.tablesChecked).toBeGreaterThan(10);
    const restored = await connectTo(urlFor(name));
    try {
      // Backup 2's own row was still running when its dump was taken.
      expect(await restored.query('SELECT id::int, status FROM aj.backup_runs ORDER BY id')).toEqual([{ id: 1, status: 'succeeded' }, { id: 2, status: 'running' }]);
      expect(await restored.query('SELECT count(*)::int AS n FROM public.journal')).toEqual([{ n: 2_030 }]);
    } finally {
      await restored.end();
    }
    const [row] = await source.query(`SELECT backup_id::int, target_database, over_production, status FROM aj.restore_runs ORDER BY id DESC LIMIT 1`);
    expect(row).toEqual({ backup_id: 2, target_database: name, over_production: false, status: 'succeeded' });
  });

  it("refuses a dump of an earlier aj (its tables in public), and one with nothing outside aj's schema", async () => {
    const legacy = await createTestDatabase('restore_legacy');
    others.push(legacy);
    await legacy.query(`CREATE TABLE public.plantes (id serial PRIMARY KEY, nom text); INSERT INTO public.plantes (nom) VALUES ('rose')`);
    // AJ_DB_SCHEMA=public lays aj's tables out as aj did before it had a schema of its own.
    const legacyEnv = { DATABASE_URL: legacy.url, BACKUP_BUCKET: `file://${scratchDir('restore-legacy-bk')}` };
    expect(await backup({ ...legacyEnv, AJ_DB_SCHEMA: 'public' })).toBe(1);
    await legacy.query(`INSERT INTO public.plantes (nom) VALUES ('lys')`);
    // The first run with aj's schema moves the history out of public, then the restore refuses.
    const refused = await aj(['backup', 'restore', '1', '--force', '--clean', '--yes'], { env: legacyEnv });
    expect(refused.exitCode, refused.stderr).toBe(1);
    expect(refused.stdout).toBe('');
    expect(refused.stderr).toMatch(/backup 1 keeps aj's tables in schema public, not in aj: .*\(restore it into a new database/);
    expect(await legacy.query('SELECT nom FROM public.plantes ORDER BY id')).toEqual([{ nom: 'rose' }, { nom: 'lys' }]);
    expect(await legacy.query('SELECT backup_id::int, over_production, status, error FROM aj.restore_runs')).toEqual([
      { backup_id: 1, over_production: true, status: 'failed', error: expect.stringMatching(/^backup 1 keeps aj's tables in schema public/) },
    ]);

    const ajOnly = await createTestDatabase('restore_aj_only');
    others.push(ajOnly);
    const ajOnlyEnv = { DATABASE_URL: ajOnly.url, BACKUP_BUCKET: `file://${scratchDir('restore-aj-only-bk')}` };
    expect(await backup(ajOnlyEnv)).toBe(1);
    const empty = await aj(['backup', 'restore', '1', '--force', '--clean', '--yes'], { env: ajOnlyEnv });
    expect(empty.exitCode, empty.stderr).toBe(1);
    expect(empty.stderr).toMatch(/backup 1 holds no table outside aj's schema aj/);
  });
});
