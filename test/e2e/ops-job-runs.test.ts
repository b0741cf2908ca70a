import { readFileSync } from 'node:fs';
import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { aj, scratchDir } from '../helpers/cli.js';
import { pgBinDirWith } from '../helpers/pg-wrappers.js';
import { type TestDatabase, createTestDatabase } from '../helpers/pg.js';
import { type SmtpTestServer, startSmtpServer } from '../helpers/smtp.js';

let database: TestDatabase;
let smtp: SmtpTestServer;
let monitor: Server;
const requests: Array<{ method: string; url: string; body: string }> = [];
let env: Record<string, string>;

const jobRuns = () => database.query(`SELECT id, job, status, exit_code, summary, error, pid, host, finished_at FROM job_runs ORDER BY id`);
const SECRET = 'smtp-pass-never-shown';

beforeAll(async () => {
  database = await createTestDatabase('ops_runs');
  await database.query(`CREATE TABLE plantes (id serial PRIMARY KEY, nom text); INSERT INTO plantes (nom) SELECT 'rose ' || i FROM generate_series(1, 500) i`);
  smtp = await startSmtpServer();
  monitor = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      requests.push({ method: req.method!, url: req.url!, body });
      res.end('OK');
    });
  });
  await new Promise<void>((resolve) => monitor.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(monitor.address() as AddressInfo).port}`;
  env = {
    DATABASE_URL: database.url, BACKUP_BUCKET: `file://${scratchDir('ops-bk')}`, SMTP_URL: smtp.url, SMTP_PASS: SECRET,
    ALERT_EMAIL: 'admin@art-et-jardin.fr', ALERT_WEBHOOK_URL: `${base}/alert`, BACKUP_PING_URL: `${base}/ping/backup`,
  };
});

afterAll(async () => {
  monitor?.close();
  await smtp?.stop();
  await database?.drop();
});

describe('job runs recorded around cron-able commands', () => {
  it('records a success with its summary, pings the monitor and writes valid metrics', async () => {
    const metrics = join(scratchDir('metrics'), 'aj.prom');
    const run = await aj(['--metrics-file', metrics, 'backup', 'run'], { env });
    expect(run.exitCode, run.stderr).toBe(0);
    const [row] = await jobRuns();
    const [backup] = await database.query(`SELECT total_rows FROM backup_runs`);
    expect(row).toMatchObject({ job: 'backup', status: 'succeeded', exit_code: 0, error: null, summary: expect.stringMatching(new RegExp(`^backup 1: .* ${backup!.total_rows} rows$`)) });
    expect(row!.finished_at).toBeInstanceOf(Date);
    expect(requests.filter((r) => r.url === '/ping/backup')).toHaveLength(1);
    expect(smtp.messages).toHaveLength(0);

    const text = readFileSync(metrics, 'utf8');
    const declared = new Set<string>();
    for (const line of text.trimEnd().split('\n')) {
      const type = /^# TYPE (aj_[a-z_]+) (gauge|counter)$/.exec(line);
      if (type) declared.add(type[1]!);
      else if (!line.startsWith('# HELP aj_')) {
        const sample = /^(aj_[a-z_]+)(\{[a-z_]+="[^"]*"(,[a-z_]+="[^"]*")*\})? (-?\d+(\.\d+)?(e[+-]?\d+)?|NaN)$/.exec(line);
        expect(sample, line).not.toBeNull();
        expect(declared.has(sample![1]!), `${sample![1]} declared before its samples`).toBe(true);
      }
    }
    expect(text).toMatch(new RegExp(`^aj_backup_last_rows ${backup!.total_rows}$`, 'm'));
    expect(text).toMatch(/^aj_job_last_success_timestamp_seconds\{job="backup"\} \d+/m);
    expect(text).toMatch(/^aj_emails_total\{status="sent"\} 0$/m);
  });

  it('records a failure with its one-line error (secrets scrubbed) and alerts once per cooldown', async () => {
    const failing = { ...env, PG_BIN_DIR: pgBinDirWith({ pg_dump: `echo "pg_dump: error: disk full near ${SECRET}" >&2; exit 1` }) };
    const first = await aj(['backup', 'run'], { env: failing });
    expect(first.exitCode).toBe(1);
    const second = await aj(['backup', 'run'], { env: failing });
    expect(second.exitCode).toBe(1);
    const failed = (await jobRuns()).filter((r) => r.status === 'failed');
    expect(failed).toHaveLength(2);
    expect(failed[0]).toMatchObject({ job: 'backup', exit_code: 1, error: expect.stringContaining('disk full near ****') });
    expect(JSON.stringify(failed)).not.toContain(SECRET);
    expect(smtp.messages).toHaveLength(1);
    const mail = smtp.messages[0]!.raw.toString();
    expect(mail).toContain('aj backup run failed');
    expect(mail).not.toContain(SECRET);
    expect(smtp.messages[0]!.to).toEqual(['admin@art-et-jardin.fr']);
    const alerts = requests.filter((r) => r.url === '/alert').map((r) => JSON.parse(r.body));
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatchObject({ source: 'aj', job: 'backup', key: 'backup' });
    expect(alerts[0].lines.join('\n')).toContain('Investigate: aj status');

    // Once the cooldown has passed, the still-broken job alerts again.
    await database.query(`UPDATE ops_alerts SET sent_at = sent_at - interval '61 minutes'`);
    expect((await aj(['backup', 'run'], { env: failing })).exitCode).toBe(1);
    expect(smtp.messages).toHaveLength(2);
  });

  it('closes a SIGKILLed run as interrupted on the next run', async () => {
    const victim = aj(['backup', 'run'], { env: { ...env, PG_BIN_DIR: pgBinDirWith({ pg_dump: 'exec sleep 20' }) } });
    const running = async () => (await jobRuns()).filter((r) => r.status === 'running');
    for (let i = 0; i < 100 && (await running()).length === 0; i += 1) await new Promise((r) => setTimeout(r, 100));
    const [open] = await running();
    expect(open).toMatchObject({ job: 'backup', pid: expect.any(Number) });
    victim.kill('SIGKILL');
    await victim;
    const next = await aj(['backup', 'run'], { env });
    expect(next.exitCode, next.stderr).toBe(0);
    expect(next.stderr).toMatch(/1 earlier backup run\(s\) had been interrupted/);
    const rows = await jobRuns();
    expect(rows.find((r) => r.id === open!.id)).toMatchObject({ status: 'interrupted', exit_code: null });
    expect(rows.at(-1)).toMatchObject({ status: 'succeeded' });
  });

  it('never changes the outcome of a command: unreachable database, bad config, non-job commands', async () => {
    const before = (await jobRuns()).length;
    const down = await aj(['backup', 'run'], { env: { ...env, DATABASE_URL: 'postgresql://postgres@127.0.0.1:1/nothing' } });
    expect(down.exitCode).toBe(1);
    // One line for the error, one saying the alert went out without the database.
    expect(down.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^aj: cannot reach PostgreSQL/), expect.stringMatching(/^aj: alert sent without the database/)]);
    const badConfig = await aj(['backup', 'run'], { env: { ...env, ALERT_COOLDOWN_MINUTES: 'soon' } });
    expect(badConfig.exitCode).toBe(3);
    const list = await aj(['backup', 'list'], { env });
    expect(list.exitCode).toBe(0);
    expect(await jobRuns()).toHaveLength(before);
  });

  it('aj status reports the jobs and exits 1 while a rule is unhealthy', async () => {
    const status = await aj(['status', '--json'], { env });
    expect(status.exitCode).toBe(1);
    const report = JSON.parse(status.stdout);
    expect(report.jobs.find((j: { job: string }) => j.job === 'backup')).toMatchObject({ outcome: 'succeeded', command: 'aj backup run' });
    expect(report.checks.find((c: { name: string }) => c.name === 'backup')).toMatchObject({ ok: true });
    expect(report.checks.find((c: { name: string }) => c.name === 'reminders')).toMatchObject({ ok: false });
    expect(status.stderr).toMatch(/unhealthy: backup-proven, reminders/);
  });

  it('logs JSON lines on stderr with --log-format json, or auto when stderr is not a terminal', async () => {
    for (const [args, extra] of [[['--log-format', 'json'], {}], [[], { AJ_LOG_FORMAT: 'auto' }]] as const) {
      const run = await aj([...args, 'backup', 'verify', '999'], { env: { ...env, ...extra } });
      expect(run.exitCode).toBe(1);
      const lines = run.stderr.trim().split('\n').map((l) => JSON.parse(l));
      const error = lines.find((l) => l.level === 'error');
      expect(error).toMatchObject({ job: 'backup-verify', message: expect.stringContaining('backup 999 does not exist') });
      expect(new Date(error.time).getTime()).not.toBeNaN();
      const alert = lines.find((l) => l.message.startsWith('alert sent'));
      if (alert) expect(alert).toMatchObject({ level: 'info', fields: { key: 'backup-verify', webhook: 'HTTP 200' } });
      expect(run.stdout).toBe('');
    }
    expect((await aj(['--log-format', 'xml', 'status'], { env })).exitCode).toBe(2);
  });

  it('records neither a typo nor a bad setting as a job run, and a switched-off job as skipped, without a success ping', async () => {
    const before = await jobRuns();
    const pings = requests.filter((r) => r.url === '/ping/backup').length;
    const typo = await aj(['backup', 'verify', 'abc'], { env });
    expect(typo.exitCode).toBe(2);
    const missingS3 = await aj(['backup', 'run'], { env: { ...env, BACKUP_BUCKET: 'not a location' } });
    expect(missingS3.exitCode).toBe(3);
    expect(await jobRuns()).toEqual(before);

    const off = await aj(['backup', 'run'], { env: { ...env, BACKUP_ENABLED: 'false' } });
    expect(off.exitCode, off.stderr).toBe(0);
    expect((await jobRuns()).at(-1)).toMatchObject({ job: 'backup', status: 'skipped', exit_code: 0, error: 'BACKUP_ENABLED is false' });
    expect(requests.filter((r) => r.url === '/ping/backup')).toHaveLength(pings);
  });
  it('alerts without the database when it is unreachable, once per cooldown kept in AJ_DATA_DIR; status --alert too; --test sends one', async () => {
    const downEnv = { ...env, DATABASE_URL: 'postgresql://postgres@127.0.0.1:1/nothing', AJ_DATA_DIR: scratchDir('offline-alerts') };
    const mails = smtp.messages.length;
    const hooks = () => requests.filter((r) => r.url === '/alert');
    const hooksBefore = hooks().length;
    const first = await aj(['backup', 'run'], { env: downEnv });
    expect(first.exitCode).toBe(1);
    expect(first.stderr).toContain('alert sent without the database (email to admin@art-et-jardin.fr, webhook)');
    expect(smtp.messages).toHaveLength(mails + 1);
    expect(smtp.messages.at(-1)!.to).toEqual(['admin@art-et-jardin.fr']);
    expect(JSON.parse(hooks().at(-1)!.body)).toMatchObject({ key: 'database:backup', job: 'backup', subject: expect.stringContaining('its database is unreachable') });
    expect(first.stderr + JSON.stringify(hooks().at(-1))).not.toContain(SECRET);

    const again = await aj(['backup', 'run'], { env: downEnv });
    expect(again.exitCode).toBe(1);
    expect(smtp.messages).toHaveLength(mails + 1);
    const status = await aj(['status', '--alert'], { env: downEnv });
    expect(status.exitCode).toBe(1);
    expect(smtp.messages).toHaveLength(mails + 2);
    expect(hooks()).toHaveLength(hooksBefore + 2);

    const test = await aj(['status', '--alert', '--test', '--json'], { env });
    expect(test.exitCode, test.stderr).toBe(0);
    expect(JSON.parse(test.stdout)).toMatchObject({ sent: true });
    expect(smtp.messages).toHaveLength(mails + 3);
    expect((await aj(['status', '--alert', '--test'], { env: { ...env, ALERT_EMAIL: '', ALERT_WEBHOOK_URL: '' } })).exitCode).toBe(3);
  });
});
