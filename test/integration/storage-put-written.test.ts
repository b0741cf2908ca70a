import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { OperationError } from '../../src/errors.js';
import { FsStore } from '../../src/storage/fs.js';
import { SHA256_METADATA } from '../../src/storage/store.js';

const dirs: string[] = [];
afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

async function store(): Promise<{ store: FsStore; root: string }> {
  const root = await mkdtemp(join(tmpdir(), 'aj-put-written-'));
  dirs.push(root);
  return { store: new FsStore(root), root };
}

/** A shell script writing into the file descriptor it is given (as pg_dump's stdout), and its exit as a promise. */
function producer(script: string) {
  let exited!: Promise<void>;
  const produce = async (fd: number) => {
    const child = spawn('sh', ['-c', script], { stdio: ['ignore', fd, 'ignore'] });
    exited = new Promise((resolve, reject) => child.once('exit', (code) => (code === 0 ? resolve() : reject(new OperationError(`producer exited ${code}`)))));
  };
  return { produce, beforeEnd: () => exited };
}

describe('FsStore.putWritten: a process writes the object itself', () => {
  it('hashes everything written, also across pauses of the producer, and completes the object', async () => {
    const { store: fs } = await store();
    // Three bursts with pauses longer than the watcher's interval: all of it is stored and hashed.
    const { produce, beforeEnd } = producer('head -c 3000000 /dev/zero; sleep 0.2; printf middle; sleep 0.2; head -c 5000000 /dev/zero | tr "\\0" x');
    const digests: Array<{ bytes: number; sha256: string }> = [];
    const put = await fs.putWritten('a/dump', produce, { beforeEnd, onDigest: async (d) => void digests.push(d), ifNoneMatch: true });
    const expected = Buffer.concat([Buffer.alloc(3_000_000), Buffer.from('middle'), Buffer.alloc(5_000_000, 'x')]);
    const stored = Buffer.concat(await (await fs.get('a/dump')).toArray());
    expect(stored.equals(expected)).toBe(true);
    const sha256 = createHash('sha256').update(expected).digest('hex');
    expect(put).toEqual({ key: 'a/dump', size: expected.length, sha256 });
    expect(digests).toEqual([{ bytes: expected.length, sha256 }]);
    expect((await fs.head('a/dump'))?.metadata[SHA256_METADATA]).toBe(sha256);
  });

  it('hashes the file as the producer left it, also when it rewrote its start at the end (as pg_dump does on a seekable output)', async () => {
    const { store: fs } = await store();
    // dd reopens the same file through /dev/stdout and overwrites its first 4 bytes.
    const { produce, beforeEnd } = producer('printf AAAA; head -c 2000000 /dev/zero; printf BBBB | dd of=/dev/stdout conv=notrunc status=none');
    const put = await fs.putWritten('r/dump', produce, { beforeEnd });
    const expected = Buffer.concat([Buffer.from('BBBB'), Buffer.alloc(2_000_000)]);
    expect(Buffer.concat(await (await fs.get('r/dump')).toArray()).equals(expected)).toBe(true);
    expect(put.sha256).toBe(createHash('sha256').update(expected).digest('hex'));
  });

  it('leaves no object and no temporary file when the producer fails', async () => {
    const { store: fs, root } = await store();
    const { produce, beforeEnd } = producer('printf partial; exit 3');
    await expect(fs.putWritten('b/dump', produce, { beforeEnd })).rejects.toThrow('producer exited 3');
    expect(await fs.head('b/dump')).toBeUndefined();
    expect(await readdir(join(root, 'b'))).toEqual([]);
  });

  it('refuses to replace an existing object with ifNoneMatch', async () => {
    const { store: fs } = await store();
    await fs.put('c/dump', Buffer.from('first'));
    const { produce, beforeEnd } = producer('printf second');
    await expect(fs.putWritten('c/dump', produce, { beforeEnd, ifNoneMatch: true })).rejects.toThrow('object already exists: c/dump');
    expect(Buffer.concat(await (await fs.get('c/dump')).toArray()).toString()).toBe('first');
  });
});
