import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { libpqEnv, sweepPassDirsOfDeadProcesses } from '../../src/db/connection.js';

/**
 * The database password reaches pg_dump and friends in a 0600 passfile inside a 0700 directory.
 * These tests run a real child process and kill it at the worst moment.
 */
const CONNECTION = fileURLToPath(new URL('../../dist/src/db/connection.js', import.meta.url));
const TARGET = { user: 'aj', password: 's3cret:pass', params: {} };
const scratch = mkdtempSync(join(tmpdir(), 'aj-passfile-test-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** A child that writes a passfile, prints its path, then exits as `how` says. */
function child(how: 'wait' | 'exit') {
  const script = `
    const { libpqEnv } = await import(${JSON.stringify(CONNECTION)});
    const { env } = await libpqEnv(${JSON.stringify(TARGET)});
    process.stdout.write(env.PGPASSFILE + '\\n');
    ${how === 'exit' ? 'process.exit(3);' : 'setInterval(() => {}, 1000);'}`;
  return execa(process.execPath, ['--input-type=module', '-e', script], { env: { TMPDIR: scratch }, reject: false, buffer: false });
}

async function firstLine(proc: ReturnType<typeof child>): Promise<string> {
  return new Promise((resolve) => proc.stdout!.once('data', (chunk: Buffer) => resolve(chunk.toString().trim())));
}

describe('the passfile', () => {
  it('is private and removed by cleanup', async () => {
    const { env, cleanup } = await libpqEnv(TARGET);
    expect(env.PGPASSFILE).toMatch(/aj-pgpass-\d+-/);
    const { statSync, readFileSync } = await import('node:fs');
    expect(statSync(env.PGPASSFILE!).mode & 0o777).toBe(0o600);
    expect(statSync(dirname(env.PGPASSFILE!)).mode & 0o777).toBe(0o700);
    expect(readFileSync(env.PGPASSFILE!, 'utf8')).toBe('*:*:*:aj:s3cret\\:pass\n');
    await cleanup();
    expect(existsSync(dirname(env.PGPASSFILE!))).toBe(false);
  });

  it('is removed when the process exits without cleaning up (process.exit)', async () => {
    const proc = child('exit');
    const path = await firstLine(proc);
    await proc;
    expect(existsSync(dirname(path))).toBe(false);
  });

  it('left by a process killed with SIGKILL is removed by the next run', async () => {
    const proc = child('wait');
    const path = await firstLine(proc);
    proc.kill('SIGKILL');
    await proc;
    expect(existsSync(path)).toBe(true);
    const removed = await sweepPassDirsOfDeadProcesses(scratch);
    expect(removed).toEqual([expect.stringMatching(new RegExp(`^aj-pgpass-${proc.pid}-`))]);
    expect(existsSync(dirname(path))).toBe(false);
  });

  it('of a process still running is left alone', async () => {
    const proc = child('wait');
    const path = await firstLine(proc);
    expect(await sweepPassDirsOfDeadProcesses(scratch)).toEqual([]);
    expect(existsSync(path)).toBe(true);
    proc.kill('SIGKILL');
    await proc;
    await sweepPassDirsOfDeadProcesses(scratch);
  });
});
