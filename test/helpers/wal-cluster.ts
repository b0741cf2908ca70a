import { chmodSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AJ_BIN } from './cli.js';
import { type ThrowawayCluster, createThrowawayCluster } from './pg-cluster.js';

export interface ArchivingCluster extends ThrowawayCluster {
  /** The env file archive_command reads (mode 600, the server user's). */
  envFile: string;
  /** file:// storage inside the cluster directory, unless the test gave BACKUP_BUCKET. */
  storageDir: string;
  /** Rewrites the env file (the next archive_command reads it). */
  writeEnv(settings: Record<string, string>): void;
  /** `SELECT pg_switch_wal()` after a write: the segment that was closed. */
  switchWal(): Promise<string>;
  /** Waits until pg_stat_archiver's last archived file is `name` or later; throws after `ms`. */
  waitArchived(name: string, ms?: number): Promise<void>;
  /** WAL files waiting in pg_wal/archive_status. */
  readyCount(): number;
}

/**
 * A throwaway cluster that archives its WAL through the built aj, as a real install does:
 * archive_command names aj with --env-file, the env file and storage belong to the server user,
 * nothing secret in argv. archive_mode needs a start; archive_command is set by ALTER SYSTEM.
 */
export async function createArchivingCluster(settings: Record<string, string> = {}, extraConf: Record<string, string> = {}): Promise<ArchivingCluster> {
  const cluster = await createThrowawayCluster({
    settings: { wal_level: 'replica', archive_mode: 'on', archive_timeout: '60', max_wal_senders: '2', ...extraConf },
  });
  const envFile = join(cluster.dir, 'aj.env');
  const storageDir = join(cluster.dir, 'storage');
  mkdirSync(storageDir);
  cluster.giveToServerUser(storageDir);
  const writeEnv = (values: Record<string, string>) => {
    const all = { BACKUP_BUCKET: `file://${storageDir}`, AJ_DATA_DIR: join(cluster.dir, 'aj-data'), AWS_EC2_METADATA_DISABLED: 'true', ...values };
    writeFileSync(envFile, Object.entries(all).map(([k, v]) => `${k}=${v}`).join('\n') + '\n', { mode: 0o600 });
    chmodSync(envFile, 0o600);
    cluster.giveToServerUser(envFile);
  };
  writeEnv(settings);
  const command = `${process.execPath} ${AJ_BIN} --env-file ${envFile} wal push %p`;
  await cluster.query(`ALTER SYSTEM SET archive_command = '${command}'`);
  await cluster.query('SELECT pg_reload_conf()');
  return Object.assign(cluster, {
    envFile,
    storageDir,
    writeEnv,
    async switchWal() {
      await cluster.query('CREATE TABLE IF NOT EXISTS t (n int); INSERT INTO t SELECT generate_series(1, 1000)');
      const [row] = await cluster.query<{ name: string }>('SELECT pg_walfile_name(pg_switch_wal()) AS name');
      return row!.name;
    },
    async waitArchived(name: string, ms = 20_000) {
      const deadline = Date.now() + ms;
      for (;;) {
        const [row] = await cluster.query<{ last: string | null; failed: string; error: string | null }>(
          `SELECT last_archived_wal AS last, failed_count::text AS failed, last_failed_wal AS error FROM pg_stat_archiver`,
        );
        if (row?.last && row.last.slice(0, 24) >= name) return;
        if (Date.now() > deadline) throw new Error(`${name} not archived after ${ms} ms (last ${row?.last}, ${row?.failed} failures, last failed ${row?.error})\n${cluster.log().slice(-3000)}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    readyCount() {
      return readdirSync(join(cluster.dataDir, 'pg_wal', 'archive_status')).filter((f) => f.endsWith('.ready')).length;
    },
  });
}
