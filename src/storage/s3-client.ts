import { createHash } from 'node:crypto';
import { S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import type { Config } from '../config/schema.js';

// warn, debug and trace, which the SDK calls directly (the credential chain calls `logger?.debug(…)`:
// without it a missing credential became "init.logger?.debug is not a function"). It calls info and
// error as `logger?.info?.(…)`, so without them it never builds their messages: a filtered copy of
// every request and response, a measurable share of the CPU on thousands of small PUTs.
const SILENT_LOGGER = { warn() {}, debug() {}, trace() {} } as unknown as NonNullable<S3ClientConfig['logger']>;

/** Requests that store bytes: each carries a checksum the server checks (Object Lock buckets require one). */
const UPLOADS = new Set(['PutObjectCommand', 'UploadPartCommand']);

export type UploadChecksum = Config['s3Checksum'];

export function createS3Client(config: Config): S3Client {
  const endpoint = config.s3Endpoint;
  const isAws = !endpoint || /\.amazonaws\.com(\.cn)?(:\d+)?\/?$/.test(new URL(endpoint).host);
  const forcePathStyle = config.s3PathStyle === 'auto' ? !isAws : config.s3PathStyle === 'true';
  const client = new S3Client({
    region: config.s3Region,
    endpoint,
    forcePathStyle,
    credentials: config.s3AccessKeyId && config.s3SecretAccessKey
      ? { accessKeyId: config.s3AccessKeyId, secretAccessKey: config.s3SecretAccessKey, sessionToken: config.s3SessionToken }
      : undefined,
    // Since v3.729 the SDK sends CRC32 trailers in aws-chunked framing by default; many
    // S3-compatible servers reject it or store the framing inside the object. aj sends its own
    // checksum in a header instead (S3_CHECKSUM, see withUploadChecksum).
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    maxAttempts: 3,
    // A server that accepts the connection and then never answers must not hold a backup (and
    // its job lock) forever: every request has a connect deadline and an idle deadline.
    // (Options of the SDK's NodeHttpHandler, which it builds from them.)
    requestHandler: {
      connectionTimeout: config.s3ConnectTimeoutSeconds * 1000,
      socketTimeout: config.s3IdleTimeoutSeconds * 1000,
    },
    // Without a logger the SDK writes to console.warn (e.g. on a failed streamed upload); cron mails
    // every stderr line, and aj reports the failure itself in one line.
    logger: SILENT_LOGGER,
  });
  if (config.s3Checksum === 'md5') (client.middlewareStack as unknown as MiddlewareStack).add(contentMd5, { step: 'build', name: 'ajContentMd5' });
  return client;
}

/**
 * Content-MD5 on every upload request whose body is in memory (single PUTs of buffered content and
 * multipart parts): the one integrity header that AWS (Object Lock included), MinIO, Scaleway, OVH,
 * R2 and Backblaze all check. Requests that already carry a checksum are left as they are.
 */
type Handler = (args: { request: unknown }) => Promise<unknown>;
interface MiddlewareStack {
  add(middleware: (next: Handler, context: { commandName?: string }) => Handler, options: { step: 'build'; name: string }): void;
}

const contentMd5 = (next: Handler, context: { commandName?: string }): Handler => async (args) => {
  const request = args.request as { headers?: Record<string, string>; body?: unknown } | undefined;
  const body = request?.body;
  if (request?.headers && UPLOADS.has(context.commandName ?? '') && (typeof body === 'string' || ArrayBuffer.isView(body))) {
    const names = Object.keys(request.headers).map((name) => name.toLowerCase());
    if (!names.some((name) => name === 'content-md5' || name.startsWith('x-amz-checksum-'))) {
      const bytes = typeof body === 'string' ? Buffer.from(body) : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
      request.headers['content-md5'] = createHash('md5').update(bytes).digest('base64');
    }
  }
  return next(args);
};

/**
 * The SDK's parameter that makes it compute a CRC32C or SHA-256 of a body held in memory and send it
 * as an x-amz-checksum-* header (for a stream it would use trailers, which aj avoids).
 */
export function checksumAlgorithmOf(checksum: UploadChecksum): { ChecksumAlgorithm?: 'CRC32C' | 'SHA256' } {
  if (checksum === 'crc32c') return { ChecksumAlgorithm: 'CRC32C' };
  if (checksum === 'sha256') return { ChecksumAlgorithm: 'SHA256' };
  return {};
}
