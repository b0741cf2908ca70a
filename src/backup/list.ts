import type { Context } from '../context.js';
import type { Db } from '../db/pool.js';
import { type BackupRecord, type ListFilter, listBackups } from './history.js';
import { isDumpKey } from './layout.js';
import { findLeftovers } from './leftovers.js';
import { type BaseBackupRecord, listBaseBackups } from './physical/history.js';

export interface RemoteReport {
  /** The database whose folder was looked at: other databases may share the prefix. */
  database: string;
  /** History rows (succeeded) whose dump is not in storage. */
  missing: Array<{ id: number; key: string }>;
  /** Dumps in storage that no history row knows (a manifest beside them). */
  unknown: Array<{ key: string; size: number }>;
  /** Dumps without a manifest, left by a run killed while completing its upload: the next run adopts or removes them. */
  orphans: Array<{ key: string; size: number }>;
  /** Unfinished uploads (or temporary files) of killed runs: the next run removes them. */
  partials: Array<{ key: string; since: Date }>;
}

/** A dump (backup_runs) or a base backup (base_backups): ids come from one sequence. */
export type ListedBackup = (BackupRecord & { kind: 'logical' }) | (BaseBackupRecord & { kind: 'physical' });

export interface ListResult {
  backups: ListedBackup[];
  remote?: RemoteReport;
}

/** `aj backup list`: history newest first; `--remote` reconciles it with what storage holds for this database. */
export async function listBackupRuns(ctx: Context, filter: ListFilter & { remote: boolean }): Promise<ListResult> {
  const db = await ctx.db();
  const backups = await listAll(db, filter);
  if (!filter.remote) return { backups };
  const store = await ctx.store('backup');
  const { database } = (await db.one<{ database: string }>('SELECT current_database() AS database'))!;
  const known = await db.query<{ id: number; object_key: string; manifest_key: string | null; globals_key: string | null; status: string }>(
    `SELECT id, object_key, manifest_key, globals_key, status FROM backup_runs WHERE object_key IS NOT NULL AND storage_url = $1 AND database_name = $2`,
    [store.url, database],
  );
  const { partials, orphans, objects } = await findLeftovers(store, database);
  const stored = new Map(objects.map((o) => [o.key, o.size]));
  const orphanKeys = new Set(orphans.map((o) => o.key));
  const knownKeys = new Set(known.flatMap((r) => [r.object_key, r.manifest_key, r.globals_key]).filter(Boolean));
  return {
    backups,
    remote: {
      database,
      missing: known.filter((r) => r.status === 'succeeded' && !stored.has(r.object_key)).map((r) => ({ id: r.id, key: r.object_key })),
      unknown: [...stored].filter(([key]) => isDumpKey(key) && !knownKeys.has(key) && !orphanKeys.has(key)).map(([key, size]) => ({ key, size })),
      orphans: orphans.map((o) => ({ key: o.key, size: o.size })),
      partials: partials.map((p) => ({ key: p.key, since: p.startedAt })),
    },
  };
}

/** Both kinds, newest first, at most `limit` in all. */
async function listAll(db: Db, filter: ListFilter): Promise<ListedBackup[]> {
  // One after the other: at once, the pool opens a second connection (a server process) for two 1 ms queries.
  const dumps = await listBackups(db, filter);
  const bases = await listBaseBackups(db, filter);
  const all: ListedBackup[] = [...dumps.map((r) => ({ kind: 'logical' as const, ...r })), ...bases.map((r) => ({ kind: 'physical' as const, ...r }))];
  return all.sort((a, b) => b.started_at.getTime() - a.started_at.getTime() || b.id - a.id).slice(0, filter.limit ?? 50);
}
