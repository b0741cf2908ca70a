#!/usr/bin/env node
// The raw tool aj's S3 backup is compared with: pg_dump piped into one @aws-sdk/lib-storage Upload
// with the SDK's defaults (5 MiB parts, 4 at a time, the SDK's default checksum). No count, no hash
// of our own, no history: the least a script can do to put a dump in a bucket.
// Usage: node raw-s3-upload.mjs <pg_dump path> <database url> <endpoint> <bucket> <key>
import { spawn } from 'node:child_process';
import { S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';

const [pgDump, url, endpoint, Bucket, Key] = process.argv.slice(2);
const client = new S3Client({
  endpoint, region: 'us-east-1', forcePathStyle: true,
  credentials: { accessKeyId: process.env.AWS_ACCESS_KEY_ID ?? 'S3RVER', secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY ?? 'S3RVER' },
});
const dump = spawn(pgDump, ['-Fc', '-Z1', url], { stdio: ['ignore', 'pipe', 'inherit'] });
const exited = new Promise((resolve, reject) => dump.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`pg_dump exited ${code}`)))));
await new Upload({ client, params: { Bucket, Key, Body: dump.stdout } }).done();
await exited;
client.destroy();
