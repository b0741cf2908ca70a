#!/usr/bin/env node
// The baseline for `aj archive put`: a fresh Node process that reads every file of a directory
// and sends one PutObject per file, `concurrency` at a time, with the AWS SDK's defaults, under
// the same key layout as the archive (<prefix>/<name without .pdf>/<name>): on a filesystem-backed
// server such as s3rver, a directory per document costs the same on both sides.
//   node bench/archive/raw-put.mjs <dir> <bucket> <key-prefix> <concurrency>   (S3_ENDPOINT, AWS_* in env)
import { readdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';

const [dir, bucket, prefix, concurrency] = process.argv.slice(2);
const sdk = new S3Client({ endpoint: process.env.S3_ENDPOINT, region: 'us-east-1', forcePathStyle: true });
const names = readdirSync(dir);
let next = 0;
await Promise.all(Array.from({ length: Number(concurrency) }, async () => {
  while (next < names.length) {
    const name = names[next++];
    await sdk.send(new PutObjectCommand({ Bucket: bucket, Key: `${prefix}/${name.replace(/\.pdf$/, '')}/${name}`, Body: await readFile(join(dir, name)), ContentType: 'application/pdf' }));
  }
}));
sdk.destroy();
