import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { aj, scratchDir } from '../helpers/cli.js';
import { type TestDatabase, createTestDatabase } from '../helpers/pg.js';
import { startSmtpServer } from '../helpers/smtp.js';

/**
 * What a database restart or failover does to a running job: its sessions are terminated. Here the
 * session holding the import's job lock is ended with pg_terminate_backend mid-import.
 */
let db: TestDatabase;
let dir: string;
let env: Record<string, string>;

beforeAll(async () => {
  db = await createTestDatabase('lost_connection');
  dir = scratchDir('lost-connection');
  env = { DATABASE_URL: db.url, AJ_DATA_DIR: join(dir, 'data') };
  expect((await aj(['db', 'migrate'], { env })).exitCode).toBe(0);
  const rows = Array.from({ length: 300_000 }, (_, i) => `CL-${i};Client ${i};client${i}@exemple.fr;07100`);
  writeFileSync(join(dir, 'clients.csv'), `Référence;Nom;Email;Code postal\n${rows.join('\n')}\n`);
});

afterAll(async () => db?.drop());

async function lockSessionOf(job: string): Promise<number> {
  for (let i = 0; i < 200; i += 1) {
    const [row] = await db.query(`SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name LIKE $1`, [`aj ${job} pid=%`]);
    if (row) return row.pid as number;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`no ${job} lock session appeared`);
}

describe('a job whose lock session is terminated', () => {
  it('stops with one clear line and exit 1, writes nothing, and the next run closes its history row and imports', async () => {
    const running = aj(['import', 'csv', 'clients.csv', '--entity', 'clients'], { env, cwd: dir });
    const pid = await lockSessionOf('import');
    await db.query('SELECT pg_terminate_backend($1)', [pid]);
    const r = await running;
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain('lost the database session holding the import lock');
    expect(r.stderr).not.toMatch(/Unhandled|\n\s+at /);
    expect(r.stdout).toBe('');
    expect((await db.query('SELECT count(*)::int AS n FROM clients'))[0]!.n).toBe(0);

    const again = await aj(['import', 'csv', 'clients.csv', '--entity', 'clients', '--json'], { env, cwd: dir });
    expect(again.exitCode, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ inserted: 300_000 });
    expect(await db.query(`SELECT count(*)::int AS n FROM import_runs WHERE status = 'running'`)).toEqual([{ n: 0 }]);
    expect(await db.query(`SELECT status FROM job_runs WHERE job = 'import' ORDER BY id`)).toEqual([{ status: 'failed' }, { status: 'succeeded' }]);
  });
});

describe('a command whose peer stops answering', () => {
  it('ends within 10 s of SIGTERM (exit 130), whatever the SMTP server does', async () => {
    const smtp = await startSmtpServer();
    try {
      smtp.fault = 'stall';
      const sending = aj(['mail', 'send', '--to', 'client@exemple.fr', '--subject', 'Planning', '--text', 'Bonjour'], { env: { ...env, SMTP_URL: smtp.url }, forceKillAfterDelay: false });
      for (let i = 0; i < 100 && smtp.messages.length === 0; i += 1) await new Promise((resolve) => setTimeout(resolve, 50));
      const signalled = Date.now();
      sending.kill('SIGTERM');
      const r = await sending;
      expect(r.exitCode).toBe(130);
      expect(Date.now() - signalled).toBeLessThan(12_000);
      expect(r.stderr).toContain('SIGTERM received');
      expect(r.stderr).toContain('still not stopped 10 s after SIGTERM: exiting now');
    } finally {
      smtp.fault = undefined;
      await smtp.stop();
    }
  });
});
