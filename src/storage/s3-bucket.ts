import {
  AbortMultipartUploadCommand,
  GetBucketVersioningCommand,
  GetObjectLockConfigurationCommand,
  ListMultipartUploadsCommand,
  type S3Client,
  type S3ServiceException,
} from '@aws-sdk/client-s3';
import type { BucketProtection } from './protection.js';
import type { S3Action } from './s3-errors.js';
import type { PartialWrite } from './store.js';

const NOT_IMPLEMENTED = new Set([501, 405]);

/** How S3Store sends a request: with the command's deadline, its failure explained. */
export type Send = <T>(request: (options: { abortSignal?: AbortSignal }) => Promise<T>, action: S3Action, key: string) => Promise<T>;

/**
 * Multipart uploads begun under `base + prefix` and never completed nor aborted, oldest first;
 * none on a server that does not implement the listing (it cannot be asked).
 */
export async function listUnfinishedUploads(client: S3Client, Bucket: string, base: string, prefix: string, send: Send): Promise<PartialWrite[]> {
  const found: PartialWrite[] = [];
  let KeyMarker: string | undefined;
  let UploadIdMarker: string | undefined;
  do {
    const list = (o: { abortSignal?: AbortSignal }) => client.send(new ListMultipartUploadsCommand({ Bucket, Prefix: base + prefix, KeyMarker, UploadIdMarker }), o).catch((error: unknown) => {
      if (NOT_IMPLEMENTED.has((error as S3ServiceException).$metadata?.httpStatusCode ?? 0)) return { Uploads: [], IsTruncated: false, NextKeyMarker: undefined, NextUploadIdMarker: undefined };
      throw error;
    });
    const page = await send(list, 'list unfinished uploads in', prefix);
    for (const upload of page.Uploads ?? []) {
      if (upload.Key?.startsWith(base) && upload.UploadId) found.push({ key: upload.Key.slice(base.length), id: upload.UploadId, startedAt: upload.Initiated ?? new Date(0) });
    }
    [KeyMarker, UploadIdMarker] = page.IsTruncated ? [page.NextKeyMarker, page.NextUploadIdMarker] : [undefined, undefined];
  } while (KeyMarker);
  return found.sort((a, b) => a.startedAt.getTime() - b.startedAt.getTime());
}

export async function abortUnfinishedUpload(client: S3Client, Bucket: string, Key: string, partial: PartialWrite, send: Send): Promise<void> {
  const command = new AbortMultipartUploadCommand({ Bucket, Key, UploadId: partial.id });
  await send((o) => client.send(command, o), 'abort the unfinished upload of', partial.key);
}

/**
 * Versioning and Object Lock, read where the server implements them and lets aj read them (unknown
 * otherwise); a server that cannot be reached, or an interruption, fails through `explain`.
 */
export async function readProtection(client: S3Client, Bucket: string, abortSignal: AbortSignal | undefined, explain: (error: unknown) => Error): Promise<BucketProtection> {
  const unanswered = <T>(error: unknown, answer: T): T => {
    const status = (error as S3ServiceException).$metadata?.httpStatusCode;
    if (status !== undefined && status >= 400 && status < 600 && status !== 408 && status !== 503) return answer;
    throw explain(error);
  };
  const versioning = await client.send(new GetBucketVersioningCommand({ Bucket }), { abortSignal }).then(
    (out) => (out.Status === 'Enabled' ? 'enabled' : out.Status === 'Suspended' ? 'suspended' : 'off') as BucketProtection['versioning'],
    (error: unknown) => unanswered(error, 'unknown' as const),
  );
  const objectLock = await client.send(new GetObjectLockConfigurationCommand({ Bucket }), { abortSignal }).then(
    (out): BucketProtection['objectLock'] => {
      if (out.ObjectLockConfiguration?.ObjectLockEnabled !== 'Enabled') return 'off';
      const retention = out.ObjectLockConfiguration.Rule?.DefaultRetention;
      return { mode: retention?.Mode, days: retention?.Days, years: retention?.Years };
    },
    (error: unknown) => unanswered(error, (error as Error).name === 'ObjectLockConfigurationNotFoundError' ? ('off' as const) : ('unknown' as const)),
  );
  return { versioning, objectLock };
}
