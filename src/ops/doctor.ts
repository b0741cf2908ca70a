import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import type { Context, StoreName } from '../context.js';
import { ConfigError, describeError } from '../errors.js';
import { leftoversSummary } from '../backup/leftovers.js';
import { databaseNameOf, parseDatabaseUrl } from '../db/connection.js';
import { sha256Of } from '../storage/hashing.js';
import { retentionEffect } from '../storage/protection.js';

export type CheckStatus = 'ok' | 'warn' | 'fail';

export interface Check {
  name: string;
  status: CheckStatus;
  detail: string;
  hint?: string;
}

export interface DoctorReport {
  ok: boolean;
  checks: Check[];
}

const ok = (name: string, detail: string): Check => ({ name, status: 'ok', detail });
const fail = (name: string, error: unknown, hint?: string): Check => ({ name, status: 'fail', detail: describeError(error), hint });

/** Runs every check; a failing one never stops the others. */
export async function runDoctor(ctx: Context): Promise<DoctorReport> {
  const checks: Check[] = [nodeCheck()];
  try {
    ctx.config();
    checks.push(ok('config', 'valid'));
  } catch (error) {
    checks.push(fail('config', error, 'fix the settings named above'));
    return { ok: false, checks };
  }
  const serverMajor = await databaseChecks(ctx, checks);
  if (serverMajor !== undefined) checks.push(await businessSchemaCheck(ctx, checks.some((c) => c.name === 'migrations' && c.status === 'warn')));
  if (serverMajor !== undefined) checks.push(await (await import('../wal/readiness.js')).walArchivingCheck(ctx, await ctx.db({ migrate: false })).catch((error: unknown) => fail('wal archiving', error)));
  for (const tool of ['pg_dump', 'pg_restore'] as const) checks.push(await toolCheck(ctx, tool, serverMajor));
  for (const name of ['backup', 'archive'] as const) checks.push(await storageCheck(ctx, name));
  checks.push(await mailCheck(ctx));
  checks.push(alertingCheck(ctx));
  checks.push(await templatesCheck(ctx));
  return { ok: checks.every((c) => c.status !== 'fail'), checks };
}

function nodeCheck(): Check {
  const major = Number(process.versions.node.split('.')[0]);
  if (major < 22) {
    return { name: 'node', status: 'warn', detail: `Node ${process.versions.node}`, hint: 'supported, but use Node 22 or 24 LTS on servers: the AWS SDK drops Node 20 in 2027' };
  }
  return ok('node', `Node ${process.versions.node}`);
}

async function databaseChecks(ctx: Context, checks: Check[]): Promise<number | undefined> {
  let serverMajor: number | undefined;
  try {
    const db = await ctx.db({ migrate: false });
    const row = await db.one<{ v: string; n: string; d: string }>(`SELECT version() AS v, current_setting('server_version_num') AS n, current_database() AS d`);
    serverMajor = Math.floor(Number(row!.n) / 10000);
    checks.push(ok('database', `${row!.d} on PostgreSQL ${serverMajor}`));
    const { migrationStatus } = await import('../db/migrate.js');
    const status = await migrationStatus(db);
    const changed = status.filter((m) => m.state === 'changed');
    const pending = status.filter((m) => m.state === 'pending');
    if (changed.length > 0) checks.push({ name: 'migrations', status: 'fail', detail: `changed after being applied: ${changed.map((m) => m.version).join(', ')}`, hint: 'restore the original migration files' });
    else if (pending.length > 0) checks.push({ name: 'migrations', status: 'warn', detail: `${pending.length} pending`, hint: 'run `aj db migrate` (commands also apply them on first use)' });
    else checks.push(ok('migrations', `${status.length} applied`));
  } catch (error) {
    checks.push(fail('database', error, 'check DATABASE_URL'));
  }
  return serverMajor;
}

/** The business mapping against the live tables, as `aj schema check` does it. */
async function businessSchemaCheck(ctx: Context, migrationsPending: boolean): Promise<Check> {
  const name = 'business schema';
  try {
    const { runSchemaCheck } = await import('../business/check.js');
    const report = await runSchemaCheck(ctx);
    const what = report.source === 'built-in' ? 'built-in standalone tables' : report.source;
    // Doctor does not migrate: on a new database aj's own tables are simply not created yet.
    if (!report.ok && report.source === 'built-in' && migrationsPending) return { name, status: 'warn', detail: `${what}: not created yet`, hint: 'run `aj db migrate`' };
    if (!report.ok) return { name, status: 'fail', detail: `${what}: ${report.problems.length} problem(s), first: ${report.problems[0]}`, hint: 'run `aj schema check` for all of them and fix the mapping file' };
    if (report.notes.length > 0) return { name, status: 'warn', detail: `${what} fits; ${report.notes.length} note(s), first: ${report.notes[0]}`, hint: 'run `aj schema check` to read them' };
    return ok(name, `${what} fit the database`);
  } catch (error) {
    // A ConfigError (no file on an app database, unreadable file) names its own fix.
    return fail(name, error, error instanceof ConfigError ? undefined : 'run `aj schema check`');
  }
}

async function toolCheck(ctx: Context, tool: 'pg_dump' | 'pg_restore', serverMajor: number | undefined): Promise<Check> {
  try {
    const { pgToolVersion } = await import('../db/pg-tools.js');
    const found = await pgToolVersion(tool, ctx.config());
    if (serverMajor !== undefined && found.major < serverMajor) {
      return { name: tool, status: 'fail', detail: `${found.path} is version ${found.major}, the server is ${serverMajor}`, hint: `install postgresql-client-${serverMajor} or set PG_BIN_DIR` };
    }
    return ok(tool, `${found.path} (${found.version})`);
  } catch (error) {
    return fail(tool, error);
  }
}

/** Puts, heads, reads back and deletes a small probe object. */
async function storageCheck(ctx: Context, name: StoreName): Promise<Check> {
  const check = `${name} storage`;
  try {
    const store = await ctx.store(name);
    const key = `.aj-doctor/probe-${randomBytes(6).toString('hex')}`;
    const body = Buffer.from(`aj doctor probe ${new Date().toISOString()}\n`);
    const put = await store.put(key, Readable.from([body]), { size: body.length });
    try {
      const head = await store.head(key);
      if (!head || head.size !== body.length) throw new Error('probe object not found after writing it');
      const back = await sha256Of(await store.get(key));
      if (back.sha256 !== put.sha256) throw new Error('probe object read back differs from what was written');
    } finally {
      await store.delete(key);
    }
    const warning = store.kind === 'file' && !(name === 'backup' ? ctx.config().backupLocation : ctx.config().archiveLocation);
    // What retention will do there (versioning, Object Lock), and what interrupted backups left.
    const effect = store.protection ? retentionEffect(await store.protection()) : undefined;
    const detail = `${store.url} (writable${effect ? `; ${effect}` : ''})`;
    const leftovers = name === 'backup'
      ? await leftoversSummary(store, databaseNameOf(parseDatabaseUrl(ctx.config().databaseUrl))).then(
        (found) => found && { found, hint: 'the next `aj backup run` removes them, adopting the dumps it can prove' },
        (error: unknown) => ({ found: `cannot look for what interrupted runs left: ${describeError(error)}`, hint: '`aj backup run` cleans up after interrupted runs only where it can list them' }),
      )
      : undefined;
    if (leftovers) return { name: check, status: 'warn', detail: `${detail}; ${leftovers.found}`, hint: leftovers.hint };
    return warning
      ? { name: check, status: 'warn', detail, hint: `local storage is not off-site: set ${name === 'backup' ? 'BACKUP_BUCKET' : 'ARCHIVE_BUCKET'}` }
      : ok(check, detail);
  } catch (error) {
    return fail(check, error, `check ${name === 'backup' ? 'BACKUP_BUCKET' : 'ARCHIVE_BUCKET'} and the S3 settings`);
  }
}

async function mailCheck(ctx: Context): Promise<Check> {
  try {
    const transport = await ctx.mailer();
    await transport.verify();
    if (transport.kind === 'outbox') return { name: 'mail', status: 'warn', detail: transport.description, hint: 'set SMTP_URL to deliver mail' };
    return ok('mail', `${transport.description} accepts connections`);
  } catch (error) {
    return fail('mail', error, 'check SMTP_URL');
  }
}

/** Every template rendered with sample variables and the company's real details: a broken one fails here, not in front of a client. */
async function templatesCheck(ctx: Context): Promise<Check> {
  try {
    const { checkTemplates, templateSet } = await import('../mail/templates.js');
    const set = templateSet(ctx.config());
    const results = await checkTemplates(set);
    const failed = results.filter((r) => r.error !== undefined);
    if (failed.length > 0) {
      return { name: 'templates', status: 'fail', detail: failed.map((r) => `${r.name}: ${describeError(r.error)}`).join('; '), hint: 'fix each template named (aj mail preview NAME renders one)' };
    }
    const overrides = results.filter((r) => r.source !== 'built-in').length;
    return ok('templates', `${results.length} templates render${overrides > 0 ? `, ${overrides} from ${set.overrideDir}` : ''}`);
  } catch (error) {
    return fail('templates', error);
  }
}

/** Without a channel, a failing cron job and `aj status --alert` tell nobody. */
function alertingCheck(ctx: Context): Check {
  const config = ctx.config();
  const channels = [config.alertEmail && `email to ${config.alertEmail}`, config.alertWebhookUrl && 'webhook'].filter(Boolean);
  if (channels.length === 0) return { name: 'alerting', status: 'warn', detail: 'no alert channel: failures reach nobody', hint: 'set ALERT_EMAIL or ALERT_WEBHOOK_URL, then aj status --alert --test' };
  return ok('alerting', `${channels.join(' and ')} (aj status --alert --test sends a test)`);
}
