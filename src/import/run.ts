import { readFileSync } from 'node:fs';
import { hostname, userInfo } from 'node:os';
import { basename } from 'node:path';
import type { Context } from '../context.js';
import type pg from 'pg';
import type { Db } from '../db/pool.js';
import { UsageError } from '../errors.js';
import { type ApplyCounts, type OnConflict, applyStaged, copySql, stagingTableSql, writableFields } from './apply.js';
import { type Encoding, parseDelimiter, parseEncoding } from './detect.js';
import { type Entity, fieldNames } from './entities.js';
import { parseMapOverrides } from './headers.js';
import { ProblemLog } from './problems.js';
import type { RowProblem } from './rows.js';
import { openCsv } from './source.js';
import { stageCsv } from './stage.js';

// Enough for a million clients' staging table; the server takes it as the table grows, not up front.
const STAGING_BUFFERS = '256MB';

export interface ImportOptions {
  file: string;
  entity: Entity;
  encoding?: string;
  delimiter?: string;
  map?: string[];
  mappingFile?: string;
  onConflict: OnConflict;
  skipInvalid?: boolean;
  dryRun?: boolean;
  reportPath?: string;
  wait?: boolean;
}

export interface ImportResult extends ApplyCounts {
  runId: number;
  status: 'succeeded' | 'invalid';
  entity: Entity;
  file: string;
  sha256: string;
  encoding: Encoding;
  delimiter: string;
  dryRun: boolean;
  read: number;
  invalid: number;
  unknownColumns: string[];
  /** Fields the file has but the app's table has no column for: read and checked, not written. */
  unusedFields: string[];
  problemCount: number;
  problems: RowProblem[];
  previousImport?: { runId: number; finishedAt: string };
  durationMs: number;
  rowsPerSecond: number;
}

/**
 * Imports one CSV file under the `import` job lock: stream, validate, COPY into a temporary
 * staging table, then apply set-based, all in one transaction. Nothing is written when any row
 * is invalid (unless skipInvalid) or on a dry run; the import_runs row records every attempt.
 */
export async function runImport(options: ImportOptions, ctx: Context): Promise<ImportResult> {
  const started = Date.now();
  const overrides = parseMapOverrides(options.map ?? [], options.mappingFile ? readMappingFile(options.mappingFile) : undefined);
  const encoding = options.encoding ? parseEncoding(options.encoding) : undefined;
  const delimiter = options.delimiter ? parseDelimiter(options.delimiter) : undefined;
  const source = await openCsv(options.file, { encoding, delimiter });

  const db = await ctx.db();
  const business = await ctx.business();
  const { acquireJobLock } = await import('../db/job-lock.js');
  const lock = await acquireJobLock(db, 'import', { wait: options.wait, signal: ctx.signal });
  await closeInterruptedRuns(ctx, db);
  const fileName = options.file === '-' ? '(stdin)' : basename(options.file);
  const problems = new ProblemLog(options.reportPath);
  const run = await db.one<{ id: number }>(
    `INSERT INTO import_runs (entity, file_name, file_sha256, on_conflict, dry_run, status, run_by) VALUES ($1, $2, '', $3, $4, 'running', $5) RETURNING id`,
    [options.entity, fileName, options.onConflict, Boolean(options.dryRun), runBy()],
  );
  const runId = run!.id;
  let rowsRead = 0;
  try {
    const progress = ctx.io.progress('importing');
    const fields = fieldNames(options.entity);
    const { from } = await import('pg-copy-streams');
    // With -v, the import's profile: when each phase ends (ms since the process started) and each apply statement's time.
    const at = () => `${Math.round(performance.now())} ms`;
    ctx.io.debug(`start-up, connection, lock and business mapping done at ${at()}`);
    const outcome = await db.tx(async (connection) => {
      const client = ctx.io.verbose ? timedQueries(connection, (text, ms) => ctx.io.debug(`${ms} ms: ${text.replace(/\s+/g, ' ').slice(0, 80)}`)) : connection;
      // Temporary tables live in the session's own buffers, 8 MB by default: a larger staging table
      // went through temporary files. Settable before the session's first temporary table only.
      await client.query(`SET temp_buffers = '${STAGING_BUFFERS}'`);
      await client.query(stagingTableSql(business, options.entity, fields));
      const staged = await stageCsv(source, client.query(from(copySql(fields))), {
        entity: options.entity,
        overrides,
        problems,
        signal: ctx.signal,
        onProgress: (rows) => progress.update(`${rows.toLocaleString('fr-FR')} rows, ${Math.round(rows / ((Date.now() - started) / 1000)).toLocaleString('fr-FR')} rows/s`),
      });
      rowsRead = staged.rowsRead;
      progress.done();
      ctx.io.debug(`staged ${staged.staged} of ${rowsRead} rows (read, checked, copied) at ${at()}`);
      const counts = await applyStaged(client, business, options.entity, fields, options.onConflict, problems, Boolean(options.skipInvalid), staged.referencesMayRepeat);
      ctx.io.debug(`applied at ${at()}`);
      const ok = problems.count === 0 || Boolean(options.skipInvalid);
      // Throwing is how db.tx rolls back: invalid rows without --skip-invalid, or a dry run.
      if (!ok || options.dryRun) throw new Rollback({ staged, counts, ok });
      return { staged, counts, ok };
    }).catch((error: unknown) => {
      if (error instanceof Rollback) return error.outcome;
      throw error;
    });
    ctx.io.debug(`committed at ${at()}`);
    await problems.close();
    const sha256 = source.sha256();
    const counts = outcome.ok ? outcome.counts : { inserted: 0, updated: 0, unchanged: 0, skipped: 0 };
    const status = outcome.ok ? 'succeeded' : 'invalid';
    const invalid = problems.invalidRows;
    await db.query(
      `UPDATE import_runs SET status = $2, file_sha256 = $3, rows_read = $4, inserted = $5, updated = $6, skipped = $7, invalid = $8, unchanged = $9, finished_at = now() WHERE id = $1`,
      [runId, status, sha256, rowsRead, counts.inserted, counts.updated, counts.skipped, invalid, counts.unchanged],
    );
    const previous = await db.one<{ id: number; finished_at: Date }>(
      `SELECT id, finished_at FROM import_runs WHERE file_sha256 = $1 AND entity = $2 AND status = 'succeeded' AND NOT dry_run AND id <> $3 ORDER BY id DESC LIMIT 1`,
      [sha256, options.entity, runId],
    );
    const durationMs = Date.now() - started;
    return {
      runId, status, entity: options.entity, file: fileName, sha256, encoding: source.detected.encoding, delimiter: source.detected.delimiter,
      dryRun: Boolean(options.dryRun), read: rowsRead, invalid, ...counts, unknownColumns: outcome.staged.mapping.unknown,
      unusedFields: unusedFields(outcome.staged.mapping.fields, writableFields(business, options.entity, fields)),
      problemCount: problems.count, problems: problems.first,
      previousImport: previous ? { runId: previous.id, finishedAt: previous.finished_at.toISOString() } : undefined,
      durationMs, rowsPerSecond: Math.round(rowsRead / Math.max(durationMs / 1000, 0.001)),
    };
  } catch (error) {
    await problems.close().catch(() => undefined);
    await db.query(`UPDATE import_runs SET status = 'failed', rows_read = $2, error = $3, finished_at = now() WHERE id = $1`, [runId, rowsRead, String((error as Error).message ?? error).slice(0, 1000)]).catch(() => undefined);
    throw error;
  } finally {
    await lock.release();
  }
}

/** The connection, with each query's duration reported (COPY's too: its stream is a query). */
function timedQueries(client: pg.PoolClient, report: (text: string, ms: number) => void): pg.PoolClient {
  return new Proxy(client, {
    get(target, property) {
      if (property !== 'query') return Reflect.get(target, property, target);
      return (...args: unknown[]) => {
        const first = args[0] as string | { text?: string };
        const text = typeof first === 'string' ? first : first.text ?? 'COPY import_stage FROM STDIN';
        const started = performance.now();
        const result = (target.query as (...a: unknown[]) => unknown).apply(target, args);
        if (result instanceof Promise) return result.finally(() => report(text, Math.round(performance.now() - started)));
        // A COPY stream: timed until it finishes.
        (result as NodeJS.EventEmitter).once('finish', () => report(text, Math.round(performance.now() - started)));
        return result;
      };
    },
  });
}

function unusedFields(inFile: Array<string | undefined>, writable: string[]): string[] {
  return [...new Set(inFile.filter((f): f is string => f !== undefined && f !== 'client' && !writable.includes(f)))];
}

/**
 * Runs left `running` by a process killed or cut from its database: under the import lock none is
 * alive, and an import writes in one transaction, so nothing of theirs was written.
 */
async function closeInterruptedRuns(ctx: Context, db: Db): Promise<void> {
  const closed = await db.query<{ id: number }>(
    `UPDATE import_runs SET status = 'failed', error = 'interrupted before it finished: nothing of it was written', finished_at = now()
      WHERE status = 'running' RETURNING id`,
  );
  if (closed.length > 0) ctx.io.notice(`closed ${closed.length} interrupted import run(s): ${closed.map((r) => r.id).join(', ')} (nothing of them was written)`);
}

class Rollback extends Error {
  constructor(readonly outcome: { staged: Awaited<ReturnType<typeof stageCsv>>; counts: ApplyCounts; ok: boolean }) {
    super('rollback');
  }
}

function readMappingFile(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    throw new UsageError(`cannot read the mapping file ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, 'check the --mapping path');
  }
}

function runBy(): string {
  let user: string;
  try {
    user = userInfo().username;
  } catch {
    user = process.env.USER ?? 'unknown';
  }
  return `${user}@${hostname()}`;
}
