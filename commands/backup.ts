import { Option, type Command } from 'commander';
import type { Context } from '../src/context.js';
import { UsageError, VerificationError } from '../src/errors.js';
import { formatBytes, formatDuration, formatTime, renderTable } from '../src/render.js';
import { camelFields } from '../src/json-fields.js';
import { groupHelp } from './shared/help.js';
import { isoDate, positiveInteger } from './shared/parse.js';

const EXIT_STATUS = `
Exit status: 0 ok, 1 failed, 2 usage error, 3 configuration error, 4 verification failed,
75 another backup job holds the lock, 130 interrupted.
`;

export function register(program: Command, ctx: Context): void {
  const backup = program.command('backup').description('back up the database to storage; list, restore and verify backups').addHelpText('after', groupHelp(['aj backup run', 'aj backup list', 'aj backup restore latest --target-url postgresql://localhost/drill --create --verify', 'aj backup verify latest']));

  backup
    .command('run')
    .description('stream pg_dump to storage with a manifest and checksums, then apply retention')
    .option('--no-retention', 'keep every old backup this time')
    .option('--wait', 'wait for a running backup to finish instead of exiting 75')
    .option('--physical', 'a base backup of the whole cluster (pg_basebackup) for point-in-time recovery, instead of a pg_dump')
    .option('--json', 'print the history record as JSON')
    .addHelpText('after', `\nExamples:\n  aj backup run\n  aj backup run --json | jq .sha256\n  aj backup run --physical        # base backup; with \`aj wal push\` as archive_command: restore to any moment since\n  BACKUP_ENABLED=false aj backup run   # no-op, exit 0\n${EXIT_STATUS}`)
    .action(async (opts: { retention: boolean; wait?: boolean; json?: boolean; physical?: boolean }) => {
      if (opts.physical) return runPhysical(ctx, opts);
      const { runBackup } = await import('../src/backup/run.js');
      const progress = ctx.io.progress('backing up');
      const started = Date.now();
      const result = await runBackup(ctx, {
        retention: opts.retention,
        wait: Boolean(opts.wait),
        onProgress: (bytes) => progress.update(`${formatBytes(bytes)} (${formatBytes(Math.round(bytes / Math.max(0.001, (Date.now() - started) / 1000)))}/s)`),
      }).finally(() => progress.done());
      if (result.disabled) {
        ctx.io.notice('backups disabled (BACKUP_ENABLED=false)');
        ctx.skipped = 'BACKUP_ENABLED is false';
        if (opts.json) ctx.io.json({ disabled: true });
        return;
      }
      // The interrupted run was already reported once, by the job history (src/ops/job-runs.ts).
      const { record, prune, cleanup } = result;
      for (const key of cleanup?.aborted ?? []) ctx.io.notice(`aborted an unfinished upload of an interrupted run: ${key}`);
      for (const { id, key } of cleanup?.adopted ?? []) ctx.io.notice(`adopted ${key}: the whole dump of interrupted run ${id} (its recorded size and SHA-256); run ${id} is now succeeded`);
      for (const key of cleanup?.removed ?? []) ctx.io.notice(`removed ${key}: a dump without manifest that could not be proven`);
      for (const key of cleanup?.kept ?? []) ctx.io.warn(`left ${key} in place: unfinished, but recent and of no run known to have died`);
      if (opts.json) return ctx.io.json({ ...camelFields(record), pruned: prune?.removed.map((r) => r.id) ?? [], cleanup: cleanup ?? null });
      ctx.io.out(`backup ${record.id} succeeded: ${record.storage_url}/${record.object_key} (${formatBytes(record.size_bytes)}, ${record.total_rows} rows, sha256 ${record.sha256!.slice(0, 12)}, ${formatDuration(record.duration_ms)})`);
      if (prune?.paused) ctx.io.warn(`retention paused: ${prune.paused}`);
      if (prune && prune.removed.length > 0) ctx.io.notice(`retention removed ${prune.removed.length} old backup(s): ${prune.removed.map((r) => r.id).join(', ')}`);
      if (prune?.note) ctx.io.notice(prune.note);
    });

  backup
    .command('list')
    .description('backup history, newest first')
    .addOption(new Option('--status <status>', 'only this status').choices(['running', 'succeeded', 'failed', 'deleted']))
    .option('--limit <n>', 'at most this many rows', positiveInteger, 50)
    .option('--since <date>', 'only backups started on or after this date', isoDate)
    .option('--remote', 'reconcile with storage: flag missing objects and objects with no history')
    .option('--json', 'print as JSON')
    .addHelpText('after', `\nExamples:\n  aj backup list\n  aj backup list --status failed --since 2026-11-01\n  aj backup list --remote --json\n${EXIT_STATUS}  With --remote, exit 4 when storage and history disagree.\n`)
    .action(async (opts: { status?: string; limit: number; since?: Date; remote?: boolean; json?: boolean }) => {
      const { listBackupRuns } = await import('../src/backup/list.js');
      const result = await listBackupRuns(ctx, { status: opts.status, limit: opts.limit, since: opts.since, remote: Boolean(opts.remote) });
      if (opts.json) ctx.io.json({ ...result, backups: result.backups.map(camelFields) });
      else {
        await renderTable(ctx.io, result.backups, [
          { header: 'id', value: (r) => r.id },
          { header: 'kind', value: (r) => r.kind },
          { header: 'started', value: (r) => formatTime(r.started_at) },
          { header: 'status', value: (r) => r.status + (r.verify_ok === false ? ' (verify failed)' : r.verify_ok ? ' (verified)' : '') },
          { header: 'size', value: (r) => formatBytes(r.size_bytes) },
          { header: 'duration', value: (r) => formatDuration(r.duration_ms) },
          { header: 'sha256', value: (r) => r.sha256?.slice(0, 12) },
          { header: 'key', value: (r) => r.object_key ?? r.error },
        ], 'no backups yet: run `aj backup run`');
        if (ctx.io.stdoutIsTTY) {
          const { sparkline } = await import('../src/ops/trend.js');
          const sizes = result.backups.filter((r) => r.kind === 'logical' && r.size_bytes !== null).map((r) => r.size_bytes!).reverse();
          if (sizes.length > 1) ctx.io.out(`size trend, oldest to newest: ${sparkline(sizes)}`);
        }
        for (const m of result.remote?.missing ?? []) ctx.io.error(`backup ${m.id}: object missing from storage: ${m.key}`);
        for (const u of result.remote?.unknown ?? []) ctx.io.error(`object with no history row: ${u.key} (${formatBytes(u.size)})`);
        for (const o of result.remote?.orphans ?? []) ctx.io.warn(`dump without manifest (an interrupted run): ${o.key} (${formatBytes(o.size)}); the next \`aj backup run\` adopts or removes it`);
        for (const p of result.remote?.partials ?? []) ctx.io.warn(`unfinished upload since ${formatTime(p.since)}: ${p.key}; the next \`aj backup run\` removes it`);
      }
      const remote = result.remote;
      if (remote && remote.missing.length + remote.unknown.length > 0) {
        throw new VerificationError(`storage and history disagree: ${remote.missing.length} missing, ${remote.unknown.length} unknown`, 'investigate before retention or restores rely on them');
      }
    });

  backup
    .command('restore')
    .description('restore a backup into a database, after proving its checksum')
    .argument('<backup>', 'backup id, latest, an object key (<db>/yyyy/mm/dd/<db>-<stamp>.dump), or latest-in-storage (no history needed)')
    .addOption(new Option('--target-url <url>', 'database to restore into (prefer a URL without password + PGPASSFILE, or this env var)').env('AJ_RESTORE_TARGET_URL'))
    .option('--force', "allow restoring over the configured DATABASE_URL database (all but aj's own schema)")
    .option('-y, --yes', 'do not ask for confirmation (required when not interactive)')
    .option('--create', 'create the target database (fails if it exists, unless --clean)')
    .option('--clean', 'drop objects of the dump that exist in the target before restoring them')
    .option('--jobs <n>', 'parallel pg_restore jobs', positiveInteger, 1)
    .option('--with-owner', 'keep object owners and privileges (default: --no-owner --no-acl)')
    .option('--with-globals', 'also restore roles saved beside the dump')
    .option('--verify', 'compare row counts of every table with the manifest; exit 4 on any difference')
    .option('--identity <file>', 'age identity file for encrypted backups (default: BACKUP_AGE_IDENTITY_FILE)')
    .option('--database <name>', "with latest-in-storage: whose newest backup to restore, when several databases share the prefix (default: DATABASE_URL's database)")
    .option('--physical', 'restore a base backup (aj backup run --physical) into a data directory, recovering to --to-time, --to-lsn or --to-latest')
    .option('--target-dir <dir>', 'with --physical: an empty or new data directory to restore into')
    .option('--to-time <time>', 'with --physical: recover up to this moment: "2026-06-01 17:05 Europe/Paris", an ISO time with offset, or a local time in AJ_TIMEZONE')
    .option('--to-lsn <lsn>', 'with --physical: recover up to this WAL position (0/3000148)')
    .option('--to-latest', 'with --physical: recover all the archived WAL (the default)')
    .option('--cluster <system-id>', 'with --physical latest-in-storage: whose base backup, when the storage holds several clusters')
    .option('--wal-env-file <file>', "with --physical: env file the restored server's restore_command (aj wal fetch) reads (default: this run's --env-file)")
    .option('--drill', 'with --physical: restore into a scratch directory, start a throwaway server on loopback, count every table of every database, remove it; exit 4 unless proven')
    .option('--expect-counts <file>', 'with --drill: JSON {"<database>": {"<schema.table>": rows}}; any difference is exit 4')
    .option('--timeout <seconds>', 'with --drill: give up waiting for recovery after this long', positiveInteger, 600)
    .option('--json', 'print the result as JSON')
    .addHelpText('after', `\nExamples:\n  aj backup restore latest --target-url postgresql://localhost/drill --create --verify\n  aj backup restore 42 --target-url "$DRILL_URL" --create --verify --yes --json   # CI restore drill\n  aj backup restore latest --force            # over production: asks you to type its name\n  aj backup restore latest-in-storage --target-url postgresql://localhost/rebuilt --create --verify   # history database lost\n  aj backup restore latest-in-storage --database shop --target-url postgresql://localhost/shop2 --create   # another database under the prefix\n  aj backup restore latest --physical --target-dir /var/lib/postgresql/15/restored --to-time "2026-06-01 17:05 Europe/Paris"\n  aj backup restore 42 --physical --target-dir /srv/pg-restored --to-lsn 0/3000148 --wal-env-file /etc/aj/aj.env\n  aj backup restore latest --physical --drill --expect-counts counts.json --json   # weekly proof of point-in-time recovery\n  aj backup restore latest-in-storage --physical --target-dir /srv/pg-new --to-time "2026-06-01 17:05"   # the server and its history lost\n\nOver production (--force), aj's own schema (AJ_DB_SCHEMA) is left as it is: aj's history stays true.\nInto another database, everything in the dump is restored, aj's schema included.\nNon-interactive usage: restoring over production needs --force --yes.\nWith --physical, --force empties a --target-dir that is not empty (never one a running server uses).\n${EXIT_STATUS}  With --drill: 0 only when the restored server reached the target and every table was read\n  (and matched --expect-counts); 4 otherwise.\n`)
    .action(async (ref: string, opts: RestoreFlags) => {
      if (opts.physical || opts.drill || opts.targetDir || opts.toTime || opts.toLsn || opts.toLatest) return restorePhysicalCommand(ctx, ref, opts);
      const { restoreBackup, assertVerified } = await import('../src/backup/restore.js');
      const progress = ctx.io.progress('downloading');
      const result = await restoreBackup(ctx, {
        ref, targetUrl: opts.targetUrl, force: Boolean(opts.force), yes: Boolean(opts.yes), create: Boolean(opts.create), clean: Boolean(opts.clean),
        jobs: opts.jobs, withOwner: Boolean(opts.withOwner), withGlobals: Boolean(opts.withGlobals), verify: Boolean(opts.verify), identityFile: opts.identity, database: opts.database,
        onProgress: (bytes) => progress.update(formatBytes(bytes)),
      }).finally(() => progress.done());
      if (opts.json) ctx.io.json({ ok: result.differences.length === 0, ...result });
      else {
        ctx.io.out(`restored ${result.backupId ? `backup ${result.backupId}` : result.key} into ${result.database}${result.created ? ' (created)' : ''} in ${formatDuration(result.durationMs)}`);
        if (result.overProduction) ctx.io.out(`aj's own schema ${ctx.config().dbSchema} was left as it was (history, archive catalog, mail log)`);
        if (result.verified && result.differences.length === 0) ctx.io.out(`verified: row counts of ${result.tablesChecked} tables match the manifest`);
        if (result.differences.length > 0) {
          await renderTable(ctx.io, result.differences, [
            { header: 'table', value: (d) => d.table },
            { header: 'manifest rows', value: (d) => d.expected ?? 'absent' },
            { header: 'restored rows', value: (d) => d.actual ?? 'absent' },
          ]);
        }
      }
      assertVerified(result);
    });

  backup
    .command('verify')
    .description('re-read backups from storage: size, SHA-256, decryption, pg_restore --list')
    .argument('[backup]', 'backup id, or latest', 'latest')
    .option('--all', 'verify every succeeded backup')
    .option('--identity <file>', 'age identity file, to check that encrypted backups decrypt')
    .option('--wait', 'wait for a running verification instead of exiting 75')
    .option('--json', 'print the outcomes as JSON')
    .addHelpText('after', `\nExamples:\n  aj backup verify\n  aj backup verify 42\n  aj backup verify --all --json\n${EXIT_STATUS}`)
    .action(async (ref: string, opts: { all?: boolean; identity?: string; wait?: boolean; json?: boolean }) => {
      const { verifyBackups } = await import('../src/backup/verify.js');
      const outcomes = await verifyBackups(ctx, { ref, all: Boolean(opts.all), identityFile: opts.identity, wait: Boolean(opts.wait) });
      if (opts.json) ctx.io.json(outcomes);
      else {
        await renderTable(ctx.io, outcomes, [
          { header: 'id', value: (o) => o.id },
          { header: 'result', value: (o) => (o.ok ? ctx.io.paint('green', 'ok') : ctx.io.paint('red', 'FAILED')) },
          { header: 'checked', value: (o) => o.checked.join(', ') },
          { header: 'problem', value: (o) => o.error },
        ], 'no succeeded backups to verify');
      }
      const failed = outcomes.filter((o) => !o.ok);
      if (failed.length > 0) {
        const first = `backup ${failed[0]!.id}: ${failed[0]!.error}`;
        throw new VerificationError(`${failed.length} backup(s) failed verification (${first})`, 'do not rely on them; run a new backup and check the storage');
      }
    });

  backup
    .command('prune')
    .description(`delete backups past BACKUP_RETENTION_DAYS, keeping BACKUP_KEEP_MIN newest and the newest verified (dumps and base backups apart), and WAL older than the oldest base backup kept`)
    .option('--dry-run', 'show what would be deleted')
    .option('-y, --yes', 'do not ask for confirmation')
    .option('--json', 'print as JSON')
    .addHelpText('after', `\nExamples:\n  aj backup prune --dry-run\n  aj backup prune --yes\n${EXIT_STATUS}`)
    .action(async (opts: { dryRun?: boolean; yes?: boolean; json?: boolean }) => {
      const { runPrune } = await import('../src/backup/prune.js');
      const result = await runPrune(ctx, { dryRun: Boolean(opts.dryRun), yes: Boolean(opts.yes) });
      if (result.paused) ctx.io.warn(`retention paused: ${result.paused}`);
      if (result.note) ctx.io.notice(result.note);
      const removed = [...result.removed.map((r) => ({ kind: 'logical', ...r })), ...(result.physical?.removed ?? []).map((r) => ({ kind: 'physical', ...r }))];
      if (opts.json) {
        return ctx.io.json({
          dryRun: result.dryRun, paused: result.paused ?? null, removed: removed.map((r) => ({ id: r.id, kind: r.kind, key: r.object_key, startedAt: r.started_at })),
          kept: [...result.kept, ...result.physical?.kept ?? []], walDeleted: result.physical?.walDeleted ?? 0,
        });
      }
      if (result.physical?.walDeleted) ctx.io.notice(`${result.dryRun ? 'would delete' : 'deleted'} ${result.physical.walDeleted} WAL file(s) older than the oldest base backup kept`);
      await renderTable(ctx.io, removed, [
        { header: result.dryRun ? 'would delete' : 'deleted', value: (r) => r.id },
        { header: 'started', value: (r) => formatTime(r.started_at) },
        { header: 'key', value: (r) => r.object_key },
      ], 'nothing to prune');
    });

  backup
    .command('ack')
    .description('acknowledge a backup flagged as shrunk: the drop was expected, retention may resume')
    .argument('<backup>', 'backup id (see aj status or aj backup list)', positiveInteger)
    .option('--json', 'print the acknowledged backup as JSON')
    .addHelpText('after', `\nA backup smaller than BACKUP_SHRINK_ALERT (50%) of the median of the seven before it pauses retention
and makes \`aj status\` unhealthy until acknowledged; later backups are then compared from this one on.

Examples:
  aj backup ack 42
${EXIT_STATUS}`)
    .action(async (id: number, opts: { json?: boolean }) => {
      const { acknowledgeBackup } = await import('../src/ops/backup-size.js');
      const acknowledged = await acknowledgeBackup(ctx, id);
      if (opts.json) ctx.io.json({ acknowledged: acknowledged.id, size: acknowledged.size, rows: acknowledged.rows, medianSize: acknowledged.medianSize, medianRows: acknowledged.medianRows });
      else ctx.io.out(`backup ${acknowledged.id} acknowledged (${formatBytes(acknowledged.size)}, median was ${formatBytes(acknowledged.medianSize)}): retention resumes`);
    });
}

async function runPhysical(ctx: Context, opts: { retention: boolean; wait?: boolean; json?: boolean }): Promise<void> {
  const { runPhysicalBackup } = await import('../src/backup/physical/basebackup.js');
  const progress = ctx.io.progress('base backup');
  const result = await runPhysicalBackup(ctx, { retention: opts.retention, wait: Boolean(opts.wait), onProgress: (bytes) => progress.update(formatBytes(bytes)) }).finally(() => progress.done());
  if (result.disabled) {
    ctx.io.notice('backups disabled (BACKUP_ENABLED=false)');
    ctx.skipped = 'BACKUP_ENABLED is false';
    if (opts.json) ctx.io.json({ disabled: true });
    return;
  }
  // An interrupted base backup was already reported once, by the job history (src/ops/job-runs.ts).
  const { record, prune } = result;
  if (opts.json) return ctx.io.json({ kind: 'physical', ...camelFields(record), manifest: result.manifest, pruned: prune?.removed.map((r) => r.id).concat(prune.physical?.removed.map((r) => r.id) ?? []) ?? [], walDeleted: prune?.physical?.walDeleted ?? 0 });
  ctx.io.out(`base backup ${record.id} succeeded: ${record.storage_url}/${record.object_key} (${formatBytes(record.size_bytes)}, timeline ${record.timeline}, ${record.start_lsn} to ${record.stop_lsn}, sha256 ${record.sha256!.slice(0, 12)}, ${formatDuration(record.duration_ms)}); restorable to any moment from ${formatTime(record.finished_at)} while the WAL archive holds what follows`);
  if (prune?.paused) ctx.io.warn(`retention paused: ${prune.paused}`);
  const removed = [...prune?.removed ?? [], ...prune?.physical?.removed ?? []];
  if (removed.length > 0) ctx.io.notice(`retention removed ${removed.length} old backup(s): ${removed.map((r) => r.id).join(', ')}`);
  if (prune?.physical?.walDeleted) ctx.io.notice(`retention removed ${prune.physical.walDeleted} WAL file(s) older than the oldest base backup kept`);
}

interface RestoreFlags {
  targetUrl?: string; force?: boolean; yes?: boolean; create?: boolean; clean?: boolean; jobs: number; withOwner?: boolean; withGlobals?: boolean;
  verify?: boolean; identity?: string; database?: string; json?: boolean; physical?: boolean; targetDir?: string; toTime?: string; toLsn?: string;
  toLatest?: boolean; walEnvFile?: string; drill?: boolean; expectCounts?: string; timeout: number; cluster?: string;
}

async function restorePhysicalCommand(ctx: Context, ref: string, opts: RestoreFlags): Promise<void> {
  if (!opts.physical) throw new UsageError('--target-dir, --to-time, --to-lsn, --to-latest and --drill restore a base backup', 'add --physical');
  const { parseTargetTime, parseLsn } = await import('../src/backup/physical/target.js');
  if ([opts.toTime, opts.toLsn, opts.toLatest].filter(Boolean).length > 1) throw new UsageError('--to-time, --to-lsn and --to-latest exclude each other', 'give one of them');
  for (const [flag, given] of [['--target-url', opts.targetUrl], ['--create', opts.create], ['--clean', opts.clean], ['--with-globals', opts.withGlobals], ['--verify', opts.verify], ['--database', opts.database]] as const) {
    if (given) throw new UsageError(`${flag} is for dumps, not for --physical`, 'a base backup restores the whole cluster into --target-dir');
  }
  const target = opts.toTime
    ? { kind: 'time' as const, at: parseTargetTime(opts.toTime, ctx.config().timezone) }
    : opts.toLsn ? { kind: 'lsn' as const, lsn: parseLsn(opts.toLsn) } : { kind: 'latest' as const };
  const progress = ctx.io.progress('downloading');
  const onProgress = (bytes: number) => progress.update(formatBytes(bytes));
  if (opts.drill) {
    if (opts.targetDir) throw new UsageError('--drill restores into a scratch directory of its own', 'leave out --target-dir');
    const { runPhysicalDrill } = await import('../src/backup/physical/drill.js');
    const { renderDrill } = await import('../src/backup/physical/render.js');
    const drill = await runPhysicalDrill(ctx, { ref, target, cluster: opts.cluster, walEnvFile: opts.walEnvFile, identityFile: opts.identity, expectCounts: opts.expectCounts, timeoutSeconds: opts.timeout, onProgress }).finally(() => progress.done());
    return renderDrill(ctx, drill, Boolean(opts.json));
  }
  if (!opts.targetDir) throw new UsageError('--physical needs --target-dir DIR (or --drill)', 'give an empty or new directory for the restored cluster');
  const { restorePhysical } = await import('../src/backup/physical/restore.js');
  const result = await restorePhysical(ctx, { ref, targetDir: opts.targetDir, force: Boolean(opts.force), target, cluster: opts.cluster, walEnvFile: opts.walEnvFile, identityFile: opts.identity, onProgress }).finally(() => progress.done());
  if (opts.json) return ctx.io.json(result);
  const goal = result.target.kind === 'time' ? `${formatTime(result.target.value)} (${result.target.value})` : result.target.kind === 'lsn' ? `WAL position ${result.target.value}` : 'the end of the archived WAL';
  ctx.io.out(`base backup ${result.backupId} restored into ${result.targetDir}${result.filesVerified ? ' (pg_verifybackup: every file as backed up)' : ''}; on start it recovers up to ${goal}, then promotes`);
  for (const note of result.notes) ctx.io.warn(note);
  ctx.io.out('start it with:');
  for (const line of result.next) ctx.io.out(`  ${line}`);
  ctx.io.out("it keeps the source's archive_command: unless it replaces the source server, set archive_mode = off in its postgresql.auto.conf first");
}
