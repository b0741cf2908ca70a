import type { S3ServiceException } from '@aws-sdk/client-s3';
import { ConfigError, OperationError, VerificationError } from '../errors.js';
import { ObjectNotFoundError } from './store.js';

/** What aj was doing, in words for the message and as the permission a policy must grant. */
export const S3_ACTIONS = {
  upload: 's3:PutObject',
  download: 's3:GetObject',
  inspect: 's3:GetObject',
  list: 's3:ListBucket',
  delete: 's3:DeleteObject',
  'list unfinished uploads in': 's3:ListBucketMultipartUploads',
  'abort the unfinished upload of': 's3:AbortMultipartUpload',
  'read the settings of': 's3:GetBucketVersioning',
} as const;

export type S3Action = keyof typeof S3_ACTIONS;

interface Where {
  action: S3Action;
  /** s3://bucket/prefix/key */
  url: string;
  bucket: string;
  region: string;
}

type SdkError = S3ServiceException & { code?: string; Region?: string; $response?: { headers?: Record<string, string> } };

const BAD_CREDENTIALS = new Set(['InvalidAccessKeyId', 'SignatureDoesNotMatch', 'InvalidToken', 'ExpiredToken', 'TokenRefreshRequired']);
const WRONG_REGION = new Set(['PermanentRedirect', 'AuthorizationHeaderMalformed', 'IllegalLocationConstraintException', 'Redirect']);
const UNREACHABLE = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ECONNRESET', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH']);

/**
 * One error that names the cause and the fix: missing or refused credentials and a wrong region
 * are configuration errors (exit 3); a missing permission names the bucket and the action.
 */
export function explainS3Error(error: unknown, where: Where): Error {
  if (error instanceof OperationError || error instanceof VerificationError || error instanceof ConfigError) return error;
  const e = error as SdkError;
  const name = e?.name ?? '';
  const status = e?.$metadata?.httpStatusCode;
  const { action, url, bucket } = where;
  if (name === 'AbortError') return error as Error;
  if (name === 'CredentialsProviderError') {
    return new ConfigError(`no S3 credentials to ${action} ${url}`, 'set S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY (or AWS_PROFILE, or run where an instance role provides them)', { cause: error });
  }
  if (BAD_CREDENTIALS.has(name)) {
    return new ConfigError(`the S3 server refused the credentials (${name}) to ${action} ${url}`, 'check S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN', { cause: error });
  }
  const region = regionOf(e);
  if (WRONG_REGION.has(name) || status === 301 || (status === 400 && region && region !== where.region)) {
    const fix = region ? `set S3_REGION=${region}` : 'set S3_REGION to the bucket\'s region (or S3_ENDPOINT to its endpoint)';
    return new ConfigError(`bucket ${bucket} is ${region ? `in region ${region}` : 'in another region'}, not S3_REGION=${where.region}`, fix, { cause: error });
  }
  if (name === 'NoSuchBucket') return new ConfigError(`bucket ${bucket} does not exist`, 'create it or fix the bucket setting (BACKUP_BUCKET, ARCHIVE_BUCKET)', { cause: error });
  if (name === 'AccessDenied' || name === 'Forbidden' || status === 403) {
    const permission = S3_ACTIONS[action];
    return new OperationError(`access denied: cannot ${action} ${url} (${permission} on bucket ${bucket})`, `grant ${permission} on bucket ${bucket} to these credentials (bucket policy or IAM)`, { cause: error });
  }
  if (name === 'NoSuchKey' || status === 404) return new ObjectNotFoundError(`object not found: ${url}`, 'check the key', { cause: error });
  if (name === 'PreconditionFailed' || status === 412) return new OperationError(`object already exists: ${url}`, 'objects here are never overwritten', { cause: error });
  const code = e?.code ?? (e?.cause as { code?: string } | undefined)?.code;
  if (code && UNREACHABLE.has(code)) {
    return new OperationError(`cannot ${action} ${url}: storage unreachable (${code})`, 'check S3_ENDPOINT and the network', { cause: error });
  }
  // The SDK names a dropped connection TimeoutError too (code ECONNRESET, above).
  if (name === 'TimeoutError' || e?.code === 'ETIMEDOUT') {
    return new OperationError(`cannot ${action} ${url}: the storage server stopped answering`, 'check S3_ENDPOINT and the network (deadlines: S3_CONNECT_TIMEOUT_SECONDS, S3_IDLE_TIMEOUT_SECONDS)', { cause: error });
  }
  // HEAD answers carry no body, so the SDK only knows the status code.
  const reason = e?.message && e.message !== 'UnknownError' ? e.message : `server answered HTTP ${status ?? '?'}`;
  if (/content-md5|checksum/i.test(reason)) {
    return new OperationError(`cannot ${action} ${url}: ${reason}`, 'the bucket requires an upload checksum (Object Lock): set S3_CHECKSUM to md5 (the default), crc32c or sha256', { cause: error });
  }
  return new OperationError(`cannot ${action} ${url}: ${reason}`, 'check the storage server and its logs', { cause: error });
}

/** The bucket's region, as AWS tells it on a request sent to the wrong one. */
function regionOf(e: SdkError): string | undefined {
  const header = e?.$response?.headers?.['x-amz-bucket-region'];
  if (header) return header;
  if (typeof e?.Region === 'string' && e.Region) return e.Region;
  return /expecting '([a-z0-9-]+)'/.exec(e?.message ?? '')?.[1];
}
