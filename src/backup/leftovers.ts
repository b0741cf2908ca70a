import { json } from 'node:stream/consumers';
import type { Db } from '../db/pool.js';
import { sha256Of } from '../storage/hashing.js';
import type { ObjectInfo, ObjectStore, PartialWrite } from '../storage/store.js';
import { backupKey, databaseFolder, globalsKeyOf, isDumpKey, manifestKeyOf } from './layout.js';
import type { Manifest } from './run.js';

/**
 * What a crashed run can leave is cleaned by the next one, which holds the backup lock: no run of
 * this database is alive then. Something of a run this history knows to have failed goes at once;
 * anything else only once older than this (another host backing up a namesake database).
 */
const STALE_MS = 60 * 60 * 1000;

/** What crashed runs of one database left in storage. */
export interface Leftovers {
  /** Multipart uploads never completed nor aborted (S3), temporary files (local storage). */
  partials: PartialWrite[];
  /** Dumps with no manifest beside them: a kill between completing the upload and writing the manifest. */
  orphans: ObjectInfo[];
  /** Everything stored in the database's folder. */
  objects: ObjectInfo[];
}

export interface CleanupReport {
  aborted: string[];
  /** Dumps of interrupted runs proven against the size and SHA-256 the run recorded: now with a manifest and a succeeded row. */
  adopted: Array<{ id: number; key: string }>;
  removed: string[];
  /** Too recent to be known dead: left for a later run. */
  kept: string[];
}

export async function findLeftovers(store: ObjectStore, database: string): Promise<Leftovers> {
  const folder = databaseFolder(database);
  const partials = await store.listPartials(folder);
  const objects: ObjectInfo[] = [];
  for await (const object of store.list(folder)) objects.push(object);
  const keys = new Set(objects.map((o) => o.key));
  return { partials, orphans: objects.filter((o) => isDumpKey(o.key) && !keys.has(manifestKeyOf(o.key))), objects };
}

/** A run that died after its dump was stored: what it recorded before completing the upload. */
interface DeadRun {
  id: number;
  database_name: string;
  started_at: Date;
  encrypted_to: string | null;
  size_bytes: string | null;
  sha256: string | null;
  row_counts: Record<string, number> | null;
  compress: string | null;
  server_version: string | null;
  pg_dump_version: string | null;
  aj_version: string | null;
}

/** Aborts, adopts and removes what crashed runs of `database` left; run under the backup lock. */
export async function cleanUpLeftovers(db: Db, store: ObjectStore, database: string, now: Date): Promise<CleanupReport> {
  const report: CleanupReport = { aborted: [], adopted: [], removed: [], kept: [] };
  const { partials, orphans, objects } = await findLeftovers(store, database);
  const dead = await db.query<DeadRun>(
    `SELECT id, database_name, started_at, encrypted_to, size_bytes, sha256, row_counts, compress, server_version, pg_dump_version, aj_version
       FROM backup_runs WHERE status = 'failed' AND storage_url = $1 AND database_name = $2`,
    [store.url, database],
  );
  const deadByKey = new Map(dead.map((run) => [backupKey(run.database_name, run.started_at, run.encrypted_to !== null), run]));
  const isDead = (key: string, since: Date | undefined) => deadByKey.has(key) || !since || now.getTime() - since.getTime() > STALE_MS;
  for (const partial of partials) {
    if (!isDead(partial.key, partial.startedAt)) {
      report.kept.push(partial.key);
      continue;
    }
    await store.removePartial(partial);
    report.aborted.push(partial.key);
  }
  for (const orphan of orphans) {
    const run = deadByKey.get(orphan.key);
    if (run && (await adopt(db, store, orphan, run))) {
      report.adopted.push({ id: run.id, key: orphan.key });
    } else if (isDead(orphan.key, orphan.lastModified)) {
      await store.deleteMany([orphan.key, globalsKeyOf(orphan.key)]);
      report.removed.push(orphan.key);
    } else {
      report.kept.push(orphan.key);
    }
  }
  const orphanKeys = new Set(orphans.map((o) => o.key));
  for (const object of objects) {
    const run = deadByKey.get(object.key);
    if (!run?.sha256 || orphanKeys.has(object.key)) continue;
    // Killed after writing the manifest, before recording success: the manifest proves the dump.
    const manifestKey = manifestKeyOf(object.key);
    const manifest = (await json(await store.get(manifestKey))) as Manifest;
    if (manifest.key !== object.key || manifest.sha256 !== run.sha256 || manifest.size !== object.size) continue;
    await markAdopted(db, run.id, { key: object.key, manifestKey, globalsKey: manifest.globalsKey, totalRows: manifest.totalRows });
    report.adopted.push({ id: run.id, key: object.key });
  }
  return report;
}

/**
 * A dump whose run died while completing its upload: when the run recorded the size and SHA-256 of
 * what it streamed (just before the last part went) and the stored object has exactly those, it is
 * the whole dump; it gets its manifest and its run is marked succeeded.
 */
async function adopt(db: Db, store: ObjectStore, orphan: ObjectInfo, run: DeadRun): Promise<boolean> {
  if (!run.sha256 || run.size_bytes === null || Number(run.size_bytes) !== orphan.size || !run.row_counts) return false;
  const stored = await sha256Of(await store.get(orphan.key));
  if (stored.sha256 !== run.sha256 || stored.size !== orphan.size) return false;
  const globalsKey = (await store.head(globalsKeyOf(orphan.key))) ? globalsKeyOf(orphan.key) : null;
  const manifest: Manifest = {
    format: 'aj-backup-manifest/1', database: run.database_name, key: orphan.key, size: orphan.size, sha256: run.sha256, compress: run.compress ?? '',
    // The recipient itself is not in the history, only its fingerprint: restore needs no more.
    encryption: run.encrypted_to ? { type: 'age', recipient: '', fingerprint: run.encrypted_to } : null,
    serverVersion: run.server_version ?? '', pgDumpVersion: run.pg_dump_version ?? '', ajVersion: run.aj_version ?? '',
    startedAt: run.started_at.toISOString(), finishedAt: (orphan.lastModified ?? new Date()).toISOString(),
    rowCounts: run.row_counts, totalRows: Object.values(run.row_counts).reduce((a, b) => a + b, 0), globalsKey,
  };
  const manifestKey = manifestKeyOf(orphan.key);
  const body = Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`);
  await store.put(manifestKey, body, { contentType: 'application/json', ifNoneMatch: true });
  await markAdopted(db, run.id, { key: orphan.key, manifestKey, globalsKey, totalRows: manifest.totalRows });
  return true;
}

async function markAdopted(db: Db, id: number, fields: { key: string; manifestKey: string; globalsKey: string | null; totalRows: number }): Promise<void> {
  await db.query(
    `UPDATE backup_runs SET status = 'succeeded', error = NULL, object_key = $2, manifest_key = $3, globals_key = $4, total_rows = $5 WHERE id = $1`,
    [id, fields.key, fields.manifestKey, fields.globalsKey, fields.totalRows],
  );
}

/** One line on what interrupted runs of `database` left, for `aj doctor`; undefined when nothing. */
export async function leftoversSummary(store: ObjectStore, database: string): Promise<string | undefined> {
  const { partials, orphans } = await findLeftovers(store, database);
  const parts = [
    partials.length > 0 ? `${partials.length} unfinished upload(s)` : '',
    orphans.length > 0 ? `${orphans.length} dump(s) without manifest` : '',
  ].filter(Boolean);
  return parts.length > 0 ? `${parts.join(' and ')} of database ${database} left by interrupted runs (first: ${[...partials, ...orphans][0]!.key})` : undefined;
}
