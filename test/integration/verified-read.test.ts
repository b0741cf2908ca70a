import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VerificationError } from '../../src/errors.js';
import { FsStore } from '../../src/storage/fs.js';
import { S3Store } from '../../src/storage/s3.js';
import { ObjectNotFoundError, type ObjectStore } from '../../src/storage/store.js';
import { DamagedObjectError, openVerified, readVerified, verifyStored } from '../../src/storage/verified.js';
import { FaultProxy, type S3Server, closeS3Clients, s3ClientFor, startS3Server } from '../helpers/s3.js';

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');
const recordedOf = (data: Buffer) => ({ size: data.length, sha256: sha256(data) });
const flipped = (data: Buffer, at: number) => {
  const copy = Buffer.from(data);
  copy[at] = copy[at]! ^ 0x01;
  return copy;
};

let s3: S3Server;
const dirs: string[] = [];

const s3Client = (endpoint: string): S3Client => s3ClientFor(endpoint).client;

async function scratch(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'aj-verified-'));
  dirs.push(dir);
  return dir;
}

beforeAll(async () => {
  process.env.AWS_EC2_METADATA_DISABLED = 'true';
  s3 = await startS3Server();
});

afterAll(async () => {
  closeS3Clients();
  await s3?.stop();
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

const drivers: Array<[string, () => Promise<ObjectStore>]> = [
  ['FsStore', async () => new FsStore(await scratch())],
  ['S3Store', async () => new S3Store(s3Client(s3.endpoint), 'aj-test', `verified-${randomBytes(4).toString('hex')}`)],
];

describe.each(drivers)('the checked read on %s', (_name, open) => {
  let store: ObjectStore;
  // A PDF-sized object spanning several chunks of the stream.
  const pdf = Buffer.concat([Buffer.from('%PDF-1.7\n'), randomBytes(3 * 1024 * 1024 + 17), Buffer.from('\n%%EOF\n')]);
  beforeAll(async () => {
    store = await open();
    await store.put('facture/2026/03/FA-1/FA-1.pdf', pdf, { size: pdf.length });
  });

  it('returns the recorded bytes, in memory or as a stream', async () => {
    expect(Buffer.compare(await readVerified(store, 'facture/2026/03/FA-1/FA-1.pdf', recordedOf(pdf)), pdf)).toBe(0);
    const out = join(await scratch(), 'copy.pdf');
    await pipeline(await openVerified(store, 'facture/2026/03/FA-1/FA-1.pdf', recordedOf(pdf)), createWriteStream(out));
    expect(Buffer.compare(await readFile(out), pdf)).toBe(0);
    await expect(verifyStored(store, 'facture/2026/03/FA-1/FA-1.pdf', recordedOf(pdf))).resolves.toBeUndefined();
  });

  it('refuses an object with one flipped byte: checksum_mismatch, a VerificationError naming it', async () => {
    await store.put('flip/FA-2.pdf', flipped(pdf, 1000), { size: pdf.length });
    const error = await readVerified(store, 'flip/FA-2.pdf', recordedOf(pdf), { label: 'facture FA-2 version 1', consequence: 'nothing was sent' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DamagedObjectError);
    expect(error).toBeInstanceOf(VerificationError);
    expect(error).toMatchObject({ problem: 'checksum_mismatch', key: 'flip/FA-2.pdf', exitCode: 4 });
    expect((error as Error).message).toBe(
      `facture FA-2 version 1 (${store.url}/flip/FA-2.pdf) is damaged in storage: SHA-256 ${sha256(flipped(pdf, 1000)).slice(0, 12)}… instead of the recorded ${sha256(pdf).slice(0, 12)}…; nothing was sent`,
    );
  });

  it('fails a stream of a damaged object before its end reaches the reader: a copy never completes', async () => {
    const out = join(await scratch(), 'copy.pdf');
    const error = await pipeline(await openVerified(store, 'flip/FA-2.pdf', recordedOf(pdf)), createWriteStream(out)).catch((e: unknown) => e);
    expect(error).toMatchObject({ problem: 'checksum_mismatch' });
    // The last chunk is held until the check passes.
    expect((await readFile(out)).length).toBeLessThan(pdf.length);
  });

  it('refuses a short object: size_mismatch with both sizes', async () => {
    await store.put('short/FA-3.pdf', pdf.subarray(0, pdf.length - 1), { size: pdf.length - 1 });
    const error = await readVerified(store, 'short/FA-3.pdf', recordedOf(pdf)).catch((e: unknown) => e);
    expect(error).toMatchObject({ problem: 'size_mismatch', detail: `${pdf.length - 1} bytes instead of the ${pdf.length} recorded` });
  });

  it('refuses a longer object as soon as it passes the recorded size', async () => {
    const longer = Buffer.concat([pdf, Buffer.from('appended')]);
    await store.put('long/FA-4.pdf', longer, { size: longer.length });
    const error = await readVerified(store, 'long/FA-4.pdf', recordedOf(pdf)).catch((e: unknown) => e);
    expect(error).toMatchObject({ problem: 'size_mismatch', detail: `more than the ${pdf.length} bytes recorded` });
  });

  it('says a missing object is not found (not damage)', async () => {
    const error = await readVerified(store, 'none/FA-5.pdf', recordedOf(pdf)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ObjectNotFoundError);
    expect((error as Error).message).toMatch(/object not found/);
  });
});

describe('the checked read through a network that corrupts a response', () => {
  let proxy: FaultProxy;
  beforeAll(async () => {
    proxy = await new FaultProxy(s3.port).start();
  });
  afterAll(async () => {
    await proxy?.stop();
  });

  it('refuses bytes flipped in transit although the stored object is intact', async () => {
    const data = randomBytes(64 * 1024);
    const prefix = `transit-${randomBytes(4).toString('hex')}`;
    await new S3Store(s3Client(s3.endpoint), 'aj-test', prefix).put('FA-6.pdf', data, { size: data.length });
    proxy.mode = { kind: 'flip-response-byte', offset: 100 };
    const error = await readVerified(new S3Store(s3Client(proxy.endpoint), 'aj-test', prefix), 'FA-6.pdf', recordedOf(data)).catch((e: unknown) => e);
    proxy.mode = { kind: 'pass' };
    expect(error).toMatchObject({ problem: 'checksum_mismatch' });
    expect(await readVerified(new S3Store(s3Client(proxy.endpoint), 'aj-test', prefix), 'FA-6.pdf', recordedOf(data))).toEqual(data);
  });
});
