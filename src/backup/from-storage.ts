import { json } from 'node:stream/consumers';
import { OperationError, UsageError } from '../errors.js';
import type { ObjectStore } from '../storage/store.js';
import type { BackupRecord } from './history.js';
import { databaseFolder, isDumpKey, manifestKeyOf } from './layout.js';
import type { Manifest } from './run.js';

/**
 * Disaster recovery: when the database that holds the backup history is itself lost, a backup is
 * found by its object key (or as the newest manifest of `database` in storage) and described by its manifest.
 */
export async function recordFromStorage(store: ObjectStore, ref: string, database: string): Promise<BackupRecord> {
  const dumpKey = ref === 'latest-in-storage' ? await newestDumpKey(store, database) : ref;
  if (!isDumpKey(dumpKey)) throw new UsageError(`"${ref}" is not a backup object key`, 'pass a key ending in .dump or .dump.age, as `aj backup list --remote` shows');
  const manifestKey = manifestKeyOf(dumpKey);
  if (!(await store.head(manifestKey))) throw new OperationError(`no manifest for ${store.url}/${dumpKey}`, 'without its manifest a dump cannot be proven; pick another backup');
  const manifest = (await json(await store.get(manifestKey))) as Manifest;
  if (manifest.format !== 'aj-backup-manifest/1' || manifest.key !== dumpKey) throw new OperationError(`${store.url}/${manifestKey} is not the manifest of ${dumpKey}`, 'pick another backup');
  return {
    id: 0, status: 'succeeded', database_name: manifest.database, storage_url: store.url, object_key: dumpKey, manifest_key: manifestKey,
    globals_key: manifest.globalsKey, size_bytes: manifest.size, sha256: manifest.sha256, compress: manifest.compress,
    encrypted_to: manifest.encryption?.fingerprint ?? null, row_counts: manifest.rowCounts, total_rows: manifest.totalRows,
    server_version: manifest.serverVersion, pg_dump_version: manifest.pgDumpVersion, aj_version: manifest.ajVersion, host: '', pid: 0,
    started_at: new Date(manifest.startedAt), finished_at: new Date(manifest.finishedAt), duration_ms: null, error: null,
    verified_at: null, verify_ok: null, verify_error: null, deleted_at: null,
  };
}

/**
 * Keys embed a UTC timestamp, so the newest manifest sorts last within the database's folder;
 * other databases' backups under the same prefix are never considered.
 */
async function newestDumpKey(store: ObjectStore, database: string): Promise<string> {
  let newest: { key: string; stamp: string } | undefined;
  const folder = databaseFolder(database);
  for await (const object of store.list(folder)) {
    const match = /-(\d{8}T\d{6}(?:\.\d{3})?Z)\.manifest\.json$/.exec(object.key);
    if (match && (!newest || match[1]! > newest.stamp)) newest = { key: object.key, stamp: match[1]! };
  }
  if (!newest) throw new OperationError(`no backup manifest of database ${database} in ${store.url}/${folder}`, 'check BACKUP_BUCKET, or name the database with --database');
  const manifest = (await json(await store.get(newest.key))) as Manifest;
  if (manifest.database !== database && databaseFolder(manifest.database) !== folder) {
    throw new OperationError(`${store.url}/${newest.key} is a manifest of database ${manifest.database}, not ${database}`, 'pick the backup by its key');
  }
  return manifest.key;
}
