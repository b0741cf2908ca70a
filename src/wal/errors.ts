import { AjError, OperationError } from '../errors.js';

/**
 * Exit status of `aj wal push` when the archive already holds this WAL file with other content.
 * Distinct from 1 (storage down, retry later) because retrying cannot help: two clusters share a
 * system identifier and a bucket, or an old copy of this cluster still archives. Nothing is overwritten.
 */
export const WAL_CONFLICT_EXIT = 5;

export class WalConflictError extends AjError {
  override readonly exitCode = WAL_CONFLICT_EXIT;
}

/** The WAL file is not in the archive: restore_command's "no such file", which ends recovery there. */
export class WalNotArchivedError extends OperationError {}

/** Object metadata written by `aj wal push`: the SHA-256 and size of the WAL file before compression. */
export const WAL_SHA256_METADATA = 'aj-wal-sha256';
export const WAL_SIZE_METADATA = 'aj-wal-size';
