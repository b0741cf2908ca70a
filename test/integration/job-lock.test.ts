import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { hostname } from 'node:os';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDatabaseUrl } from '../../src/db/connection.js';
import { acquireJobLock, isJobLocked } from '../../src/db/job-lock.js';
import { Db } from '../../src/db/pool.js';
import { LockHeldError } from '../../src/errors.js';
import { type TestDatabase, createTestDatabase } from '../helpers/pg.js';

// The other process runs the built code, as a second cron run of aj would.
const DIST = fileURLToPath(new URL('../../dist/src/db/', import.meta.url));
const HOLDER = `
const { Db } = await import(${JSON.stringify(`${DIST}pool.js`)});
const { parseDatabaseUrl } = await import(${JSON.stringify(`${DIST}connection.js`)});
const { acquireJobLock } = await import(${JSON.stringify(`${DIST}job-lock.js`)});
const db = await Db.connect(parseDatabaseUrl(process.env.DATABASE_URL), { schema: 'aj' });
const lock = await acquireJobLock(db, process.env.JOB);
process.stdout.write('locked\\n');
process.stdin.once('data', async () => {
  await lock.release();
  await db.close();
  process.stdout.write('released\\n');
});
`;

let database: TestDatabase;
let db: Db;
const children: ChildProcess[] = [];

beforeAll(async () => {
  database = await createTestDatabase('job_lock');
  db = await Db.connect(parseDatabaseUrl(database.url), { schema: 'aj' });
});

afterAll(async () => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  await db?.close();
  await database?.drop();
});

/** Starts another node process holding the job's lock; resolves once it has it. */
async function holdInOtherProcess(job: string, url = database.url): Promise<{ child: ChildProcess; lines: AsyncIterator<string> }> {
  const child = spawn(process.execPath, ['--input-type=module', '-e', HOLDER], {
    env: { ...process.env, DATABASE_URL: url, JOB: job },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  children.push(child);
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  expect((await lines.next()).value).toBe('locked');
  return { child, lines };
}

describe('acquireJobLock across processes', () => {
  it('refuses a second run while another process holds the lock, naming its pid and host', async () => {
    const { child } = await holdInOtherProcess('backup');
    try {
      expect(await isJobLocked(db, 'backup')).toBe(true);
      const error = await acquireJobLock(db, 'backup').catch((e: unknown) => e);
      expect(error).toBeInstanceOf(LockHeldError);
      expect((error as LockHeldError).exitCode).toBe(75);
      expect((error as Error).message).toBe(`backup is already running (pid ${child.pid} on ${hostname()})`);
    } finally {
      child.kill('SIGKILL');
      await once(child, 'exit');
    }
  });

  it('is released by PostgreSQL when the holder dies', async () => {
    const { child } = await holdInOtherProcess('reminders');
    child.kill('SIGKILL');
    await once(child, 'exit');
    // The server notices the dead session on its own schedule; --wait semantics cover that gap.
    const lock = await acquireJobLock(db, 'reminders', { wait: true, pollMs: 50 });
    await lock.release();
  });

  it('with wait, gets the lock once the other process releases it', async () => {
    const { child, lines } = await holdInOtherProcess('import');
    let acquired = false;
    const waiting = acquireJobLock(db, 'import', { wait: true, pollMs: 50 }).then((lock) => {
      acquired = true;
      return lock;
    });
    // Still waiting while the other process holds it.
    expect(await isJobLocked(db, 'import')).toBe(true);
    expect(acquired).toBe(false);
    child.stdin!.write('release\n');
    expect((await lines.next()).value).toBe('released');
    const lock = await waiting;
    expect(await isJobLocked(db, 'import')).toBe(true);
    await lock.release();
    expect(await isJobLocked(db, 'import')).toBe(false);
  });

  it('stops waiting when the run is interrupted', async () => {
    const { child } = await holdInOtherProcess('archive');
    const abort = new AbortController();
    const waiting = acquireJobLock(db, 'archive', { wait: true, pollMs: 50, signal: abort.signal });
    abort.abort(new Error('interrupted by SIGINT'));
    await expect(waiting).rejects.toThrow('interrupted by SIGINT');
    child.kill('SIGKILL');
    await once(child, 'exit');
  });

  it('ignores the same job running against another database on the server', async () => {
    const other = await createTestDatabase('job_lock_other');
    const { child } = await holdInOtherProcess('backup', other.url);
    try {
      expect(await isJobLocked(db, 'backup')).toBe(false);
      const lock = await acquireJobLock(db, 'backup');
      await lock.release();
    } finally {
      child.kill('SIGKILL');
      await once(child, 'exit');
      await other.drop();
    }
  });

  it('keeps different jobs independent and lets release be called twice', async () => {
    const backup = await acquireJobLock(db, 'backup');
    const mail = await acquireJobLock(db, 'mail');
    await backup.release();
    await backup.release();
    expect(await isJobLocked(db, 'backup')).toBe(false);
    expect(await isJobLocked(db, 'mail')).toBe(true);
    await mail.release();
  });
});
