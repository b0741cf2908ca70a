import type { Context } from '../context.js';
import { type BackupRecord, type ListFilter, listBackups } from './history.js';

export interface RemoteReport {
  /** History rows (succeeded) whose dump is not in storage. */
  missing: Array<{ id: number; key: string }>;
  /** Dumps in storage that no history row knows. */
  unknown: Array<{ key: string; size: number }>;
}

export interface ListResult {
  backups: BackupRecord[];
  remote?: RemoteReport;
}

/** `aj backup list`: history newest first; `--remote` reconciles it with what storage holds. */
export async function listBackupRuns(ctx: Context, filter: ListFilter & { remote: boolean }): Promise<ListResult> {
  const db = await ctx.db();
  const backups = await listBackups(db, filter);
  if (!filter.remote) return { backups };
  const store = await ctx.store('backup');
  const known = await db.query<{ id: number; object_key: string; manifest_key: string | null; globals_key: string | null; status: string }>(
    `SELECT id, object_key, manifest_key, globals_key, status FROM backup_runs WHERE object_key IS NOT NULL AND storage_url = $1`,
    [store.url],
  );
  const stored = new Map<string, number>();
  for await (const object of store.list()) stored.set(object.key, object.size);
  const knownKeys = new Set(known.flatMap((r) => [r.object_key, r.manifest_key, r.globals_key]).filter(Boolean));
  return {
    backups,
    remote: {
      missing: known.filter((r) => r.status === 'succeeded' && !stored.has(r.object_key)).map((r) => ({ id: r.id, key: r.object_key })),
      unknown: [...stored].filter(([key]) => /\.dump(\.age)?$/.test(key) && !knownKeys.has(key)).map(([key, size]) => ({ key, size })),
    },
  };
}
