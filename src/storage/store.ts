import { OperationError } from '../errors.js';
import type { Readable } from 'node:stream';
import type { BucketProtection } from './protection.js';

/** What every storage driver offers; keys are relative to the location's prefix. */
export interface ObjectStore {
  /** s3://bucket/prefix or file:///path, for messages and history rows. */
  readonly url: string;
  readonly kind: 's3' | 'file';
  /** A Buffer is content already in memory (small files); a stream may be of unknown length. */
  put(key: string, body: Readable | Buffer, options?: PutOptions): Promise<PutResult>;
  /**
   * Local storage only: `produce` starts a process that writes the content into the file descriptor
   * it is given (no copy through Node); `beforeEnd` must resolve once that process succeeded. Size and
   * SHA-256 are those of the bytes written, checked and completed as put() does.
   */
  putWritten?(key: string, produce: (fd: number) => Promise<void>, options?: PutOptions): Promise<PutResult>;
  get(key: string, options?: { signal?: AbortSignal }): Promise<Readable>;
  /** undefined when the object does not exist. */
  head(key: string): Promise<ObjectInfo | undefined>;
  /** In key order (UTF-8 bytes, as S3 lists), optionally only keys after `startAfter`. */
  list(prefix?: string, startAfter?: string): AsyncIterable<ObjectInfo>;
  /**
   * Which of these keys exist, with size and ETag (metadata may be empty). Many keys cost a few
   * listings of their key range instead of one request each.
   */
  findExisting(keys: readonly string[]): Promise<Map<string, ObjectInfo>>;
  delete(key: string): Promise<void>;
  deleteMany(keys: string[]): Promise<void>;
  /** Writes a crash left unfinished under `prefix` (S3 multipart uploads, FsStore temporary files), oldest first. */
  listPartials(prefix: string): Promise<PartialWrite[]>;
  /** Removes what an unfinished write left (aborts the multipart upload, deletes the temporary file). */
  removePartial(partial: PartialWrite): Promise<void>;
  /** Versioning and Object Lock of the bucket (S3 only). */
  protection?(): Promise<BucketProtection>;
}

/** An unfinished write: its final key, when it started, and the driver's handle on it. */
export interface PartialWrite {
  key: string;
  startedAt: Date;
  /** The multipart upload id, or the temporary file's path. */
  id: string;
}

export interface PutOptions {
  contentType?: string;
  /** Exact size when known; streams of unknown length go multipart. */
  size?: number;
  /** Known SHA-256 (hex): stored in the object's metadata and checked against what was streamed. */
  sha256?: string;
  /** Known MD5 (hex): sent as Content-MD5 so the server rejects a damaged upload. */
  md5?: string;
  metadata?: Record<string, string>;
  /** Refuse to replace an existing object. */
  ifNoneMatch?: boolean;
  /**
   * With ifNoneMatch: the caller has just found the key absent (findExisting), so the driver skips
   * its own look-before. If-None-Match still guards servers that honour it.
   */
  checkedAbsent?: boolean;
  /**
   * Awaited before the last byte is handed to the storage: a producer (pg_dump) whose exit
   * status is bad rejects here, which aborts the upload instead of completing a truncated object.
   */
  beforeEnd?: () => Promise<void>;
  /**
   * Awaited once the whole content went through, before the storage may complete the object: the
   * caller records size and SHA-256, so that an object a killed process completed can be proven later.
   */
  onDigest?: (digest: { bytes: number; sha256: string }) => Promise<void>;
  signal?: AbortSignal;
  onProgress?: (bytes: number) => void;
}

export interface PutResult {
  key: string;
  size: number;
  sha256: string;
  /** Only when the caller gave an expected MD5 (and it matched). */
  md5?: string;
  /** The server's ETag for what it stored, where it gives one: a later listing must show the same. */
  etag?: string;
}

export interface ObjectInfo {
  key: string;
  size: number;
  lastModified?: Date;
  etag?: string;
  metadata: Record<string, string>;
}

/** The object does not exist: a finding for verifiers, an operation failure for everyone else. */
export class ObjectNotFoundError extends OperationError {}

/** Metadata key under which the SHA-256 of the content is stored. */
export const SHA256_METADATA = 'aj-sha256';

// Below U+D800, UTF-16 code units sort as UTF-8 bytes do; only surrogates and U+E000-U+FFFF differ.
const UTF16_ORDER_DIFFERS = /[\uD800-\uFFFF]/;

/** S3's key order: UTF-8 bytes, which differs from JavaScript's UTF-16 order above U+FFFF. */
export function compareKeys(a: string, b: string): number {
  if (UTF16_ORDER_DIFFERS.test(a) || UTF16_ORDER_DIFFERS.test(b)) return Buffer.compare(Buffer.from(a), Buffer.from(b));
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The longest common start of two keys, cut between code points. */
export function commonPrefix(a: string, b: string): string {
  const left = Array.from(a);
  const right = Array.from(b);
  let i = 0;
  while (i < left.length && i < right.length && left[i] === right[i]) i += 1;
  return left.slice(0, i).join('');
}

/** A key that sorts just before `key` (it drops the last code point): for a listing that must include `key`. */
export function justBefore(key: string): string {
  return Array.from(key).slice(0, -1).join('');
}
