import { readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AJ_BIN, aj, cleanEnv, scratchDir } from '../helpers/cli.js';
import { type TestDatabase, createTestDatabase, serverUrl } from '../helpers/pg.js';

const SCRIPT = fileURLToPath(new URL('../../scripts/restore-drill.sh', import.meta.url));
let source: TestDatabase;
let backupDir: string;
let env: Record<string, string>;

function drill() {
  const server = new URL(serverUrl());
  server.pathname = '';
  return execa(SCRIPT, [], {
    env: cleanEnv({ ...env, AJ: AJ_BIN, DRILL_SERVER_URL: server.toString(), PATH: `${dirname(process.execPath)}:${process.env.PATH}` }),
    extendEnv: false,
    cwd: scratchDir('drill'),
    reject: false,
  });
}

const drillDatabases = async () => (await source.query<{ datname: string }>(`SELECT datname FROM pg_database WHERE datname LIKE 'aj\_drill\_2%'`)).map((r) => r.datname);

function dumpFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).map((f) => join(dir, f)).filter((f) => f.endsWith('.dump') && statSync(f).isFile());
}

beforeAll(async () => {
  source = await createTestDatabase('drill_source');
  await source.query(`CREATE TABLE devis_demo (id serial PRIMARY KEY, numero text); INSERT INTO devis_demo (numero) SELECT 'D-' || i FROM generate_series(1, 300) i`);
  backupDir = scratchDir('drill-bk');
  env = { DATABASE_URL: source.url, BACKUP_BUCKET: `file://${backupDir}` };
  const backup = await aj(['backup', 'run'], { env });
  expect(backup.exitCode, backup.stderr).toBe(0);
});

afterAll(async () => {
  await source?.drop();
});

describe('scripts/restore-drill.sh', () => {
  it('restores the latest backup into a scratch database, verifies it, drops it, exits 0 and is recorded', async () => {
    const before = await drillDatabases();
    const run = await drill();
    expect(run.exitCode, run.stderr).toBe(0);
    const result = JSON.parse(run.stdout);
    expect(result).toMatchObject({ ok: true, backupId: 1, created: true, verified: true, differences: [] });
    expect(result.database).toMatch(/^aj_drill_/);
    expect(await drillDatabases()).toEqual(before);
    const [job] = await source.query(`SELECT job, status, exit_code FROM job_runs WHERE job = 'restore-drill'`);
    expect(job).toEqual({ job: 'restore-drill', status: 'succeeded', exit_code: 0 });
    const status = await aj(['status', '--json'], { env });
    expect(JSON.parse(status.stdout).checks.find((c: { name: string }) => c.name === 'backup-proven')).toMatchObject({ ok: true });
  });

  it("exits with aj's code when the backup is damaged, and leaves no scratch database", async () => {
    const [dump] = dumpFiles(backupDir);
    const bytes = readFileSync(dump!);
    bytes[Math.floor(bytes.length / 2)] ^= 0x01;
    writeFileSync(dump!, bytes);
    const run = await drill();
    expect(run.exitCode, run.stderr).toBe(4);
    expect(run.stderr).toMatch(/restore-drill: aj exited 4/);
    expect(await drillDatabases()).toEqual([]);
    const jobs = await source.query(`SELECT status, exit_code FROM job_runs WHERE job = 'restore-drill' ORDER BY id`);
    expect(jobs.at(-1)).toEqual({ status: 'failed', exit_code: 4 });
  });
});
