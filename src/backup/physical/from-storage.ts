import { json } from 'node:stream/consumers';
import { OperationError, UsageError } from '../../errors.js';
import type { ObjectStore } from '../../storage/store.js';
import type { BaseBackupRecord } from './history.js';
import type { PhysicalManifest } from './manifest.js';
import type { RecoveryTarget } from './target.js';

/**
 * Disaster recovery: the server that held aj's history is the one lost. `latest-in-storage` finds
 * the base backup from the manifests in storage alone: the newest complete before the target time
 * (the newest of all otherwise), in the one cluster the storage holds or the one `--cluster` names.
 */
export async function baseBackupFromStorage(store: ObjectStore, target: RecoveryTarget, cluster: string | undefined): Promise<BaseBackupRecord> {
  const manifests: string[] = [];
  for await (const object of store.list(cluster ? `cluster-${cluster}/base/` : 'cluster-')) {
    if (/^cluster-\d+\/base\/[^/]+\/manifest\.json$/.test(object.key)) manifests.push(object.key);
  }
  const clusters = [...new Set(manifests.map((key) => key.split('/')[0]!.slice('cluster-'.length)))];
  if (clusters.length === 0) throw new OperationError(`no base backup manifest in ${store.url}${cluster ? ` for cluster ${cluster}` : ''}`, 'check BACKUP_BUCKET (and --cluster)');
  if (clusters.length > 1) throw new UsageError(`${store.url} holds base backups of ${clusters.length} clusters (${clusters.join(', ')})`, 'name one with --cluster <system identifier>');
  // Stamps sort in time order: read manifests newest first, stop at the first one that fits.
  let oldest: PhysicalManifest | undefined;
  for (const key of manifests.sort().reverse()) {
    const manifest = (await json(await store.get(key))) as PhysicalManifest;
    if (manifest.format !== 'aj-physical-manifest/1') continue;
    oldest = manifest;
    if (target.kind !== 'time' || new Date(manifest.finishedAt).getTime() <= target.at.getTime()) return recordOf(store, key, manifest);
  }
  if (!oldest) throw new OperationError(`no readable base backup manifest in ${store.url}`, 'check BACKUP_BUCKET');
  throw new UsageError(
    `--to-time ${(target as { at: Date }).at.toISOString()} is before the end of the oldest base backup in storage: the earliest time it can restore to is ${oldest.finishedAt}`,
    'give a later time',
  );
}

/** The manifest as a history row, for the restore that cannot read the history. */
function recordOf(store: ObjectStore, manifestKey: string, m: PhysicalManifest): BaseBackupRecord {
  return {
    id: m.id, status: 'succeeded', system_identifier: m.systemIdentifier, database_name: '', storage_url: store.url, object_key: m.key,
    manifest_key: manifestKey, pg_manifest_key: m.pgManifest.key, size_bytes: m.size, sha256: m.sha256, encrypted_to: m.encryption?.fingerprint ?? null,
    server_version: m.serverVersion, timeline: m.timeline, start_lsn: m.startLsn, stop_lsn: m.stopLsn, start_wal: m.startWal, aj_version: m.ajVersion,
    host: '', pid: 0, started_at: new Date(m.startedAt), finished_at: new Date(m.finishedAt), duration_ms: null, error: null,
    verified_at: null, verify_ok: null, verify_error: null, deleted_at: null,
  };
}
