import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import {
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
  type S3ServiceException,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { OperationError, VerificationError } from '../errors.js';
import { type Digest, HashingStream, checkExpected } from './hashing.js';
import { assertSafeKey } from './location.js';
import type { BucketProtection } from './protection.js';
import { abortUnfinishedUpload, listUnfinishedUploads, readProtection } from './s3-bucket.js';
import { type UploadChecksum, checksumAlgorithmOf } from './s3-client.js';
import { type S3Action, explainS3Error } from './s3-errors.js';
import {
  type ObjectInfo,
  type ObjectStore,
  type PartialWrite,
  type PutOptions,
  type PutResult,
  SHA256_METADATA,
  commonPrefix,
  compareKeys,
  justBefore,
} from './store.js';

export { createS3Client } from './s3-client.js';

// Objects up to this size with a known length go in one PutObject (with Content-MD5 when known).
const SINGLE_PUT_LIMIT = 64 * 1024 * 1024;
const PART_SIZE = 8 * 1024 * 1024;
const PART_QUEUE = 4;

// Up to this many keys, findExisting asks for each; above, it lists their key range.
const FEW_KEYS = 4;

// Once the command is interrupted, each request still needed to clean up gets this long: a stalled
// server must not hold the exit (what is left is swept by the next run).
const CLEANUP_MS = 3000;

/** What was at the key before a put: nothing, an object, or unknown (the look failed). */
type Before = ObjectInfo | 'unknown' | undefined;

interface ObjectParams {
  Bucket: string;
  Key: string;
  ContentType: string;
  Metadata: Record<string, string>;
}

export interface S3StoreOptions {
  /** S3_REGION, for the message that names a bucket's real region. */
  region?: string;
  /** S3_CHECKSUM: the integrity checksum every upload carries. */
  checksum?: UploadChecksum;
  /** The command's cancellation (SIGINT/SIGTERM): it reaches every request. */
  signal?: AbortSignal;
}

export class S3Store implements ObjectStore {
  readonly kind = 's3' as const;
  readonly url: string;
  private bulkDeleteRefused = false;
  private readonly region: string;
  private readonly checksum: UploadChecksum;
  private readonly signal?: AbortSignal;

  constructor(
    private readonly client: S3Client,
    private readonly bucket: string,
    private readonly prefix: string,
    options: S3StoreOptions = {},
  ) {
    this.url = `s3://${bucket}${prefix ? `/${prefix}` : ''}`;
    this.region = options.region ?? 'us-east-1';
    this.checksum = options.checksum ?? 'md5';
    this.signal = options.signal;
  }

  private fullKey(key: string): string {
    assertSafeKey(key);
    return this.prefix ? `${this.prefix}/${key}` : key;
  }

  /**
   * The signal a request goes with: the store's and the caller's; once either has fired, a short
   * deadline instead, so that cleaning up after an interruption cannot hang on a stalled server.
   * Each request gets a signal of its own: the SDK listens on it, and hundreds of concurrent
   * listeners on the command's one signal would print MaxListenersExceededWarning.
   */
  private deadline(signal?: AbortSignal): AbortSignal | undefined {
    const signals = [this.signal, signal].filter((s): s is AbortSignal => Boolean(s));
    if (signals.some((s) => s.aborted)) return AbortSignal.timeout(CLEANUP_MS);
    return signals.length > 0 ? AbortSignal.any(signals) : undefined;
  }

  /** One request, with the deadline above, its failure explained. */
  private async send<T>(request: (options: { abortSignal?: AbortSignal }) => Promise<T>, action: S3Action, key: string, signal?: AbortSignal): Promise<T> {
    try {
      return await request({ abortSignal: this.deadline(signal) });
    } catch (error) {
      throw this.explain(error, action, key);
    }
  }

  async put(key: string, content: Readable | Buffer, options: PutOptions = {}): Promise<PutResult> {
    const Key = this.fullKey(key);
    this.signal?.throwIfAborted();
    options.signal?.throwIfAborted();
    // Servers that ignore If-None-Match (s3rver, older MinIO) would silently overwrite: look first,
    // unless the caller just did (findExisting). What was there also tells a partial object a lax
    // server kept after a failed put from an older one.
    const before = options.ifNoneMatch && options.checkedAbsent
      ? undefined
      : await this.head(key).catch((error: unknown) => {
        if (options.ifNoneMatch) throw error;
        return 'unknown' as const;
      });
    if (options.ifNoneMatch && before) {
      throw new OperationError(`object already exists: ${this.url}/${key}`, 'objects here are never overwritten');
    }
    const Metadata = { ...options.metadata, ...(options.sha256 ? { [SHA256_METADATA]: options.sha256 } : {}) };
    const params = { Bucket: this.bucket, Key, ContentType: options.contentType ?? 'application/octet-stream', Metadata };
    if (Buffer.isBuffer(content) && content.length <= SINGLE_PUT_LIMIT) return this.putBuffer(key, content, params, before, options);
    const body = Buffer.isBuffer(content) ? Readable.from([content], { objectMode: false }) : content;
    const hashing = new HashingStream(options.beforeEnd, options.onProgress, Boolean(options.md5), options.onDigest);
    const source = body.pipe(hashing);
    body.once('error', (error) => hashing.destroy(error));
    // A stream goes out in one PUT only with a checksum known beforehand (Content-MD5 from the
    // caller); otherwise through Upload, which holds each part in memory to compute its checksum.
    const streamedAsIs = options.size !== undefined && options.size <= SINGLE_PUT_LIMIT && (Boolean(options.md5) || this.checksum === 'none');
    let etag: string | undefined;
    try {
      if (streamedAsIs) {
        etag = await this.singlePut(params, source, options.size!, options.md5, options);
      } else {
        etag = await this.upload(params, source, options.signal);
      }
    } catch (error) {
      hashing.destroy();
      body.destroy();
      return this.abandonPut(key, before, error);
    }
    try {
      // The server can answer once ContentLength bytes arrived, before the source's end reaches the hash.
      await finished(hashing, { readable: false });
      checkExpected(key, hashing, options);
    } catch (error) {
      await this.removeLeftover(key, before);
      throw error;
    }
    return this.confirmPut(key, hashing, etag, options);
  }

  /** A stream of any length, in parts of PART_SIZE (one PutObject when it fits in one part). */
  private async upload(params: ObjectParams, Body: Readable, signal?: AbortSignal): Promise<string | undefined> {
    const abortController = new AbortController();
    // Upload sends its requests without a signal, and parts (Expect: 100-continue) go through
    // one-off sockets that destroying the client does not reach: each request gets the deadline here.
    const client = Object.create(this.client, {
      send: { value: (command: never, options?: object) => this.client.send(command, { ...options, abortSignal: this.deadline(signal) }) },
    }) as S3Client;
    const upload = new Upload({
      client,
      params: { ...params, Body, ...checksumAlgorithmOf(this.checksum) },
      partSize: PART_SIZE,
      queueSize: PART_QUEUE,
      leavePartsOnError: false,
      abortController,
    });
    const stop = this.deadline(signal);
    const abort = () => abortController.abort();
    if (stop?.aborted) abort();
    stop?.addEventListener('abort', abort, { once: true });
    try {
      return unquote((await upload.done()).ETag);
    } finally {
      stop?.removeEventListener('abort', abort);
    }
  }

  /**
   * Content already in memory goes as it is, without a stream and a hashing pipe per small file,
   * and is checked against what the caller announced before anything is sent.
   */
  private async putBuffer(key: string, content: Buffer, params: ObjectParams, before: Before, options: PutOptions): Promise<PutResult> {
    const digest = (algorithm: string) => createHash(algorithm).update(content).digest('hex');
    const sent: Digest = { bytes: content.length, sha256: digest('sha256'), md5: options.md5 ? digest('md5') : undefined };
    checkExpected(key, sent, options);
    await options.beforeEnd?.();
    await options.onDigest?.({ bytes: sent.bytes, sha256: sent.sha256 });
    // With S3_CHECKSUM=md5 the MD5 goes anyway: computed here, the ETag then proves the stored bytes.
    const md5 = sent.md5 ?? (this.checksum === 'md5' ? digest('md5') : undefined);
    let etag: string | undefined;
    try {
      etag = await this.singlePut(params, content, content.length, md5, options);
    } catch (error) {
      return this.abandonPut(key, before, error);
    }
    options.onProgress?.(content.length);
    return this.confirmPut(key, { ...sent, md5 }, etag, options);
  }

  /** One PutObject (create-only when asked, Content-MD5 when known); the server's ETag. */
  private async singlePut(params: ObjectParams, Body: Readable | Buffer, ContentLength: number, md5: string | undefined, options: PutOptions): Promise<string | undefined> {
    const out = await this.client.send(new PutObjectCommand({
      ...params,
      Body,
      ContentLength,
      ContentMD5: md5 ? Buffer.from(md5, 'hex').toString('base64') : undefined,
      IfNoneMatch: options.ifNoneMatch ? '*' : undefined,
      // A CRC32C or SHA-256 header is computed from content in memory only (a stream would need trailers).
      ...(Buffer.isBuffer(Body) && !md5 ? checksumAlgorithmOf(this.checksum) : {}),
    }), { abortSignal: this.deadline(options.signal) });
    return unquote(out.ETag);
  }

  /** A put that failed: what it left is removed, unless the key was refused as taken (another writer's object). */
  private async abandonPut(key: string, before: Before, error: unknown): Promise<never> {
    if (!isPreconditionFailure(error)) await this.removeLeftover(key, before);
    throw this.explain(error, 'upload', key);
  }

  /**
   * A single PUT answers with the MD5 of what the server stored: when it is the Content-MD5 the
   * server checked, the stored bytes are proven and a HEAD would say nothing more.
   */
  private async confirmPut(key: string, sent: Digest, etag: string | undefined, options: PutOptions): Promise<PutResult> {
    if (!(sent.md5 && etag === sent.md5)) await this.checkStored(key, sent, options);
    return { key, size: sent.bytes, sha256: sent.sha256, ...(options.md5 ? { md5: sent.md5 } : {}), ...(etag ? { etag } : {}) };
  }

  /** After a failed put: removes what it left under the key (not an untouched older object), best effort. */
  private async removeLeftover(key: string, before: Before): Promise<void> {
    if (before === 'unknown') return;
    const after = await this.head(key).catch(() => undefined);
    if (after && (!before || after.etag !== before.etag || after.size !== before.size)) await this.delete(key).catch(() => undefined);
  }

  /** After every put: the server must hold exactly what was streamed. */
  private async checkStored(key: string, hashing: Digest, options: PutOptions): Promise<void> {
    const info = await this.head(key);
    const problem = !info
      ? 'is missing after upload'
      : info.size !== hashing.bytes
        ? `has ${info.size} bytes where ${hashing.bytes} were sent`
        : options.sha256 && info.metadata[SHA256_METADATA] !== hashing.sha256
          ? 'has a different SHA-256 in its metadata'
          : undefined;
    if (!problem) return;
    if (info && !options.ifNoneMatch) await this.delete(key).catch(() => undefined);
    throw new VerificationError(`${this.url}/${key} ${problem}`, 'the storage server altered the upload; check S3_ENDPOINT and its checksum support');
  }

  async get(key: string, options: { signal?: AbortSignal } = {}): Promise<Readable> {
    const out = await this.send((o) => this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.fullKey(key) }), o), 'download', key, options.signal);
    return out.Body as Readable;
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    try {
      const out = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.fullKey(key) }), { abortSignal: this.deadline() });
      return { key, size: out.ContentLength ?? 0, lastModified: out.LastModified, etag: unquote(out.ETag), metadata: out.Metadata ?? {} };
    } catch (error) {
      const status = (error as S3ServiceException).$metadata?.httpStatusCode;
      if (status === 404 || (error as Error).name === 'NotFound' || (error as Error).name === 'NoSuchKey') return undefined;
      throw this.explain(error, 'inspect', key);
    }
  }

  list(prefix = '', startAfter?: string): AsyncIterable<ObjectInfo> {
    return this.listPages(prefix, startAfter, 1000);
  }

  private async *listPages(prefix: string, startAfter: string | undefined, MaxKeys: number): AsyncIterable<ObjectInfo> {
    const base = this.prefix ? `${this.prefix}/` : '';
    const StartAfter = startAfter === undefined ? undefined : base + startAfter;
    let ContinuationToken: string | undefined;
    do {
      const page = await this.send((o) => this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: base + prefix, StartAfter, ContinuationToken, MaxKeys }), o), 'list', prefix);
      for (const item of page.Contents ?? []) {
        yield { key: item.Key!.slice(base.length), size: item.Size ?? 0, lastModified: item.LastModified, etag: unquote(item.ETag), metadata: {} };
      }
      ContinuationToken = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (ContinuationToken);
  }

  /**
   * A few keys: one HEAD each. More: a listing of their key range (from the first to the last in
   * S3 order), which costs one request per 1000 objects in that range. A range crowded with other
   * objects stops being listed after a budget; the keys past that point get a HEAD each.
   */
  async findExisting(keys: readonly string[]): Promise<Map<string, ObjectInfo>> {
    const found = new Map<string, ObjectInfo>();
    const sorted = [...new Set(keys)].sort(compareKeys);
    // Keys up to this one are settled by the listing; the rest get a HEAD each.
    let listedUpTo: string | undefined;
    if (sorted.length > FEW_KEYS) {
      const last = sorted.at(-1)!;
      const wanted = new Set(sorted);
      let budget = Math.max(1000, sorted.length * 4);
      listedUpTo = last;
      // Pages no bigger than the range needs: a server lists (and s3rver reads) every entry it returns.
      const pageSize = Math.min(1000, sorted.length + 16);
      for await (const info of this.listPages(commonPrefix(sorted[0]!, last), justBefore(sorted[0]!), pageSize)) {
        if (compareKeys(info.key, last) > 0) break;
        if (wanted.has(info.key)) found.set(info.key, info);
        if (--budget === 0) {
          listedUpTo = info.key;
          break;
        }
      }
    }
    const unlisted = listedUpTo === undefined ? sorted : sorted.filter((key) => compareKeys(key, listedUpTo!) > 0);
    for (const key of unlisted) {
      const info = await this.head(key);
      if (info) found.set(key, info);
    }
    return found;
  }

  async delete(key: string): Promise<void> {
    await this.send((o) => this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.fullKey(key) }), o), 'delete', key);
  }

  /** DeleteObjects in batches of 1000; single deletes where a server refuses the bulk call. */
  async deleteMany(keys: string[]): Promise<void> {
    for (let i = 0; i < keys.length; i += 1000) {
      const batch = keys.slice(i, i + 1000);
      if (!this.bulkDeleteRefused) {
        try {
          const out = await this.client.send(new DeleteObjectsCommand({ Bucket: this.bucket, Delete: { Objects: batch.map((k) => ({ Key: this.fullKey(k) })), Quiet: true } }), { abortSignal: this.deadline() });
          if (out.Errors?.length) throw new OperationError(`could not delete ${out.Errors.length} objects: ${out.Errors[0]?.Message}`, 'check the storage permissions');
          continue;
        } catch (error) {
          if (error instanceof OperationError || (error as Error).name === 'AbortError') throw error;
          this.bulkDeleteRefused = true;
        }
      }
      for (const key of batch) await this.delete(key);
    }
  }

  listPartials(prefix: string): Promise<PartialWrite[]> {
    return listUnfinishedUploads(this.client, this.bucket, this.prefix ? `${this.prefix}/` : '', prefix, this.send.bind(this));
  }

  removePartial(partial: PartialWrite): Promise<void> {
    return abortUnfinishedUpload(this.client, this.bucket, this.fullKey(partial.key), partial, this.send.bind(this));
  }

  protection(): Promise<BucketProtection> {
    return readProtection(this.client, this.bucket, this.deadline(), (error) => this.explain(error, 'read the settings of', ''));
  }

  private explain(error: unknown, action: S3Action, key: string): Error {
    return explainS3Error(error, { action, url: `${this.url}/${key}`, bucket: this.bucket, region: this.region });
  }
}

function unquote(etag: string | undefined): string | undefined {
  return etag?.replace(/"/g, '');
}

function isPreconditionFailure(error: unknown): boolean {
  const e = error as S3ServiceException;
  return e?.name === 'PreconditionFailed' || e?.$metadata?.httpStatusCode === 412;
}
