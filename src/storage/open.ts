import { resolve } from 'node:path';
import type { Config } from '../config/schema.js';
import type { Location } from './location.js';
import type { ObjectStore } from './store.js';

/** The driver for a location (the S3 SDK loaded only for s3://); `close` releases its client. */
export async function openLocation(location: Location, config: Config, signal?: AbortSignal): Promise<{ store: ObjectStore; close?: () => void }> {
  if (location.kind === 'file') {
    const { FsStore } = await import('./fs.js');
    return { store: new FsStore(resolve(location.path)) };
  }
  const { S3Store, createS3Client } = await import('./s3.js');
  const client = createS3Client(config);
  const store = new S3Store(client, location.bucket, location.prefix, { region: config.s3Region, checksum: config.s3Checksum, signal });
  return { store, close: () => client.destroy() };
}
