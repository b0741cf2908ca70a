import { createHash } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import { createGunzip, gzip } from 'node:zlib';
import { VerificationError } from '../errors.js';
import type { ObjectInfo, ObjectStore } from '../storage/store.js';
import { WAL_SHA256_METADATA, WAL_SIZE_METADATA, WalConflictError } from './errors.js';
import { walKey } from './layout.js';

const gzipAsync = promisify(gzip);

export interface Archiving {
  store: ObjectStore;
  systemIdentifier: string;
  compressLevel: number;
  /** BACKUP_AGE_RECIPIENT: WAL is encrypted as dumps are. */
  recipient?: string;
}

export interface Archived {
  name: string;
  key: string;
  /** `uploaded`, or `already-archived`: the same content was there (a retry after a lost answer). */
  outcome: 'uploaded' | 'already-archived';
  bytes: number;
  storedBytes: number;
  sha256: string;
}

/**
 * Archives one WAL file: compressed, encrypted when configured, create-only, then confirmed by a
 * HEAD (size and the original's SHA-256 in the metadata). The same content already there is
 * success; other content is a WalConflictError, never an overwrite.
 */
export async function archiveWalFile(archiving: Archiving, name: string, content: Buffer): Promise<Archived> {
  const { store } = archiving;
  const sha256 = createHash('sha256').update(content).digest('hex');
  const key = walKey(archiving.systemIdentifier, name, Boolean(archiving.recipient));
  const result = { name, key, bytes: content.length, sha256 };
  const existing = await store.head(key);
  if (existing && !(await metadataLost(archiving, existing, sha256))) return { ...result, outcome: 'already-archived', storedBytes: sameOrConflict(store, existing, name, sha256) };

  const body = await packWal(content, archiving);
  const stored = createHash('sha256').update(body).digest('hex');
  try {
    await store.put(key, body, {
      size: body.length,
      sha256: stored,
      ifNoneMatch: true,
      checkedAbsent: true,
      contentType: archiving.recipient ? 'application/octet-stream' : 'application/gzip',
      metadata: { [WAL_SHA256_METADATA]: sha256, [WAL_SIZE_METADATA]: String(content.length) },
    });
  } catch (error) {
    // Another push of the same file got there first (PostgreSQL's retry racing a parallel upload).
    const raced = await store.head(key).catch(() => undefined);
    if (!raced) throw error;
    return { ...result, outcome: 'already-archived', storedBytes: sameOrConflict(store, raced, name, sha256) };
  }
  const info = await store.head(key);
  if (!info || info.size !== body.length || info.metadata[WAL_SHA256_METADATA] !== sha256) {
    throw new VerificationError(
      `${store.url}/${key} ${!info ? 'is missing after upload' : info.size !== body.length ? `has ${info.size} bytes where ${body.length} were sent` : 'lost its checksum metadata'}`,
      'PostgreSQL keeps the WAL file and retries; check the storage server',
    );
  }
  return { ...result, outcome: 'uploaded', storedBytes: body.length };
}

/** gzip (fast level: WAL is pushed once per 16 MB while the server writes) and, when configured, age. */
async function packWal(content: Buffer, archiving: Archiving): Promise<Buffer> {
  const compressed = await gzipAsync(content, { level: archiving.compressLevel });
  if (!archiving.recipient) return compressed;
  const { encryptTo } = await import('../backup/encryption.js');
  const encrypted = await encryptTo(archiving.recipient, Readable.from([compressed]));
  const chunks: Buffer[] = [];
  for await (const chunk of encrypted.stream) chunks.push(chunk as Buffer);
  await encrypted.exited;
  return Buffer.concat(chunks);
}

/**
 * A local-storage put killed between linking the object and renaming its metadata sidecar leaves the
 * object without the SHA-256 it is proven by: when it holds exactly this file's content, it is
 * removed so the push writes it again whole (nothing else is ever replaced). S3 stores metadata
 * with the object, and an encrypted object cannot be compared here: those stay conflicts.
 */
async function metadataLost(archiving: Archiving, info: ObjectInfo, sha256: string): Promise<boolean> {
  const { store } = archiving;
  if (store.kind !== 'file' || archiving.recipient || info.metadata[WAL_SHA256_METADATA]) return false;
  const hash = createHash('sha256');
  try {
    await pipeline(await store.get(info.key), createGunzip(), new Writable({ write: (chunk: Buffer, _e, done) => { hash.update(chunk); done(); } }));
  } catch {
    return false;
  }
  if (hash.digest('hex') !== sha256) return false;
  await store.delete(info.key);
  return true;
}

/** An object already at the key: the stored size when it holds this very content, else a conflict. */
function sameOrConflict(store: ObjectStore, info: ObjectInfo, name: string, sha256: string): number {
  const recorded = info.metadata[WAL_SHA256_METADATA];
  if (recorded === sha256) return info.size;
  if (!recorded) throw new WalConflictError(`${store.url}/${info.key} exists without the SHA-256 aj records`, 'it was not written by aj wal push: move it away after checking what wrote it');
  throw new WalConflictError(
    `WAL file ${name} is already archived with different content at ${store.url}/${info.key}: not overwritten`,
    'two servers with the same system identifier archive to this storage (a restored copy of this cluster still running archive_command?): stop archiving on the copy',
  );
}
