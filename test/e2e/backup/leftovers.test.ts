import { readdirSync, statSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { GetObjectCommand, ListMultipartUploadsCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { aj, scratchDir } from '../../helpers/cli.js';
import { type TestDatabase, createTestDatabase } from '../../helpers/pg.js';
import { pgBinDirWith } from '../../helpers/pg-wrappers.js';
import { S3Gate, type S3Server, s3Env, startS3Server } from '../../helpers/s3.js';

// Run `npm run build` first: these spawn the built bin/aj and kill it with SIGKILL at stages of a backup.

let s3: S3Server;
let source: TestDatabase;
let client: S3Client;

beforeAll(async () => {
  [s3, source] = await Promise.all([startS3Server(), createTestDatabase('leftovers')]);
  // About 10 MB uncompressed: the dump goes multipart (8 MiB parts).
  await source.query(`CREATE TABLE bulk (id int PRIMARY KEY, ligne text); INSERT INTO bulk SELECT i, md5(i::text) || md5((i * 7)::text) FROM generate_series(1, 140000) i`);
  const migrate = await aj(['db', 'migrate'], { env: { DATABASE_URL: source.url } });
  expect(migrate.exitCode, migrate.stderr).toBe(0);
  client = new S3Client({ endpoint: s3.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } });
});

afterAll(async () => {
  client?.destroy();
  await source?.drop();
  await s3?.stop();
});

const envFor = (prefix: string, endpoint = s3.endpoint, extra: Record<string, string> = {}) => ({ DATABASE_URL: source.url, BACKUP_COMPRESS: '0', ...s3Env(endpoint, 'aj-backups', prefix), ...extra });

async function objectsUnder(prefix: string): Promise<string[]> {
  const out = await client.send(new ListObjectsV2Command({ Bucket: 'aj-backups', Prefix: `${prefix}/` }));
  return (out.Contents ?? []).map((o) => o.Key!.slice(prefix.length + 1)).sort();
}

async function uploadsUnder(prefix: string): Promise<string[]> {
  const out = await client.send(new ListMultipartUploadsCommand({ Bucket: 'aj-backups', Prefix: `${prefix}/` }));
  return (out.Uploads ?? []).map((u) => u.Key!.slice(prefix.length + 1));
}

async function history(prefix: string) {
  return source.query<{ id: number; status: string; error: string | null }>('SELECT id, status, error FROM backup_runs WHERE storage_url = $1 ORDER BY id', [`s3://aj-backups/${prefix}`]);
}

async function until(condition: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 300; i += 1) {
    if (await condition()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('the next backup run cleans what a killed one left', () => {
  it('kill -9 mid-upload: the unfinished multipart upload is reported, then aborted by the next run', async () => {
    // pg_dump writes 9 MB, then hangs: the first part is uploaded, the rest never comes.
    const bin = pgBinDirWith({ pg_dump: 'head -c 9000000 /dev/urandom\nexec sleep 60' });
    const victim = aj(['backup', 'run'], { env: envFor('midupload', s3.endpoint, { PG_BIN_DIR: bin }) });
    await until(async () => (await uploadsUnder('midupload')).length > 0, 'the multipart upload');
    victim.kill('SIGKILL');
    await victim;
    const [upload] = await uploadsUnder('midupload');
    expect(upload).toMatch(new RegExp(`^${source.name}/\\d{4}/\\d{2}/\\d{2}/${source.name}-.*\\.dump$`));

    const list = await aj(['backup', 'list', '--remote', '--json'], { env: envFor('midupload') });
    expect(list.exitCode, list.stderr).toBe(0);
    expect(JSON.parse(list.stdout).remote).toMatchObject({ database: source.name, partials: [{ key: upload }], orphans: [], unknown: [] });

    const doctor = await aj(['doctor', '--json'], { env: envFor('midupload') });
    const storage = JSON.parse(doctor.stdout).checks.find((c: { name: string }) => c.name === 'backup storage');
    expect(storage).toMatchObject({ status: 'warn', detail: expect.stringContaining(`1 unfinished upload(s) of database ${source.name} left by interrupted runs`) });

    const run = await aj(['backup', 'run', '--json'], { env: envFor('midupload') });
    expect(run.exitCode, run.stderr).toBe(0);
    expect(run.stderr).toContain(`aborted an unfinished upload of an interrupted run: ${upload}`);
    expect(JSON.parse(run.stdout).cleanup).toMatchObject({ aborted: [upload], adopted: [], removed: [] });
    expect(await uploadsUnder('midupload')).toEqual([]);
    expect((await history('midupload')).map((r) => [r.status, r.error])).toEqual([['failed', 'interrupted'], ['succeeded', null]]);
  });

  it('kill -9 while completing the upload: the dump is adopted when it proves whole, removed when it does not', async () => {
    const gate = await new S3Gate(s3.port).start();
    try {
      for (const damaged of [false, true]) {
        const prefix = damaged ? 'complete-damaged' : 'complete';
        // The server completes the upload; aj never hears back, and is killed waiting.
        gate.rules = { hold: (method, url) => method === 'POST' && url.includes('uploadId=') };
        const victim = aj(['backup', 'run'], { env: envFor(prefix, gate.endpoint) });
        await until(async () => (await objectsUnder(prefix)).some((k) => k.endsWith('.dump')), 'the completed dump');
        victim.kill('SIGKILL');
        await victim;
        gate.rules = {};
        const [dump] = (await objectsUnder(prefix)).filter((k) => k.endsWith('.dump'));
        expect(await objectsUnder(prefix)).toEqual([dump]);
        if (damaged) {
          const key = `${prefix}/${dump}`;
          const bytes = Buffer.from(await (await client.send(new GetObjectCommand({ Bucket: 'aj-backups', Key: key }))).Body!.transformToByteArray());
          bytes[1000] ^= 0xff;
          await client.send(new PutObjectCommand({ Bucket: 'aj-backups', Key: key, Body: bytes }));
        }
        const list = await aj(['backup', 'list', '--remote', '--json'], { env: envFor(prefix) });
        expect(JSON.parse(list.stdout).remote).toMatchObject({ orphans: [{ key: dump }], unknown: [] });

        const run = await aj(['backup', 'run', '--json'], { env: envFor(prefix) });
        expect(run.exitCode, run.stderr).toBe(0);
        const { cleanup, id } = JSON.parse(run.stdout);
        const [killed] = await history(prefix);
        const killedId = Number(killed!.id);
        if (damaged) {
          expect(cleanup).toMatchObject({ adopted: [], removed: [dump] });
          expect(run.stderr).toContain(`removed ${dump}: a dump without manifest that could not be proven`);
          expect(killed).toMatchObject({ status: 'failed', error: 'interrupted' });
          expect((await objectsUnder(prefix)).filter((k) => k.startsWith(dump!.replace(/\.dump$/, '')))).toEqual([]);
        } else {
          expect(cleanup).toMatchObject({ adopted: [{ id: killedId, key: dump }], removed: [] });
          expect(run.stderr).toContain(`adopted ${dump}`);
          expect(killed).toMatchObject({ status: 'succeeded', error: null });
          // The adopted backup is as good as any: verified against its manifest and pg_restore --list.
          const verify = await aj(['backup', 'verify', String(killedId), '--json'], { env: envFor(prefix) });
          expect(verify.exitCode, verify.stderr).toBe(0);
          expect(JSON.parse(verify.stdout)[0]).toMatchObject({ id: killedId, ok: true });
        }
        expect(id).toBeGreaterThan(killedId);
      }
    } finally {
      await gate.stop();
    }
  });

  it('kill -9 after the manifest, before the history says so: the next run adopts the backup', async () => {
    const gate = await new S3Gate(s3.port).start();
    try {
      // The server stores the manifest; aj never hears back, and is killed waiting.
      gate.rules = { hold: (method, url) => method === 'PUT' && url.includes('.manifest.json') };
      const victim = aj(['backup', 'run'], { env: envFor('manifest', gate.endpoint) });
      await until(async () => (await objectsUnder('manifest')).some((k) => k.endsWith('.manifest.json')), 'the manifest');
      victim.kill('SIGKILL');
      await victim;
    } finally {
      await gate.stop();
    }
    const [dump] = (await objectsUnder('manifest')).filter((k) => k.endsWith('.dump'));
    const run = await aj(['backup', 'run', '--json'], { env: envFor('manifest') });
    expect(run.exitCode, run.stderr).toBe(0);
    const [killed] = await history('manifest');
    expect(JSON.parse(run.stdout).cleanup).toMatchObject({ adopted: [{ id: Number(killed!.id), key: dump }], removed: [] });
    expect(killed).toMatchObject({ status: 'succeeded', error: null });
    const list = await aj(['backup', 'list', '--remote', '--json'], { env: envFor('manifest') });
    expect(list.exitCode, list.stderr).toBe(0);
    expect(JSON.parse(list.stdout).remote).toMatchObject({ missing: [], unknown: [], orphans: [], partials: [] });
  });

  it('local storage: the temporary file of a killed run is swept by the next one', async () => {
    const dataDir = scratchDir('leftovers-data');
    const env = { DATABASE_URL: source.url, BACKUP_BUCKET: `file://${join(dataDir, 'backups')}` };
    const bin = pgBinDirWith({ pg_dump: 'head -c 300000 /dev/urandom\nexec sleep 60' });
    const victim = aj(['backup', 'run'], { env: { ...env, PG_BIN_DIR: bin } });
    const folder = join(dataDir, 'backups', source.name);
    const temporary = () => {
      const found: string[] = [];
      const walk = (dir: string) => {
        for (const entry of readdirSync(dir, { withFileTypes: true })) {
          if (entry.isDirectory()) walk(join(dir, entry.name));
          else if (entry.name.startsWith('.ajtmp-')) found.push(join(dir, entry.name));
        }
      };
      try {
        walk(folder);
      } catch {
        return [];
      }
      return found;
    };
    // pg_dump writes the temporary file itself: let it finish its bytes, or it would touch the file
    // after the test ages it (an orphaned pg_dump outlives a killed aj until it ends).
    await until(async () => temporary().some((f) => statSync(f).size >= 300_000), 'the temporary file, written');
    victim.kill('SIGKILL');
    await victim;
    const [file] = temporary();
    // A run killed two hours ago: a temporary file carries no run's key, only its age tells it is dead.
    const past = new Date(Date.now() - 2 * 3600_000);
    utimesSync(file!, past, past);
    const run = await aj(['backup', 'run', '--json'], { env });
    expect(run.exitCode, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout).cleanup.aborted).toEqual([file!.slice(join(dataDir, 'backups').length + 1)]);
    expect(temporary()).toEqual([]);
  });
});
