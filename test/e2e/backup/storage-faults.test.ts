import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { aj } from '../../helpers/cli.js';
import { type TestDatabase, createTestDatabase } from '../../helpers/pg.js';
import { pgBinDirWith } from '../../helpers/pg-wrappers.js';
import { FaultProxy, S3Gate, type S3Server, s3Env, startS3Server } from '../../helpers/s3.js';

// Run `npm run build` first: these spawn the built bin/aj against storage that hangs or refuses.

let s3: S3Server;
let source: TestDatabase;
let gate: S3Gate;

beforeAll(async () => {
  [s3, source] = await Promise.all([startS3Server(), createTestDatabase('storage_faults')]);
  // About 10 MB uncompressed: the dump goes multipart (8 MiB parts).
  await source.query(`CREATE TABLE bulk (id int PRIMARY KEY, ligne text); INSERT INTO bulk SELECT i, md5(i::text) || md5((i * 7)::text) FROM generate_series(1, 140000) i`);
  const migrate = await aj(['db', 'migrate'], { env: { DATABASE_URL: source.url } });
  expect(migrate.exitCode, migrate.stderr).toBe(0);
  gate = await new S3Gate(s3.port).start();
});

afterAll(async () => {
  await gate?.stop();
  await source?.drop();
  await s3?.stop();
});

const envFor = (prefix: string, endpoint: string, extra: Record<string, string> = {}) => ({ DATABASE_URL: source.url, BACKUP_COMPRESS: '0', ...s3Env(endpoint, 'aj-backups', prefix), ...extra });

async function history(prefix: string) {
  return source.query<{ status: string; error: string | null }>('SELECT status, error FROM backup_runs WHERE storage_url = $1 ORDER BY id', [`s3://aj-backups/${prefix}`]);
}

async function until(condition: () => boolean | Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 300; i += 1) {
    if (await condition()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('storage that stops answering', () => {
  it('backup list --remote ends on SIGTERM within seconds, exit 130', async () => {
    const proxy = await new FaultProxy(s3.port).start();
    try {
      proxy.mode = { kind: 'stall' };
      const list = aj(['backup', 'list', '--remote'], { env: envFor('stall-list', proxy.endpoint) });
      await new Promise((r) => setTimeout(r, 2000));
      const signalled = Date.now();
      list.kill('SIGTERM');
      const result = await list;
      expect(Date.now() - signalled).toBeLessThan(10_000);
      expect(result.exitCode, result.stderr).toBe(130);
      expect(result.stderr).toMatch(/interrupted by SIGTERM/);
      expect(result.stdout).toBe('');
    } finally {
      await proxy.stop();
    }
  });

  it('backup run stalled mid-upload ends on SIGTERM within seconds: row interrupted, lock released, exit 130', async () => {
    gate.rules = { stall: (method) => method === 'PUT' };
    gate.seen.length = 0;
    const run = aj(['backup', 'run'], { env: envFor('stall-run', gate.endpoint) });
    await until(() => gate.seen.some((r) => r.method === 'PUT'), 'the first upload request');
    const signalled = Date.now();
    run.kill('SIGTERM');
    const result = await run;
    expect(Date.now() - signalled).toBeLessThan(10_000);
    expect(result.exitCode, result.stderr).toBe(130);
    expect((await history('stall-run')).map((r) => [r.status, r.error])).toEqual([['failed', 'interrupted by SIGTERM']]);
    gate.rules = {};
    // The lock went with the process: the next run starts at once and succeeds.
    const next = await aj(['backup', 'run', '--json'], { env: envFor('stall-run', s3.endpoint) });
    expect(next.exitCode, next.stderr).toBe(0);
  });

  it('backup run fails after the idle deadline when nobody interrupts it: exit 1, one line naming the setting', async () => {
    gate.rules = { stall: (method) => method === 'PUT' };
    const started = Date.now();
    const run = await aj(['backup', 'run'], { env: envFor('stall-deadline', gate.endpoint, { S3_IDLE_TIMEOUT_SECONDS: '1' }) });
    gate.rules = {};
    expect(run.exitCode, run.stderr).toBe(1);
    expect(Date.now() - started).toBeLessThan(30_000);
    expect(run.stderr.trim().split('\n').at(-1)).toMatch(/^aj: cannot upload s3:\/\/aj-backups\/stall-deadline\/.*: the storage server stopped answering \(check S3_ENDPOINT .*S3_IDLE_TIMEOUT_SECONDS\)\)$/);
    expect((await history('stall-deadline')).map((r) => r.status)).toEqual(['failed']);
  });
});

describe('a bucket with Object Lock and versioning', () => {
  it('takes streamed multipart backups (each part carries Content-MD5), and doctor says what retention does there', async () => {
    gate.rules = { requireChecksum: true, versioning: 'Enabled', objectLock: { mode: 'COMPLIANCE', days: 30 } };
    gate.seen.length = 0;
    const run = await aj(['backup', 'run', '--json'], { env: envFor('locked', gate.endpoint) });
    expect(run.exitCode, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout).sizeBytes).toBeGreaterThan(8 * 1024 * 1024);
    const parts = gate.seen.filter((r) => r.method === 'PUT' && r.url.includes('partNumber='));
    expect(parts.length).toBeGreaterThanOrEqual(2);
    expect(parts.every((r) => r.checksum === 'content-md5')).toBe(true);

    const doctor = await aj(['doctor', '--json'], { env: envFor('locked', gate.endpoint) });
    const storage = JSON.parse(doctor.stdout).checks.find((c: { name: string }) => c.name === 'backup storage');
    expect(storage).toMatchObject({
      status: 'ok',
      detail: 's3://aj-backups/locked (writable; Object Lock COMPLIANCE with a default retention of 30 day(s): deletes by prune and retention only add delete markers; every version stays at least 30 day(s), then until a lifecycle rule expires noncurrent versions)',
    });
  });

  it('prune says that its deletes on a versioned bucket only add delete markers', async () => {
    gate.rules = { versioning: 'Enabled' };
    const env = envFor('versioned', gate.endpoint, { BACKUP_RETENTION_DAYS: '30', BACKUP_KEEP_MIN: '1' });
    for (let i = 0; i < 2; i += 1) {
      const run = await aj(['backup', 'run', '--no-retention'], { env });
      expect(run.exitCode, run.stderr).toBe(0);
    }
    await source.query(`UPDATE backup_runs SET started_at = started_at - interval '100 days' WHERE id = (SELECT min(id) FROM backup_runs WHERE storage_url = 's3://aj-backups/versioned')`);
    const prune = await aj(['backup', 'prune', '--yes', '--json'], { env });
    gate.rules = {};
    expect(prune.exitCode, prune.stderr).toBe(0);
    expect(JSON.parse(prune.stdout).removed).toHaveLength(1);
    expect(prune.stderr).toContain('versioning enabled: deletes by prune and retention only add delete markers; old versions stay (and are billed) until a lifecycle rule expires noncurrent versions');
  });

  it('refuses uploads without a checksum (S3_CHECKSUM=none), and the error names the setting', async () => {
    gate.rules = { requireChecksum: true };
    const run = await aj(['backup', 'run'], { env: envFor('locked-none', gate.endpoint, { S3_CHECKSUM: 'none' }) });
    expect(run.exitCode, run.stderr).toBe(1);
    expect(run.stderr).toMatch(/Content-MD5 OR x-amz-checksum- HTTP header is required.*set S3_CHECKSUM to md5/);
    gate.rules = {};
  });
});

describe('S3 errors on the command line', () => {
  it('no credentials anywhere: exit 3, the settings to set, no SDK internals', async () => {
    const env = {
      DATABASE_URL: source.url, S3_ENDPOINT: s3.endpoint, BACKUP_BUCKET: 's3://aj-backups/nocreds',
      AWS_EC2_METADATA_DISABLED: 'true', AWS_CONFIG_FILE: '/nonexistent/aws-config', AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/aws-credentials',
    };
    const list = await aj(['backup', 'list', '--remote'], { env });
    expect(list.exitCode, list.stderr).toBe(3);
    expect(list.stderr.trim().split('\n').at(-1)).toMatch(/^aj: no S3 credentials to list unfinished uploads in s3:\/\/aj-backups\/nocreds\/.* \(set S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY \(or AWS_PROFILE, or run where an instance role provides them\)\)$/);
    expect(list.stderr).not.toMatch(/logger|is not a function/);
  });

  it('doctor warns, naming the permission, when it may not list unfinished uploads', async () => {
    gate.rules = { deny: (method, url) => method === 'GET' && /[?&]uploads/.test(url) };
    const doctor = await aj(['doctor', '--json'], { env: envFor('doctor-denied', gate.endpoint) });
    gate.rules = {};
    const storage = JSON.parse(doctor.stdout).checks.find((c: { name: string }) => c.name === 'backup storage');
    expect(storage).toMatchObject({ status: 'warn', detail: expect.stringMatching(/; cannot look for what interrupted runs left: access denied: cannot list unfinished uploads in s3:\/\/aj-backups\/doctor-denied\/.* \(s3:ListBucketMultipartUploads on bucket aj-backups\)/) });
  });

  it('access denied names the bucket and the permission', async () => {
    gate.rules = { error: { status: 403, code: 'AccessDenied', message: 'Access Denied' } };
    const run = await aj(['backup', 'list', '--remote'], { env: envFor('denied', gate.endpoint) });
    gate.rules = {};
    expect(run.exitCode, run.stderr).toBe(1);
    expect(run.stderr).toMatch(/access denied: cannot list .* \(s3:ListBucketMultipartUploads on bucket aj-backups\) \(grant s3:ListBucketMultipartUploads on bucket aj-backups/);
  });
});
