import { createWriteStream } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Context } from '../context.js';
import { type PgTarget, databaseNameOf, parseDatabaseUrl, withDatabase } from '../db/connection.js';
import { quoteIdent } from '../db/identifiers.js';
import { type Db, connectClient } from '../db/pool.js';
import { ConfigError, OperationError, UsageError, VerificationError } from '../errors.js';
import { readIdentity } from './encryption.js';
import { streamVerified } from './fetch.js';
import { recordFromStorage } from './from-storage.js';
import { type BackupRecord, findBackup } from './history.js';
import { runPgTool } from './pg-process.js';
import { type RestoreOutcome, recordRestore } from './restore-history.js';
import { type CountDifference, compareCounts, countRows } from './row-counts.js';
import { inSchema, ledgerSchema, parseToc } from './toc.js';

export interface RestoreOptions {
  ref: string;
  targetUrl?: string;
  force: boolean;
  yes: boolean;
  create: boolean;
  clean: boolean;
  jobs: number;
  withOwner: boolean;
  withGlobals: boolean;
  verify: boolean;
  identityFile?: string;
  /** With latest-in-storage: whose newest backup (default: DATABASE_URL's database). */
  database?: string;
  onProgress?: (bytes: number) => void;
}

export interface RestoreResult {
  backupId: number;
  key: string;
  database: string;
  created: boolean;
  /** Over the configured database: aj's own schema (AJ_DB_SCHEMA) was left as it was. */
  overProduction: boolean;
  durationMs: number;
  verified: boolean;
  differences: CountDifference[];
  tablesChecked: number;
}

/**
 * `aj backup restore`: the dump is downloaded to a private temp file and its checksum proven
 * before anything touches the target; then pg_restore stops at the first error. Over the
 * production database, everything but aj's own schema is restored, so aj's history stays true.
 * Every restore that reaches a target is recorded in restore_runs.
 */
export async function restoreBackup(ctx: Context, options: RestoreOptions): Promise<RestoreResult> {
  const startedAt = new Date();
  const config = ctx.config();
  const store = await ctx.store('backup');
  // A key (or latest-in-storage) needs no history: the database holding it may be the one lost.
  const fromStorage = options.ref.includes('/') || options.ref === 'latest-in-storage';
  const database = options.database ?? databaseNameOf(parseDatabaseUrl(config.databaseUrl));
  const record = fromStorage ? await recordFromStorage(store, options.ref, database) : await resolveBackup(await ctx.db(), options.ref, store.url);
  if (options.ref === 'latest-in-storage') ctx.io.notice(`latest-in-storage: the newest backup of database ${database} is ${record.object_key}`);
  const { target, overProduction } = await resolveTarget(ctx, parseDatabaseUrl(config.databaseUrl), options);
  const outcome: RestoreOutcome = {
    backupId: record.id || undefined, objectKey: record.object_key!, storageUrl: store.url, targetDatabase: databaseNameOf(target), overProduction, startedAt,
  };
  try {
    const result = await restoreInto(ctx, options, record, target, overProduction ? config.dbSchema : undefined);
    Object.assign(outcome, { verified: result.verified, tablesChecked: result.tablesChecked, differences: result.differences });
    return { ...result, durationMs: Date.now() - startedAt.getTime() };
  } catch (error) {
    outcome.error = ctx.signal.aborted ? ctx.signal.reason : error;
    throw error;
  } finally {
    await recordRestore(ctx, outcome);
  }
}

/** Download, prove, restore, count: everything but the record. `keepSchema` is aj's schema over production. */
async function restoreInto(ctx: Context, options: RestoreOptions, record: BackupRecord, target: PgTarget, keepSchema: string | undefined): Promise<Omit<RestoreResult, 'durationMs'>> {
  const config = ctx.config();
  const store = await ctx.store('backup');
  const database = databaseNameOf(target);
  const identity = record.encrypted_to ? await readIdentity(identityPath(options, config.backupAgeIdentityFile)) : undefined;
  const dir = await mkdtemp(join(tmpdir(), 'aj-restore-'));
  try {
    const dumpFile = join(dir, 'backup.dump');
    await streamVerified(store, record, createWriteStream(dumpFile, { mode: 0o600 }), { identity, signal: ctx.signal, onProgress: options.onProgress });
    const listFile = keepSchema ? await listWithoutSchema(ctx, record, dumpFile, target, keepSchema, join(dir, 'restore.list')) : undefined;
    const created = options.create ? await createDatabase(target, database, options.clean) : false;
    if (options.withGlobals) await restoreGlobals(ctx, record, target, dir);
    await runPgTool('pg_restore', restoreArgs(options, database, dumpFile, created, listFile), target, config, ctx.signal).catch((error: unknown) => {
      // pg_restore stops at the first object the target already has: say what to do about it.
      if (!options.clean && /already exists/.test((error as Error).message)) {
        throw new OperationError(`database ${database} already holds objects of this backup (${(error as Error).message.replace(/^pg_restore failed: /, '')})`, 'restore into a new database (--create and a new name in --target-url), or add --clean to drop and replace them', { cause: error });
      }
      throw error;
    });
    let differences: CountDifference[] = [];
    let tablesChecked = 0;
    if (options.verify) {
      const client = await connectClient(target, 'aj restore verify');
      try {
        // Over production aj's tables were not restored: they hold today's rows, not the dump's.
        const restored = (counts: Record<string, number>) => (keepSchema ? withoutSchemaCounts(counts, keepSchema) : counts);
        const expected = restored(record.row_counts ?? {});
        differences = compareCounts(expected, restored(await countRows(client)));
        tablesChecked = Object.keys(expected).length;
      } finally {
        await client.end();
      }
    }
    return {
      backupId: record.id, key: record.object_key!, database, created, overProduction: keepSchema !== undefined, verified: options.verify, differences, tablesChecked,
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * The dump's table of contents without aj's schema (the schema, its comment and grants, and every
 * object in it), for pg_restore --use-list: this works with every pg_restore, unlike --exclude-schema.
 */
async function listWithoutSchema(ctx: Context, record: BackupRecord, dumpFile: string, target: PgTarget, schema: string, listFile: string): Promise<string> {
  const entries = parseToc(await runPgTool('pg_restore', ['--list', dumpFile], target, ctx.config(), ctx.signal));
  const name = record.id ? `backup ${record.id}` : record.object_key!;
  const ledger = ledgerSchema(entries);
  if (ledger && ledger !== schema) {
    // Earlier aj kept its tables in public, among the app's; which of those are aj's cannot be told
    // from a listing (an index does not name its table), so nothing is guessed.
    throw new OperationError(
      `${name} keeps aj's tables in schema ${ledger}, not in ${schema}: restored over production it would bring aj's old history back beside the app's tables`,
      `restore it into a new database (--target-url URL --create), run \`aj db migrate\` there (it moves aj's tables into ${schema}), then point the app and aj at that database`,
    );
  }
  const kept = entries.filter((e) => !inSchema(e, schema));
  if (!kept.some((e) => e.kind === 'TABLE')) {
    throw new OperationError(
      `${name} holds no table outside aj's schema ${schema}: a restore over production, which leaves that schema as it is, would restore nothing`,
      'restore it into a new database with --target-url URL --create',
    );
  }
  await writeFile(listFile, `${kept.map((e) => e.line).join('\n')}\n`, { mode: 0o600 });
  return listFile;
}

const withoutSchemaCounts = (counts: Record<string, number>, schema: string) =>
  Object.fromEntries(Object.entries(counts).filter(([table]) => !table.startsWith(`${schema}.`)));

export async function resolveBackup(db: Db, ref: string, storageUrl: string): Promise<BackupRecord> {
  if (ref !== 'latest' && !/^\d+$/.test(ref)) throw new UsageError(`"${ref}" is not a backup id`, 'pass a number from `aj backup list`, latest, or an object key');
  const record = await findBackup(db, ref, storageUrl);
  if (!record) throw new OperationError(ref === 'latest' ? `there is no successful backup in ${storageUrl} yet` : `backup ${ref} does not exist`, 'see `aj backup list`');
  if (record.status !== 'succeeded') throw new OperationError(`backup ${record.id} is ${record.status}, not restorable`, 'pick a succeeded backup from `aj backup list`');
  if (record.storage_url !== storageUrl) throw new ConfigError(`backup ${record.id} is stored in ${record.storage_url}, not in ${storageUrl}`, 'set BACKUP_BUCKET to where it was stored');
  return record;
}

/** Restoring over the production database is refused unless asked for by name. */
async function resolveTarget(ctx: Context, production: PgTarget, options: RestoreOptions): Promise<{ target: PgTarget; overProduction: boolean }> {
  const target = options.targetUrl ? parseDatabaseUrl(options.targetUrl, '--target-url') : undefined;
  if (target && !sameDatabase(target, production)) return { target, overProduction: false };
  if (!options.force) {
    throw new UsageError(
      target ? '--target-url is the configured DATABASE_URL database' : 'no --target-url given',
      'restore into a scratch database with --target-url URL; overwriting the production database needs --force',
    );
  }
  const name = databaseNameOf(production);
  await ctx.io.confirm(`This overwrites the production database ${name} (all but aj's own schema ${ctx.config().dbSchema})`, { yes: options.yes, typeToConfirm: name });
  return { target: target ?? production, overProduction: true };
}

function sameDatabase(a: PgTarget, b: PgTarget): boolean {
  const host = (t: PgTarget) => (t.host ?? 'localhost').replace(/^127\.0\.0\.1$|^::1$/, 'localhost');
  return host(a) === host(b) && (a.port ?? 5432) === (b.port ?? 5432) && databaseNameOf(a) === databaseNameOf(b);
}

function identityPath(options: RestoreOptions, configured: string | undefined): string {
  const path = options.identityFile ?? configured;
  if (!path) throw new ConfigError('this backup is encrypted and no age identity was given', 'pass --identity FILE or set BACKUP_AGE_IDENTITY_FILE');
  return path;
}

async function createDatabase(target: PgTarget, database: string, clean: boolean): Promise<boolean> {
  const admin = await connectClient(withDatabase(target, 'postgres'), 'aj restore');
  try {
    const { rows } = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    if (rows.length > 0) {
      if (!clean) throw new OperationError(`database ${database} already exists`, 'pick another --target-url, or add --clean to restore over it');
      return false;
    }
    await admin.query(`CREATE DATABASE ${quoteIdent(database)}`);
    return true;
  } finally {
    await admin.end();
  }
}

function restoreArgs(options: RestoreOptions, database: string, file: string, created: boolean, listFile: string | undefined): string[] {
  const args = ['--no-password', '--exit-on-error', `--dbname=${database}`];
  if (listFile) args.push(`--use-list=${listFile}`);
  if (!options.withOwner) args.push('--no-owner', '--no-acl');
  if (options.clean && !created) args.push('--clean', '--if-exists');
  // One transaction makes a failed restore leave nothing behind; -j cannot run in one.
  args.push(options.jobs > 1 ? `--jobs=${options.jobs}` : '--single-transaction');
  args.push(file);
  return args;
}

/** Roles first, so that owners exist; a role that already exists is not an error worth stopping for. */
async function restoreGlobals(ctx: Context, record: BackupRecord, target: PgTarget, dir: string): Promise<void> {
  if (!record.globals_key) {
    ctx.io.warn(`backup ${record.id} has no roles file; restoring without them`);
    return;
  }
  const store = await ctx.store('backup');
  const file = join(dir, 'globals.sql');
  const { pipeline } = await import('node:stream/promises');
  await pipeline(await store.get(record.globals_key), createWriteStream(file, { mode: 0o600 }));
  try {
    await runPgTool('psql', ['--no-password', '--quiet', '--no-psqlrc', `--dbname=postgres`, '-v', 'ON_ERROR_STOP=0', '-f', file], withDatabase(target, 'postgres'), ctx.config(), ctx.signal);
  } catch (error) {
    ctx.io.warn(`some roles could not be restored: ${(error as Error).message}`);
  }
}

export function assertVerified(result: RestoreResult): void {
  if (result.differences.length > 0) {
    throw new VerificationError(`restore verification found ${result.differences.length} table(s) whose row counts differ from the manifest`, 'see the table above; do not trust this backup');
  }
}
