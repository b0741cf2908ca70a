import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OperationError, VerificationError } from '../../src/errors.js';
import { FsStore } from '../../src/storage/fs.js';
import { sha256Of } from '../../src/storage/hashing.js';
import { S3Store } from '../../src/storage/s3.js';
import { type ObjectStore, SHA256_METADATA } from '../../src/storage/store.js';
import { FaultProxy, type S3Server, closeS3Clients, s3ClientFor, startS3Server } from '../helpers/s3.js';

const MiB = 1024 * 1024;
const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');
const md5 = (data: Buffer) => createHash('md5').update(data).digest('hex');
const text = async (stream: Readable) => Buffer.concat(await stream.toArray()).toString();

/**
 * A stream of `size` pseudo-random bytes produced on the fly (never held in memory),
 * with no length announced, and the SHA-256 of what it produced.
 */
function generated(size: number): { stream: Readable; sha256: () => string } {
  const hash = createHash('sha256');
  const pattern = randomBytes(MiB);
  async function* chunks() {
    for (let offset = 0, n = 0; offset < size; offset += MiB, n += 1) {
      const chunk = Buffer.allocUnsafe(Math.min(MiB, size - offset));
      pattern.copy(chunk);
      chunk.writeUInt32BE(n, 0);
      hash.update(chunk);
      yield chunk;
    }
  }
  return { stream: Readable.from(chunks()), sha256: () => hash.digest('hex') };
}

let s3: S3Server;
const dirs: string[] = [];

const s3Client = (endpoint: string): S3Client => s3ClientFor(endpoint).client;

beforeAll(async () => {
  s3 = await startS3Server();
});

afterAll(async () => {
  closeS3Clients();
  await s3?.stop();
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

interface Driver {
  store: ObjectStore;
  /** How many objects make a listing span more than one page (S3 pages by 1000). */
  pageSpan: number;
  /** Creates many small objects quickly (one request each), to test listing. */
  seed(keys: string[]): Promise<void>;
}

const drivers: Array<[string, () => Promise<Driver>]> = [
  ['FsStore', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'aj-fsstore-'));
    dirs.push(dir);
    const store = new FsStore(dir);
    return { store, pageSpan: 50, seed: async (keys) => void (await Promise.all(keys.map((k) => store.put(k, Readable.from([Buffer.from(k)]))))) };
  }],
  ['S3Store', async () => {
    const client = s3Client(s3.endpoint);
    const prefix = `contract-${randomBytes(4).toString('hex')}`;
    const seed = async (keys: string[]) => {
      for (let i = 0; i < keys.length; i += 100) {
        await Promise.all(keys.slice(i, i + 100).map((k) => client.send(new PutObjectCommand({ Bucket: 'aj-test', Key: `${prefix}/${k}`, Body: k }))));
      }
    };
    return { store: new S3Store(client, 'aj-test', prefix), pageSpan: 1001, seed };
  }],
];

describe.each(drivers)('%s honours the ObjectStore contract', (_name, open) => {
  let store: ObjectStore;
  let driver: Driver;
  beforeAll(async () => {
    driver = await open();
    store = driver.store;
  });

  it('puts a stream of known size and reads it back, with its SHA-256 in the metadata', async () => {
    const body = Buffer.from('devis D-2026-014, chantier Dupont\n');
    const put = await store.put('devis/D-2026-014.txt', Readable.from([body]), { size: body.length, sha256: sha256(body), md5: md5(body), contentType: 'text/plain' });
    expect(put).toMatchObject({ key: 'devis/D-2026-014.txt', size: body.length, sha256: sha256(body), md5: md5(body) });
    const head = await store.head('devis/D-2026-014.txt');
    expect(head).toMatchObject({ key: 'devis/D-2026-014.txt', size: body.length });
    expect(head!.metadata[SHA256_METADATA]).toBe(sha256(body));
    expect(await text(await store.get('devis/D-2026-014.txt'))).toBe(body.toString());
  });

  it('puts content held in memory, and refuses it before sending when it is not what was announced', async () => {
    const body = Buffer.from('%PDF-1.4 facture F-2026-100\n');
    const put = await store.put('mem/F-2026-100.pdf', body, { size: body.length, sha256: sha256(body), md5: md5(body), ifNoneMatch: true });
    expect(put).toMatchObject({ size: body.length, sha256: sha256(body), md5: md5(body) });
    expect((await store.head('mem/F-2026-100.pdf'))!.metadata[SHA256_METADATA]).toBe(sha256(body));
    expect(await text(await store.get('mem/F-2026-100.pdf'))).toBe(body.toString());
    const wrong = await store.put('mem/F-2026-101.pdf', body, { size: body.length, md5: md5(Buffer.from('other')) }).catch((e: unknown) => e);
    expect(wrong).toBeInstanceOf(VerificationError);
    expect(await store.head('mem/F-2026-101.pdf')).toBeUndefined();
    await expect(store.put('mem/F-2026-100.pdf', Buffer.from('%PDF-1.4 other'), { ifNoneMatch: true })).rejects.toThrow(/already exists/);
  });

  it('keeps caller metadata', async () => {
    await store.put('meta/one', Readable.from([Buffer.from('x')]), { size: 1, metadata: { 'aj-kind': 'facture' } });
    expect((await store.head('meta/one'))!.metadata['aj-kind']).toBe('facture');
  });

  it('says a missing object does not exist', async () => {
    expect(await store.head('nothing/here')).toBeUndefined();
    await expect(store.get('nothing/here')).rejects.toThrow(OperationError);
    await expect(store.get('nothing/here')).rejects.toThrow(/object not found/);
  });

  it('refuses unsafe keys', async () => {
    await expect(store.put('../escape', Readable.from([Buffer.from('x')]))).rejects.toThrow(/unsafe object key/);
    await expect(store.head('/etc/passwd')).rejects.toThrow(/unsafe object key/);
  });

  it('refuses data that differs from the expected SHA-256, leaving no object', async () => {
    const body = Buffer.from('facture F-2026-007');
    const error = await store.put('factures/F-2026-007.txt', Readable.from([body]), { size: body.length, sha256: sha256(Buffer.from('other')) }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(VerificationError);
    expect(await store.head('factures/F-2026-007.txt')).toBeUndefined();
  });

  it('aborts the put when the producer fails before the end, leaving no object', async () => {
    const error = await store
      .put('db/failed.dump', Readable.from([Buffer.from('partial dump')]), { beforeEnd: async () => Promise.reject(new Error('pg_dump exited with 1')) })
      .catch((e: unknown) => e);
    expect((error as Error).message).toMatch(/pg_dump exited with 1/);
    expect(await store.head('db/failed.dump')).toBeUndefined();
  });

  it('never replaces an object when asked not to', async () => {
    await store.put('archive/F-1.pdf', Readable.from([Buffer.from('first')]), { size: 5, ifNoneMatch: true });
    await expect(store.put('archive/F-1.pdf', Readable.from([Buffer.from('second')]), { size: 6, ifNoneMatch: true })).rejects.toThrow(/already exists/);
    expect(await text(await store.get('archive/F-1.pdf'))).toBe('first');
  });

  it('lists by prefix, across pages', async () => {
    const keys = Array.from({ length: driver.pageSpan }, (_, i) => `many/${String(i).padStart(4, '0')}`);
    await driver.seed([...keys, 'manyother/x']);
    const listed: string[] = [];
    for await (const item of store.list('many/')) {
      listed.push(item.key);
      expect(item.size).toBe(9);
    }
    expect(listed.sort()).toEqual(keys);
    await store.deleteMany(keys);
    const left: string[] = [];
    for await (const item of store.list('many')) left.push(item.key);
    expect(left).toEqual(['manyother/x']);
  });

  it('finds which keys exist, with their sizes, among neighbours and across pages', async () => {
    const keys = Array.from({ length: driver.pageSpan }, (_, i) => `range/F-${String(i).padStart(4, '0')}/f.pdf`);
    await driver.seed([...keys, 'range/F-0000-other/x', 'range/E-9999/f.pdf', 'rangeother/F-0001/f.pdf']);
    const asked = [...keys.filter((_, i) => i % 3 === 0), 'range/F-0000/missing.pdf', `range/F-9999/f.pdf`, 'range/F-00/f.pdf'];
    const found = await store.findExisting(asked);
    expect([...found.keys()].sort()).toEqual(keys.filter((_, i) => i % 3 === 0));
    expect(found.get(keys[0]!)).toMatchObject({ key: keys[0], size: keys[0]!.length });
    expect([...(await store.findExisting(['range/F-0003/f.pdf', 'range/nothing'])).keys()]).toEqual(['range/F-0003/f.pdf']);
    expect((await store.findExisting([])).size).toBe(0);
    // Few wanted keys across a crowded range: past its listing budget, the rest are asked one by one.
    const far = [keys[0]!, keys[1]!, keys[2]!, keys[3]!, keys.at(-1)!, 'range/F-9999/f.pdf'];
    expect([...(await store.findExisting(far)).keys()].sort()).toEqual(far.slice(0, 5).sort());
  });

  it('lists after a key, in S3 key order', async () => {
    await driver.seed(['after/a', 'after/b', 'after/b0', 'after/c']);
    const listed: string[] = [];
    for await (const item of store.list('after/', 'after/b')) listed.push(item.key);
    expect(listed).toEqual(['after/b0', 'after/c']);
  });

  it('deletes, and deleting a missing object is not an error', async () => {
    await store.put('gone/soon', Readable.from([Buffer.from('bye')]), { size: 3 });
    await store.delete('gone/soon');
    await store.delete('gone/soon');
    expect(await store.head('gone/soon')).toBeUndefined();
  });

  it('stores a stream of unknown length over 100 MB (multipart on S3) byte for byte', async () => {
    const size = 101 * MiB + 12_345;
    const source = generated(size);
    const put = await store.put('db/big.dump', source.stream);
    expect(put.size).toBe(size);
    expect(put.sha256).toBe(source.sha256());
    const head = await store.head('db/big.dump');
    expect(head!.size).toBe(size);
    const back = await sha256Of(await store.get('db/big.dump'));
    expect(back).toMatchObject({ size, sha256: put.sha256 });
    await store.delete('db/big.dump');
  });
});

describe('FsStore writes atomically', () => {
  it('leaves no temporary file behind after a failed put', async () => {
    const { store } = await drivers[0]![1]();
    const root = new URL(store.url).pathname;
    await store.put('db/x', Readable.from([Buffer.from('abc')]), { size: 3, sha256: 'bad' }).catch(() => undefined);
    expect(await readdir(join(root, 'db'))).toEqual([]);
  });
});

describe('S3Store behind a misbehaving network', () => {
  let proxy: FaultProxy;
  let direct: S3Store;
  beforeAll(async () => {
    proxy = await new FaultProxy(s3.port).start();
    direct = new S3Store(s3Client(s3.endpoint), 'aj-test', 'faults');
  });
  afterAll(async () => {
    await proxy?.stop();
  });
  // A fresh client per case: the proxy picks its behaviour when a connection opens.
  const viaProxy = () => new S3Store(s3Client(proxy.endpoint), 'aj-test', 'faults');

  // s3rver keeps whatever part of a cut single PUT body it got (real S3 checks Content-Length and
  // stores nothing), and may do so after aj has looked; so here the test holds aj to failing loudly
  // and to a clean retry, and the multipart case below to leaving no object.
  it('fails a single put whose connection is cut mid-body, and a retry stores it whole', async () => {
    proxy.mode = { kind: 'cut-request', afterBytes: 256 * 1024 };
    const body = randomBytes(2 * MiB);
    const error = await viaProxy().put('cut/single', Readable.from([body]), { size: body.length }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OperationError);
    expect((error as Error).message).toMatch(/^cannot upload s3:\/\/aj-test\/faults\/cut\/single: storage unreachable \(E[A-Z]+\)$/);
    proxy.mode = { kind: 'pass' };
    const retried = await viaProxy().put('cut/single', Readable.from([body]), { size: body.length, sha256: sha256(body) });
    expect(retried.size).toBe(body.length);
    expect((await sha256Of(await direct.get('cut/single'))).sha256).toBe(sha256(body));
  });

  it('leaves no object when the connection is cut mid-upload (multipart)', async () => {
    proxy.mode = { kind: 'cut-request', afterBytes: 3 * MiB };
    await expect(viaProxy().put('cut/multi', generated(20 * MiB).stream)).rejects.toThrow(OperationError);
    proxy.mode = { kind: 'pass' };
    expect(await direct.head('cut/multi')).toBeUndefined();
  });

  it('reports HTTP 500 answers as one clear error', async () => {
    proxy.mode = { kind: 'status', status: 500 };
    const error = await viaProxy().put('fail/500', Readable.from([Buffer.from('x')]), { size: 1 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OperationError);
    expect((error as Error).message).toBe('cannot upload s3://aj-test/faults/fail/500: injected 500');
    await expect(viaProxy().head('fail/500')).rejects.toThrow('cannot inspect s3://aj-test/faults/fail/500: server answered HTTP 500');
    proxy.mode = { kind: 'pass' };
    expect(await direct.head('fail/500')).toBeUndefined();
  });

  it('reports an unreachable server as such', async () => {
    proxy.mode = { kind: 'down' };
    await expect(viaProxy().head('any')).rejects.toThrow(/storage unreachable/);
    proxy.mode = { kind: 'pass' };
  });
});
