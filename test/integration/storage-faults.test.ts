import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { CreateMultipartUploadCommand, type S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, OperationError } from '../../src/errors.js';
import { FsStore } from '../../src/storage/fs.js';
import { sha256Of } from '../../src/storage/hashing.js';
import { S3Store } from '../../src/storage/s3.js';
import { FaultProxy, S3Gate, type S3Server, closeS3Clients, s3ClientFor, startS3Server } from '../helpers/s3.js';

const MiB = 1024 * 1024;
const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

let s3: S3Server;
const dirs: string[] = [];

/** A store as aj opens it, with these settings on top of the test server's. */
function storeAt(endpoint: string, settings: Record<string, string> = {}, signal?: AbortSignal): S3Store {
  const { client, config } = s3ClientFor(endpoint, settings);
  return new S3Store(client, 'aj-test', 'faults', { region: config.s3Region, checksum: config.s3Checksum, signal });
}

beforeAll(async () => {
  s3 = await startS3Server();
});

afterAll(async () => {
  closeS3Clients();
  await s3?.stop();
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

describe('S3 requests have deadlines', () => {
  let proxy: FaultProxy;
  beforeAll(async () => {
    proxy = await new FaultProxy(s3.port).start();
    proxy.mode = { kind: 'stall' };
  });
  afterAll(async () => {
    await proxy?.stop();
  });

  it('gives up on a server that accepts and never answers, after the idle deadline of each attempt', async () => {
    const store = storeAt(proxy.endpoint, { S3_IDLE_TIMEOUT_SECONDS: '1' });
    const started = Date.now();
    const error = await store.head('any').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OperationError);
    expect((error as Error).message).toBe('cannot inspect s3://aj-test/faults/any: the storage server stopped answering');
    expect(Date.now() - started).toBeLessThan(8000);
  });

  it('stops every request at once when the command is cancelled, uploads included', async () => {
    const abort = new AbortController();
    const store = storeAt(proxy.endpoint, {}, abort.signal);
    setTimeout(() => abort.abort(), 300);
    const started = Date.now();
    const [listing, upload] = await Promise.all([
      (async () => {
        for await (const _ of store.list('x/')) break;
      })().catch((e: unknown) => e),
      store.put('big', Readable.from([randomBytes(20 * MiB)]), { ifNoneMatch: true, checkedAbsent: true }).catch((e: unknown) => e),
    ]);
    expect((listing as Error).name).toBe('AbortError');
    expect((upload as Error).name).toBe('AbortError');
    expect(Date.now() - started).toBeLessThan(5000);
  });
});

describe('one command signal across many requests', () => {
  it('hundreds of concurrent requests (S3, local storage) print no MaxListenersExceededWarning', async () => {
    const warnings: string[] = [];
    const onWarning = (warning: Error) => warnings.push(warning.name);
    process.on('warning', onWarning);
    try {
      const abort = new AbortController();
      const store = storeAt(s3.endpoint, {}, abort.signal);
      const keys = Array.from({ length: 200 }, (_, i) => `many/${i}`);
      await Promise.all(keys.map((key) => store.put(key, Buffer.from(key), { signal: abort.signal })));
      await Promise.all(keys.map((key) => store.head(key)));
      const dir = await mkdtemp(join(tmpdir(), 'aj-fsstore-'));
      dirs.push(dir);
      const local = new FsStore(dir);
      await Promise.all(keys.map((key) => local.put(key, Readable.from([Buffer.from(key)]), { signal: abort.signal })));
      await new Promise((r) => setImmediate(r));
    } finally {
      process.off('warning', onWarning);
    }
    expect(warnings).toEqual([]);
  });
});

describe('every upload carries a checksum the server checks (a bucket with Object Lock)', () => {
  let gate: S3Gate;
  beforeAll(async () => {
    gate = await new S3Gate(s3.port).start();
    gate.rules = { requireChecksum: true };
  });
  afterAll(async () => {
    await gate?.stop();
  });

  it.each(['md5', 'crc32c', 'sha256'])('S3_CHECKSUM=%s: single puts, streams of known and unknown length, multipart parts', async (checksum) => {
    const store = storeAt(gate.endpoint, { S3_CHECKSUM: checksum });
    gate.seen.length = 0;
    const small = Buffer.from(`devis ${checksum}\n`);
    await store.put(`${checksum}/buffer`, small, { ifNoneMatch: true });
    await store.put(`${checksum}/known`, Readable.from([small]), { size: small.length, ifNoneMatch: true });
    const big = randomBytes(20 * MiB + 17);
    const put = await store.put(`${checksum}/multipart`, Readable.from([big]), { ifNoneMatch: true });
    expect(put.sha256).toBe(sha256(big));
    expect((await sha256Of(await store.get(`${checksum}/multipart`))).sha256).toBe(sha256(big));
    const puts = gate.seen.filter((r) => r.method === 'PUT');
    expect(puts.length).toBeGreaterThanOrEqual(5);
    const header = checksum === 'md5' ? 'content-md5' : `x-amz-checksum-${checksum}`;
    expect(puts.map((r) => r.checksum)).toEqual(puts.map(() => header));
  });

  it('S3_CHECKSUM=none is refused there, and the error says which setting fixes it', async () => {
    const store = storeAt(gate.endpoint, { S3_CHECKSUM: 'none' });
    const error = await store.put('none/known', Readable.from([Buffer.from('x')]), { size: 1 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OperationError);
    expect((error as OperationError).hint).toMatch(/S3_CHECKSUM to md5/);
  });
});

describe('S3 errors name the cause and the fix', () => {
  let gate: S3Gate;
  beforeAll(async () => {
    gate = await new S3Gate(s3.port).start();
  });
  afterAll(async () => {
    await gate?.stop();
  });

  it('access denied names the bucket and the permission', async () => {
    gate.rules = { error: { status: 403, code: 'AccessDenied', message: 'Access Denied' } };
    const error = await storeAt(gate.endpoint).put('denied', Buffer.from('x')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OperationError);
    expect((error as Error).message).toBe('access denied: cannot upload s3://aj-test/faults/denied (s3:PutObject on bucket aj-test)');
    const listing = await (async () => {
      for await (const _ of storeAt(gate.endpoint).list()) break;
    })().catch((e: unknown) => e);
    expect((listing as OperationError).hint).toBe('grant s3:ListBucket on bucket aj-test to these credentials (bucket policy or IAM)');
  });

  it('a wrong region is a configuration error naming the right one', async () => {
    gate.rules = {
      error: {
        status: 400, code: 'AuthorizationHeaderMalformed', message: "The authorization header is malformed; the region 'us-east-1' is wrong; expecting 'eu-west-3'",
        extra: '<Region>eu-west-3</Region>', headers: { 'x-amz-bucket-region': 'eu-west-3' },
      },
    };
    const error = await storeAt(gate.endpoint).put('region', Buffer.from('x')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect(error).toMatchObject({ message: 'bucket aj-test is in region eu-west-3, not S3_REGION=us-east-1', hint: 'set S3_REGION=eu-west-3' });
    gate.rules = { error: { status: 301, code: 'PermanentRedirect', message: 'The bucket you are attempting to access must be addressed using the specified endpoint.', headers: { 'x-amz-bucket-region': 'eu-west-3' } } };
    const head = await storeAt(gate.endpoint).head('region').catch((e: unknown) => e);
    expect(head).toBeInstanceOf(ConfigError);
    expect((head as ConfigError).hint).toBe('set S3_REGION=eu-west-3');
  });

  it('refused credentials and an unknown bucket are configuration errors', async () => {
    gate.rules = { error: { status: 403, code: 'InvalidAccessKeyId', message: 'The AWS Access Key Id you provided does not exist in our records.' } };
    const refused = await storeAt(gate.endpoint).put('keys', Buffer.from('x')).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(ConfigError);
    expect((refused as ConfigError).hint).toMatch(/S3_ACCESS_KEY_ID/);
    gate.rules = {};
    const { client } = s3ClientFor(gate.endpoint);
    const missing = await new S3Store(client, 'aj-nowhere', '').put('x', Buffer.from('x')).catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(ConfigError);
    expect((missing as Error).message).toBe('bucket aj-nowhere does not exist');
  });
});

describe('unfinished writes can be listed and removed', () => {
  it('S3: multipart uploads under a prefix, never another prefix', async () => {
    const store = storeAt(s3.endpoint);
    const { client } = s3ClientFor(s3.endpoint);
    const mine = await client.send(new CreateMultipartUploadCommand({ Bucket: 'aj-test', Key: 'faults/db1/2026/12/02/db1-x.dump' }));
    await client.send(new CreateMultipartUploadCommand({ Bucket: 'aj-test', Key: 'faults/db10/2026/12/02/db10-x.dump' }));
    const partials = await store.listPartials('db1/');
    expect(partials).toEqual([{ key: 'db1/2026/12/02/db1-x.dump', id: mine.UploadId, startedAt: expect.any(Date) }]);
    await store.removePartial(partials[0]!);
    expect(await store.listPartials('db1/')).toEqual([]);
    expect(await store.listPartials('db10/')).toHaveLength(1);
  });

  it('S3: a server without ListMultipartUploads has none to show', async () => {
    const gate = await new S3Gate(s3.port).start();
    try {
      gate.rules = { notImplemented: (method, url) => method === 'GET' && /[?&]uploads/.test(url) };
      expect(await storeAt(gate.endpoint).listPartials('db1/')).toEqual([]);
    } finally {
      await gate.stop();
    }
  });

  it('FsStore: temporary files of a crashed write, and nothing else', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'aj-fsstore-'));
    dirs.push(dir);
    const store = new FsStore(dir);
    await store.put('db1/2026/a.dump', Buffer.from('whole'));
    await writeFile(join(dir, 'db1', '2026', '.ajtmp-0123456789ab'), 'partial');
    await writeFile(join(dir, 'db1', '2026', '.ajtmp-0123456789ab.ajmeta'), '{}');
    const partials = await store.listPartials('db1/');
    expect(partials.map((p) => p.key).sort()).toEqual(['db1/2026/.ajtmp-0123456789ab', 'db1/2026/.ajtmp-0123456789ab.ajmeta']);
    for (const partial of partials) await store.removePartial(partial);
    expect((await readdir(join(dir, 'db1', '2026'))).sort()).toEqual(['a.dump', 'a.dump.ajmeta']);
  });
});
