import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { AJ_BIN, aj, cleanEnv, scratchDir } from '../../helpers/cli.js';
import { type TestDatabase, createTestDatabase, dropDatabase, urlFor } from '../../helpers/pg.js';
import { type S3Server, s3Env, startS3Server } from '../../helpers/s3.js';
import { contentChecksums, seedBusinessData } from './fixture.js';

let s3: S3Server;
let source: TestDatabase;
const scratch: string[] = [];

beforeAll(async () => {
  [s3, source] = await Promise.all([startS3Server(), createTestDatabase('backup_enc')]);
  await seedBusinessData(source, 2_000);
});

afterAll(async () => {
  await Promise.all(scratch.map((name) => dropDatabase(name)));
  await source?.drop();
  await s3?.stop();
});

function scratchDb(label: string) {
  const name = `aj_drill_${label}_${Math.random().toString(16).slice(2, 8)}`;
  scratch.push(name);
  return { name, url: urlFor(name) };
}

async function identityFiles() {
  const age = await import('age-encryption');
  const dir = scratchDir('age');
  const identity = await age.generateIdentity();
  const other = await age.generateIdentity();
  writeFileSync(join(dir, 'key.txt'), `# created for a test\n${identity}\n`, { mode: 0o600 });
  writeFileSync(join(dir, 'wrong.txt'), `${other}\n`, { mode: 0o600 });
  return { recipient: await age.identityToRecipient(identity), right: join(dir, 'key.txt'), wrong: join(dir, 'wrong.txt') };
}

describe('encrypted backups', () => {
  it('encrypts to an age recipient, restores with the identity, refuses a wrong one with exit 4', async () => {
    const keys = await identityFiles();
    const env = { DATABASE_URL: source.url, ...s3Env(s3.endpoint, 'aj-backups', 'enc'), BACKUP_AGE_RECIPIENT: keys.recipient };
    const run = await aj(['backup', 'run', '--json'], { env });
    expect(run.exitCode, run.stderr).toBe(0);
    const record = JSON.parse(run.stdout);
    expect(record.objectKey).toMatch(/\.dump\.age$/);
    expect(record.encryptedTo).toMatch(/^sha256:[0-9a-f]{16}$/);

    const noIdentity = await aj(['backup', 'restore', 'latest', '--target-url', scratchDb('noid').url, '--create', '--yes'], { env });
    expect(noIdentity.exitCode, noIdentity.stderr).toBe(3);
    expect(noIdentity.stderr).toMatch(/--identity/);

    const wrongTarget = scratchDb('wrong');
    const wrong = await aj(['backup', 'restore', 'latest', '--target-url', wrongTarget.url, '--create', '--yes', '--identity', keys.wrong], { env });
    expect(wrong.exitCode, wrong.stderr).toBe(4);
    expect(await source.query('SELECT 1 FROM pg_database WHERE datname = $1', [wrongTarget.name])).toEqual([]);

    const verify = await aj(['backup', 'verify', '--identity', keys.right, '--json'], { env });
    expect(verify.exitCode, verify.stderr).toBe(0);
    expect(JSON.parse(verify.stdout)[0].checked).toEqual(['size', 'sha256', 'decryption', 'pg_restore --list']);

    const target = scratchDb('enc');
    const restore = await aj(['backup', 'restore', 'latest', '--target-url', target.url, '--create', '--verify', '--yes', '--jobs', '2', '--json'], {
      env: { ...env, BACKUP_AGE_IDENTITY_FILE: keys.right },
    });
    expect(restore.exitCode, restore.stderr).toBe(0);
    const pg = (await import('pg')).default;
    const restored = new pg.Client({ connectionString: target.url });
    await restored.connect();
    try {
      expect(await contentChecksums({ query: async (sql: string) => (await restored.query(sql)).rows })).toEqual(await contentChecksums(source));
    } finally {
      await restored.end();
    }
  });
});

describe('retention on local file storage', () => {
  it('deletes old backups but keeps BACKUP_KEEP_MIN newest and the newest verified; rows become deleted', async () => {
    const dir = scratchDir('retention');
    const env = { DATABASE_URL: source.url, BACKUP_BUCKET: `file://${dir}`, BACKUP_RETENTION_DAYS: '7', BACKUP_KEEP_MIN: '2' };
    const ids: number[] = [];
    for (let i = 0; i < 4; i += 1) {
      const run = await aj(['backup', 'run', '--json', '--no-retention'], { env });
      expect(run.exitCode, run.stderr).toBe(0);
      ids.push(JSON.parse(run.stdout).id);
    }
    // Age them: 40, 30, 20 and 10 days old; the oldest one is the newest verified.
    for (const [i, id] of ids.entries()) await source.query(`UPDATE backup_runs SET started_at = now() - make_interval(days => $2) WHERE id = $1`, [id, 40 - i * 10]);
    const verify = await aj(['backup', 'verify', String(ids[0])], { env });
    expect(verify.exitCode, verify.stderr).toBe(0);

    const dry = await aj(['backup', 'prune', '--dry-run', '--json'], { env });
    expect(JSON.parse(dry.stdout).removed.map((r: { id: number }) => r.id)).toEqual([ids[1]]);
    const unattended = await aj(['backup', 'prune'], { env });
    expect(unattended.exitCode, unattended.stderr).toBe(2);
    // On a terminal (script gives it one): the backups are listed first, and Enter alone answers No.
    const onTerminal = execa('script', ['-qec', `${process.execPath} -- ${AJ_BIN} backup prune`, '/dev/null'], { env: cleanEnv(env), extendEnv: false, reject: false, cwd: dir, timeout: 30_000 });
    let screen = '';
    let answered = false;
    onTerminal.stdout!.on('data', (chunk: Buffer) => {
      screen += chunk.toString();
      // The list is printed before the prompt; Enter goes once the prompt has had time to take the terminal.
      if (!answered && screen.includes(`backup ${ids[1]} `)) {
        answered = true;
        setTimeout(() => onTerminal.stdin!.write('\r'), 1000);
      }
    });
    const prompt = await onTerminal;
    expect(prompt.exitCode, screen).toBe(2);
    expect(screen).toContain('cancelled (nothing was changed)');
    expect(JSON.parse((await aj(['backup', 'prune', '--dry-run', '--json'], { env })).stdout).removed).toHaveLength(1);

    const run = await aj(['backup', 'run', '--json'], { env });
    expect(run.exitCode, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout).pruned.sort()).toEqual([ids[1], ids[2]].sort());
    const rows = await source.query<{ id: number; status: string; object_key: string }>(
      'SELECT id, status, object_key FROM backup_runs WHERE storage_url = $1 ORDER BY id', [`file://${dir}`],
    );
    expect(rows.map((r) => r.status)).toEqual(['succeeded', 'deleted', 'deleted', 'succeeded', 'succeeded']);
    for (const row of rows) expect(existsSync(join(dir, row.object_key))).toBe(row.status === 'succeeded');
    expect(readdirSync(dir, { recursive: true }).some((f) => String(f).includes('.ajtmp-'))).toBe(false);
  });
});
