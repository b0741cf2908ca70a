import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { finished, pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import type { Context } from '../context.js';
import { AjError, ConfigError, UsageError, VerificationError } from '../errors.js';
import { fsyncPath } from '../storage/fs.js';
import { HashingStream } from '../storage/hashing.js';
import { SHA256_METADATA, type ObjectInfo, type ObjectStore } from '../storage/store.js';
import { type VerifyingStream, openVerified } from '../storage/verified.js';
import { readSystemIdentifier, resolveDataDir } from './cluster.js';
import { WAL_SHA256_METADATA, WAL_SIZE_METADATA, WalNotArchivedError } from './errors.js';
import { isWalFileName, walKey } from './layout.js';

export interface FetchOptions {
  /** %f: the WAL file's name. */
  name: string;
  /** %p: where PostgreSQL wants it (relative to the data directory, the current directory). */
  path: string;
  /** The cluster's system identifier; default: read from the data directory. */
  cluster?: string;
  dataDir?: string;
  identityFile?: string;
  signal?: AbortSignal;
}

export interface FetchResult {
  name: string;
  key: string;
  path: string;
  bytes: number;
  sha256: string;
}

/**
 * restore_command: downloads one WAL file, checks the stored bytes (their recorded SHA-256) and,
 * after decryption and decompression, the original's size and SHA-256, then puts it at `path`
 * atomically (a temporary file in the same directory, renamed): PostgreSQL never reads a partial file.
 */
export async function fetchWal(ctx: Context, options: FetchOptions): Promise<FetchResult> {
  const { name } = options;
  if (!isWalFileName(name)) throw new UsageError(`"${name}" is not a WAL file name`, 'restore_command passes %f, a name like 000000010000000000000003');
  const systemIdentifier = options.cluster ?? await readSystemIdentifier(resolveDataDir(options.dataDir, ctx.env));
  const config = ctx.config();
  const identityFile = options.identityFile ?? config.backupAgeIdentityFile;
  const store = await ctx.store('backup');
  const info = await findArchived(store, systemIdentifier, name, Boolean(identityFile));
  const encrypted = info.key.endsWith('.age');
  if (encrypted && !identityFile) throw new ConfigError(`${store.url}/${info.key} is encrypted`, 'set BACKUP_AGE_IDENTITY_FILE or pass --identity FILE (readable by the PostgreSQL server user)');
  const original = { sha256: info.metadata[WAL_SHA256_METADATA], size: Number(info.metadata[WAL_SIZE_METADATA]) };
  if (!original.sha256 || !Number.isInteger(original.size)) {
    throw new VerificationError(`${store.url}/${info.key} has no recorded SHA-256 and size`, 'it was not written by aj wal push: it cannot be proven, so it is not restored');
  }
  const identity = encrypted ? await (await import('../backup/encryption.js')).readIdentity(identityFile!) : undefined;

  const target = resolve(options.path);
  const temporary = join(dirname(target), `.${basename(target)}.aj-${randomBytes(4).toString('hex')}.tmp`);
  const stored = info.metadata[SHA256_METADATA];
  const source: Readable | VerifyingStream = stored
    ? await openVerified(store, info.key, { size: info.size, sha256: stored }, { signal: options.signal, label: `WAL file ${name}`, consequence: 'not restored', hint: 'recovery cannot go past this file: restore it from another copy of the archive' })
    : await store.get(info.key, { signal: options.signal });
  const hashing = new HashingStream();
  try {
    const plain = identity ? await (await import('../backup/encryption.js')).decryptWith(identity, source) : source;
    await pipeline(plain, createGunzip(), hashing, createWriteStream(temporary, { flags: 'wx', mode: 0o600 }), { signal: options.signal });
    if (identity) await finished(source);
    // On disk before the rename: a crash right after must not leave PostgreSQL a named but empty file.
    await fsyncPath(temporary);
    if (hashing.bytes !== original.size || hashing.sha256 !== original.sha256) {
      throw new VerificationError(
        `WAL file ${name} from ${store.url}/${info.key} is damaged: ${hashing.bytes !== original.size ? `${hashing.bytes} bytes instead of ${original.size}` : 'its SHA-256 differs from the one recorded'}; not restored`,
        'recovery cannot go past this file: restore it from another copy of the archive',
      );
    }
    await rename(temporary, target);
  } catch (error) {
    await rm(temporary, { force: true });
    throw damageOf(source, error, Boolean(identity), name, `${store.url}/${info.key}`);
  }
  return { name, key: info.key, path: target, bytes: hashing.bytes, sha256: hashing.sha256 };
}

/** The archived object: encrypted or not, whichever exists (encryption may have been switched on or off). */
async function findArchived(store: ObjectStore, systemIdentifier: string, name: string, preferEncrypted: boolean): Promise<ObjectInfo> {
  const keys = [walKey(systemIdentifier, name, preferEncrypted), walKey(systemIdentifier, name, !preferEncrypted)];
  for (const key of keys) {
    const info = await store.head(key);
    if (info) return info;
  }
  throw new WalNotArchivedError(`${name} is not in the archive ${store.url}/${keys[0]!.replace(/[^/]+$/, '')}`, 'recovery ends where the archive ends');
}

/**
 * Damage found by the checked read wins. A corrupt gzip stream, or (when decrypting) a failure that
 * came neither from storage nor from writing the file, means the object cannot be read back: exit 4.
 */
function damageOf(source: Readable, error: unknown, decrypting: boolean, name: string, where: string): unknown {
  const damage = (source as VerifyingStream).damage;
  if (damage) return damage;
  if (error instanceof AjError) return error;
  const failure = error as NodeJS.ErrnoException;
  const unreadable = failure.code?.startsWith('Z_') || (decrypting && !failure.syscall && !source.errored && failure.name !== 'AbortError');
  if (!unreadable) return error;
  return new VerificationError(
    `WAL file ${name} from ${where} cannot be read back: ${failure.message}; not restored`,
    'recovery cannot go past this file: restore it from another copy of the archive, or check the identity',
  );
}
