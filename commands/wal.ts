import type { Command } from 'commander';
import type { Context } from '../src/context.js';
import { groupHelp } from './shared/help.js';

const PUSH_HELP = `
PostgreSQL runs it once per WAL file, as its own OS user, in the data directory (postgresql.conf):
  wal_level = replica
  archive_mode = on
  archive_command = 'aj --env-file /etc/aj/aj.env wal push %p'
  archive_timeout = 60
The env file (BACKUP_BUCKET, S3 settings, BACKUP_AGE_RECIPIENT) must be readable by the postgres user.
No database connection is made: archiving works while aj's own database is busy or recovering.

Each file goes to BACKUP_BUCKET as cluster-<system identifier>/wal/<timeline>/<name>.gz[.age],
gzip level WAL_COMPRESS_LEVEL, with the SHA-256 and size of the original in its metadata, create-only,
and is confirmed by reading its size and checksum back before exit 0. When other WAL files wait
(.ready), up to WAL_PUSH_PARALLEL of the oldest go too, and their own call returns at once.
Silent on success (PostgreSQL's log stays quiet); --json prints what was done.

Examples:
  aj --env-file /etc/aj/aj.env wal push pg_wal/000000010000000000000003   # as PostgreSQL calls it
  sudo -u postgres sh -c 'cd /var/lib/postgresql/15/main && aj --env-file /etc/aj/aj.env wal push pg_wal/000000010000000000000003 --json'

Exit status: 0 archived and confirmed (or already archived with the same content), 1 failed (storage
down: PostgreSQL keeps the file and retries), 2 usage error, 3 configuration error (no data directory,
unreadable pg_control or env file), 4 the stored object does not read back as sent, 5 the archive
already holds this file with DIFFERENT content: never overwritten, an alert goes to ALERT_EMAIL /
ALERT_WEBHOOK_URL, and retrying cannot help (two servers with one system identifier archive here),
130 interrupted.
`;

const FETCH_HELP = `
PostgreSQL runs it for each WAL file recovery needs (postgresql.conf, or a drill's recovery settings):
  restore_command = 'aj --env-file /etc/aj/aj.env wal fetch %f %p'
The file is checked twice: the stored bytes against their recorded SHA-256, then, decrypted
(BACKUP_AGE_IDENTITY_FILE or --identity) and decompressed, the original size and SHA-256. It is
written to a temporary file beside <path> and renamed: PostgreSQL never reads a partial file.
The cluster is the one whose data directory is the current directory (a restored base backup keeps
the system identifier of its source), or --cluster.

Examples:
  aj --env-file /etc/aj/aj.env wal fetch 000000010000000000000003 pg_wal/RECOVERYXLOG   # as PostgreSQL calls it
  aj wal fetch 000000010000000000000003 /tmp/seg --cluster 7312345678901234567 --identity ~/.age/aj.key

Exit status: 0 restored, 1 not in the archive (recovery ends there; also PostgreSQL's probes for
.history files) or storage failure, 2 usage error, 3 configuration error (encrypted without an
identity), 4 damaged (size, checksum, decompression or decryption): not restored, 130 interrupted.
`;

export function register(program: Command, ctx: Context): void {
  const wal = program.command('wal').description("PostgreSQL's archive_command and restore_command: continuous WAL archiving to BACKUP_BUCKET").addHelpText('after', groupHelp(["archive_command = 'aj --env-file /etc/aj/aj.env wal push %p'      # postgresql.conf", "restore_command = 'aj --env-file /etc/aj/aj.env wal fetch %f %p'  # set by aj backup restore --physical"]) + 'aj wal push also exits 5: the archive already holds that WAL file with different content (never overwritten).\n');

  wal
    .command('push')
    .description('archive_command: compress, encrypt, upload and confirm one WAL file (%p)')
    .argument('<path>', "the WAL file's path, as PostgreSQL passes %p (pg_wal/000000010000000000000003)")
    .option('--data-dir <dir>', 'the data directory (default: PGDATA, else the current directory)')
    .option('--json', 'print what was archived as JSON')
    .addHelpText('after', PUSH_HELP)
    .action(async (path: string, opts: { dataDir?: string; json?: boolean }) => {
      const { pushWal } = await import('../src/wal/push.js');
      const result = await pushWal(ctx, { path, dataDir: opts.dataDir });
      for (const failed of result.ahead.filter((a) => 'error' in a)) ctx.io.debug(`${failed.name} not uploaded ahead: ${(failed as { error: string }).error}`);
      if (opts.json) ctx.io.json(result);
    });

  wal
    .command('fetch')
    .description('restore_command: download, verify and write one WAL file (%f to %p)')
    .argument('<name>', "the WAL file's name, as PostgreSQL passes %f (000000010000000000000003, 00000002.history)")
    .argument('<path>', 'where to write it, as PostgreSQL passes %p (pg_wal/RECOVERYXLOG)')
    .option('--cluster <system-id>', "the archive's cluster (default: the system identifier of the data directory)")
    .option('--data-dir <dir>', 'the data directory (default: PGDATA, else the current directory)')
    .option('--identity <file>', 'age identity file for an encrypted archive (default: BACKUP_AGE_IDENTITY_FILE)')
    .option('--json', 'print what was restored as JSON')
    .addHelpText('after', FETCH_HELP)
    .action(async (name: string, path: string, opts: { cluster?: string; dataDir?: string; identity?: string; json?: boolean }) => {
      const { fetchWal } = await import('../src/wal/fetch.js');
      const { parseSystemIdentifier } = await import('../src/wal/cluster.js');
      const result = await fetchWal(ctx, {
        name, path, dataDir: opts.dataDir, identityFile: opts.identity, signal: ctx.signal,
        cluster: opts.cluster === undefined ? undefined : parseSystemIdentifier(opts.cluster),
      });
      if (opts.json) ctx.io.json(result);
    });
}
