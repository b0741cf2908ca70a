import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { aj, scratchDir } from '../helpers/cli.js';
import { FaultProxy, type S3Server, S3Gate, s3Env, startS3Server } from '../helpers/s3.js';
import { type ArchivingCluster, createArchivingCluster } from '../helpers/wal-cluster.js';

/** The pid of the `aj wal push` this cluster's archiver is running now, found by its env file in /proc. */
function runningPush(envFile: string): number | undefined {
  for (const entry of readdirSync('/proc').filter((e) => /^\d+$/.test(e))) {
    const cmdline = (() => {
      try {
        return readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      } catch {
        return [];
      }
    })();
    if (cmdline.includes(envFile) && cmdline.includes('push') && !cmdline.includes('sh')) return Number(entry);
  }
  return undefined;
}

async function until<T>(what: string, probe: () => T | undefined | Promise<T | undefined>, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('aj wal push against S3 storage that fails', () => {
  let s3: S3Server;
  let proxy: FaultProxy;
  let gate: S3Gate;
  let cluster: ArchivingCluster;
  let storageEnv: Record<string, string>;
  let sysid: string;

  beforeAll(async () => {
    s3 = await startS3Server();
    proxy = await new FaultProxy(s3.port).start();
    gate = await new S3Gate(s3.port).start();
    storageEnv = s3Env(s3.endpoint, 'aj-backups', 'pitr');
    cluster = await createArchivingCluster({ ...archiveEnv(gate.endpoint) });
    sysid = (await cluster.query<{ id: string }>('SELECT system_identifier::text AS id FROM pg_control_system()'))[0]!.id;
  });
  afterAll(async () => {
    await cluster?.destroy();
    await gate?.stop();
    await proxy?.stop();
    await s3?.stop();
  });

  // The archiver reaches storage through the gate (a stalled upload) or the proxy (storage down); fetch goes direct.
  const archiveEnv = (endpoint: string) => ({ ...s3Env(endpoint, 'aj-backups', 'pitr'), WAL_PUSH_PARALLEL: '3', S3_CONNECT_TIMEOUT_SECONDS: '2', S3_IDLE_TIMEOUT_SECONDS: '5' });

  /** `aj status --json`'s wal-archive rule for this cluster (aj's tables created there on first use). */
  const status = async (metricsFile?: string) => {
    const result = await aj([...(metricsFile ? ['--metrics-file', metricsFile] : []), 'status', '--json'], { env: { DATABASE_URL: cluster.url() } });
    return { result, check: (JSON.parse(result.stdout) as { checks: Array<{ name: string; ok: boolean; detail: string }> }).checks.find((c) => c.name === 'wal-archive') };
  };

  const fetchBack = async (name: string) => {
    const dir = scratchDir('wal-fetch');
    const result = await aj(['wal', 'fetch', name, 'seg', '--cluster', sysid], { cwd: dir, env: storageEnv });
    return { ...result, same: result.exitCode === 0 && readFileSync(join(dir, 'seg')).equals(readFileSync(join(cluster.dataDir, 'pg_wal', name))) };
  };

  it('a push killed -9 mid-upload leaves nothing that blocks PostgreSQL\'s retry', async () => {
    gate.rules = { stall: (method, url) => method === 'PUT' && url.includes('/wal/') };
    const name = await cluster.switchWal();
    await until('the upload to start', () => gate.seen.some((r) => r.method === 'PUT' && r.url.includes(name)));
    const pid = await until('the push process', () => runningPush(cluster.envFile));
    process.kill(pid, 'SIGKILL');
    gate.rules = {};
    await cluster.waitArchived(name, 30_000);
    expect(await fetchBack(name)).toMatchObject({ exitCode: 0, same: true });
    expect(cluster.log()).toMatch(/archive command (failed with exit code 137|was terminated by signal 9)/);
  });

  it('storage down while the server writes: segments wait in pg_wal, then all are archived, in parallel, none lost', async () => {
    cluster.writeEnv(archiveEnv(proxy.endpoint));
    proxy.mode = { kind: 'down' };
    const written: string[] = [];
    for (let i = 0; i < 4; i += 1) written.push(await cluster.switchWal());
    await until('failed archiving attempts', async () => {
      const [row] = await cluster.query<{ failed: string }>('SELECT failed_count::text AS failed FROM pg_stat_archiver');
      return Number(row!.failed) >= 1 || undefined;
    }).catch((error: Error) => {
      throw new Error(`${error.message}\n${cluster.log().slice(-4000)}`);
    });
    expect(cluster.readyCount()).toBeGreaterThanOrEqual(3);
    const failures = cluster.log().split('\n').filter((l) => l.startsWith('aj: '));
    expect(failures.length).toBeGreaterThan(0);
    expect(failures[0]).toMatch(/^aj: .*(connect|socket|ECONNRESET|reach)/i);
    const metricsFile = join(scratchDir('wal-metrics'), 'aj.prom');
    const [doctor, failing] = await Promise.all([aj(['--env-file', cluster.envFile, 'doctor', '--json'], { env: { DATABASE_URL: cluster.url() } }), status(metricsFile)]);
    const check = (JSON.parse(doctor.stdout) as { checks: Array<{ name: string; status: string; detail: string }> }).checks.find((c) => c.name === 'wal archiving');
    expect(check).toMatchObject({ status: 'fail', detail: expect.stringMatching(/^archiving fails: 0{7}1\w{16} failed at 20.*, WAL files pile up in pg_wal$/) });
    expect(doctor.exitCode).toBe(1);
    expect(failing.check).toMatchObject({ ok: false, detail: expect.stringMatching(/^archiving fails: 0{7}1\w{16} failed at 20/) });
    expect(readFileSync(metricsFile, 'utf8')).toMatch(/^aj_wal_archiving 1$[^]*^aj_wal_archive_failures_total [1-9]\d*$/m);

    proxy.mode = { kind: 'pass' };
    const last = await cluster.switchWal();
    await cluster.waitArchived(last, 60_000);
    expect(cluster.readyCount()).toBe(0);
    const [healthy, ...fetched] = await Promise.all([status(), ...[...written, last].map(fetchBack)]);
    expect(healthy!.check).toMatchObject({ ok: true, detail: expect.stringMatching(/^last archived 0{7}1\w{16} [\d.]+ min ago \(limit 15 min\); no base backup yet/) });
    expect(fetched.map((f) => [f.exitCode, f.same])).toEqual([...written, last].map(() => [0, true]));
    // Files uploaded ahead were recorded, then their own archive_command call took the record.
    const markers = join(cluster.dataDir, 'pg_wal', 'aj_archive_status');
    expect(existsSync(markers)).toBe(true);
    expect(readdirSync(markers)).toEqual([]);
  });
});
