import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import type { Context } from '../../context.js';
import { parseDatabaseUrl } from '../../db/connection.js';
import { AjError, OperationError, UsageError, VerificationError, describeError } from '../../errors.js';
import { type CountDifference, compareCounts, countRows } from '../row-counts.js';
import { recordBaseVerification } from './history.js';
import { envFileForRecovery } from './recovery.js';
import { materialize, resolveBaseBackup } from './restore.js';
import { ScratchServer } from './scratch-server.js';
import type { RecoveryTarget } from './target.js';

export interface DrillOptions {
  ref: string;
  target: RecoveryTarget;
  walEnvFile?: string;
  identityFile?: string;
  /** With latest-in-storage, when the storage holds several clusters. */
  cluster?: string;
  /** JSON file: {"<database>": {"<schema.table>": rows}}. */
  expectCounts?: string;
  timeoutSeconds: number;
  onProgress?: (bytes: number) => void;
}

export interface DrillResult {
  ok: boolean;
  backupId: number;
  target: { kind: RecoveryTarget['kind']; value: string | null };
  /** The commit time of the last transaction recovery replayed. */
  recoveredTo: string | null;
  filesVerified: boolean;
  databases: Array<{ database: string; tables: number; rows: number; counts: Record<string, number> }>;
  differences: Array<CountDifference & { database: string }>;
  durationMs: number;
}

/**
 * `aj backup restore --physical --drill`: the restore into a scratch directory, a throwaway server
 * started on it (loopback, a free port, trust for local connections only, no archiving), recovery
 * up to the target and promotion awaited, then every table of every database read and counted.
 * Whatever happens the server is stopped and the directory removed. Anything short of that proof
 * (damage, a recovery that stops early, a database that does not answer) is exit 4.
 */
export async function runPhysicalDrill(ctx: Context, options: DrillOptions): Promise<DrillResult> {
  const started = Date.now();
  const expected = options.expectCounts ? await readExpected(options.expectCounts) : undefined;
  const record = await resolveBaseBackup(ctx, options.ref, options.target, options.cluster);
  // From storage alone the history may be out of reach: the proof is then only printed.
  const remember = async (ok: boolean, error: string | null) => {
    if (options.ref !== 'latest-in-storage') await recordBaseVerification(await ctx.db(), record.id, ok, error);
  };
  const envFile = envFileForRecovery(options.walEnvFile, ctx.globals.envFile);
  const scratch = await mkdtemp(join(tmpdir(), 'aj-drill-'));
  let server: ScratchServer | undefined;
  try {
    const dataDir = join(scratch, 'data');
    await mkdir(dataDir, { mode: 0o700 });
    const { binDir, filesVerified } = await materialize(ctx, record, dataDir, options, envFile).catch(notProven('the restore'));
    const user = parseDatabaseUrl(ctx.config().databaseUrl).user ?? userInfo().username;
    server = await ScratchServer.prepare(scratch, dataDir, binDir, user);
    await server.start(options.timeoutSeconds, ctx.signal).catch(notProven('recovery'));
    const recoveredTo = await server.waitForPromotion(options.timeoutSeconds, ctx.signal).catch(notProven('recovery'));
    const databases = [];
    for (const database of await server.databases().catch(notProven('the restored server'))) {
      const counts = await server.withClient(database, countRows).catch(notProven(`database ${database}`));
      databases.push({ database, tables: Object.keys(counts).length, rows: Object.values(counts).reduce((a, b) => a + b, 0), counts });
    }
    const differences = expected ? compareExpected(expected, databases) : [];
    const result: DrillResult = {
      ok: differences.length === 0, backupId: record.id, target: targetOf(options.target), recoveredTo, filesVerified, databases, differences, durationMs: Date.now() - started,
    };
    await remember(result.ok, result.ok ? null : `${differences.length} table(s) differ from ${options.expectCounts}`);
    return result;
  } catch (error) {
    if (!ctx.signal.aborted) await remember(false, describeError(error).slice(0, 1000)).catch(() => undefined);
    throw error;
  } finally {
    await server?.stop();
    await rm(scratch, { recursive: true, force: true });
  }
}

/** A failure of the drill's proof is a verification failure (exit 4), naming the step; usage and configuration errors keep theirs. */
const notProven = (step: string) => (error: unknown): never => {
  if (error instanceof AjError && !(error instanceof OperationError)) throw error;
  if ((error as Error).name === 'AbortError') throw error;
  throw new VerificationError(`drill not proven: ${step} failed: ${describeError(error)}`, 'do not rely on this base backup and WAL archive until a drill passes');
};

async function readExpected(path: string): Promise<Record<string, Record<string, number>>> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(path, 'utf8'));
  } catch (error) {
    throw new UsageError(`--expect-counts ${path}: ${(error as Error).message}`, 'give a JSON file {"<database>": {"<schema.table>": rows}}');
  }
  const valid = typeof parsed === 'object' && parsed !== null && Object.values(parsed).every((tables) =>
    typeof tables === 'object' && tables !== null && Object.values(tables).every((n) => Number.isInteger(n) && (n as number) >= 0));
  if (!valid) throw new UsageError(`--expect-counts ${path} is not {"<database>": {"<schema.table>": rows}}`, 'row counts are whole numbers');
  return parsed as Record<string, Record<string, number>>;
}

/** Only the databases and tables the file names are compared: it may describe a part of the cluster. */
export function compareExpected(expected: Record<string, Record<string, number>>, databases: DrillResult['databases']): DrillResult['differences'] {
  return Object.entries(expected).flatMap(([database, tables]) => {
    const actual = databases.find((d) => d.database === database)?.counts ?? {};
    const named = Object.fromEntries(Object.keys(tables).filter((t) => t in actual).map((t) => [t, actual[t]!]));
    return compareCounts(tables, named).map((d) => ({ database, ...d }));
  });
}

function targetOf(target: RecoveryTarget): DrillResult['target'] {
  if (target.kind === 'time') return { kind: 'time', value: target.at.toISOString() };
  if (target.kind === 'lsn') return { kind: 'lsn', value: target.lsn };
  return { kind: 'latest', value: null };
}
