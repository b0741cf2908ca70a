import type { Command } from 'commander';
import { scrubSecrets } from './config/redact.js';
import { Context } from './context.js';
import { AjError, ExitCode, InterruptedError, describeError, exitCodeOf } from './errors.js';
import { createProgram } from './program.js';
import { version } from './version.js';

/** Command groups, loaded only when invoked so `aj --help` stays fast. */
export const GROUPS: Record<string, { summary: string; load: () => Promise<{ register(program: Command, ctx: Context): void }> }> = {
  backup: { summary: 'back up the database to storage; list, restore and verify backups', load: () => import('../commands/backup.js') },
  archive: { summary: 'archive quote and invoice PDFs, never overwritten; verify them', load: () => import('../commands/archive.js') },
  mail: { summary: 'send mail with the company BCC; message history and retries', load: () => import('../commands/mail.js') },
  reminders: { summary: 'unpaid-invoice and unsigned-quote reminders, quote expiry', load: () => import('../commands/reminders.js') },
  import: { summary: 'import clients and chantiers from CSV files', load: () => import('../commands/import.js') },
  schema: { summary: "map the web app's business tables: detect a mapping, check it", load: () => import('../commands/schema.js') },
  db: { summary: 'database migrations', load: () => import('../commands/db.js') },
  config: { summary: 'show the effective configuration (secrets redacted)', load: () => import('../commands/config.js') },
  wal: { summary: "PostgreSQL's archive_command and restore_command: continuous WAL archiving (aj wal push, aj wal fetch)", load: () => import('../commands/wal.js') },
  status: { summary: 'health of the scheduled jobs: last runs, backups, archive, reminders, mail', load: () => import('../commands/status.js') },
  doctor: { summary: 'check config, database, tools, storage and mail', load: () => import('../commands/doctor.js') },
  completion: { summary: 'print a shell completion script (bash, zsh, fish)', load: () => import('../commands/completion.js') },
};

const STOP_DEADLINE_MS = 10_000;

/** Runs aj with argv and returns the exit code; calls process.exit only when a stop signal is not obeyed in time. */
export async function run(argv: string[], ctx = new Context()): Promise<number> {
  const { CommanderError } = await import('commander');
  let ops: typeof import('./ops/job-runs.js') | undefined;
  let jobRun: import('./ops/job-runs.js').JobRun | undefined;
  let jobCommand: string | undefined;
  const args = argv.slice(2);
  // --version belongs to aj alone, before any command: after one (`aj archive get ... --version 1`),
  // it is an unknown option, never a version printed into a file.
  if (asksVersion(args)) {
    ctx.io.stdout.write(`${version()}\n`);
    return ExitCode.ok;
  }
  // `aj help backup run` is `aj backup run --help`.
  if (args[0] === 'help' && args.length > 1) argv = [...argv.slice(0, 2), ...args.slice(1), '--help'];
  const program = createProgram(ctx, await import('commander'))
    .hook('preAction', async (_program, action) => {
      const globals = program.opts<{ config?: string; envFile?: string; quiet?: boolean; verbose?: boolean; color?: boolean; wide?: boolean; metricsFile?: string; logFormat?: string }>();
      ctx.globals = globals;
      ctx.io.configure(globals);
      if (globals.metricsFile) ctx.flags.metricsFile = globals.metricsFile;
      // Cron-able commands get a job_runs row, closed after the action (src/ops/job-runs.ts).
      ops = await import('./ops/job-runs.js');
      // A job whose lock session dies stops as on SIGTERM (registered here, off the path of --help).
      (await import('./db/job-lock.js')).setLockLossHandler((error) => ctx.abort.abort(error));
      jobCommand = ops.commandPath(action);
      jobRun = await ops.startJobRun(ctx, jobCommand);
    });

  const invoked = invokedGroup(argv.slice(2));
  for (const [name, group] of Object.entries(GROUPS)) {
    if (name === invoked) (await group.load()).register(program, ctx);
    else program.command(name).description(group.summary);
  }
  if (argv.length === 2) {
    // `aj` alone: the short help, on stdout, as asked for.
    program.outputHelp();
    return ExitCode.ok;
  }

  const onSignal = (signal: NodeJS.Signals) => {
    if (ctx.signal.aborted) process.exit(ExitCode.interrupted);
    ctx.io.stderr.write(`\naj: ${signal} received, stopping cleanly (again to force)\n`);
    ctx.abort.abort(new InterruptedError(signal));
    // Whatever a peer does (a server that stops answering mid-request), the command ends within 10 s.
    // The database releases the job lock with the session, and the next run closes the history row.
    setTimeout(() => {
      ctx.io.stderr.write(`aj: still not stopped 10 s after ${signal}: exiting now (the next run closes what this one left open)\n`);
      process.exit(ExitCode.interrupted);
    }, STOP_DEADLINE_MS).unref();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  // What stopped the command when it was stopped from outside: a signal, or its lock session lost.
  const stopReason = () => (ctx.signal.aborted && ctx.signal.reason instanceof AjError ? ctx.signal.reason : undefined);
  let exitCode: number;
  let failure: unknown;
  try {
    await program.parseAsync(argv);
    const stopped = stopReason();
    if (stopped && !(stopped instanceof InterruptedError)) reportError(ctx, stopped);
    exitCode = ctx.signal.aborted ? exitCodeOf(stopped ?? new InterruptedError()) : ExitCode.ok;
    failure = stopped;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Usage mistakes: commander has already printed its one line.
      exitCode = ['commander.helpDisplayed', 'commander.version', 'commander.help'].includes(error.code) ? ExitCode.ok : ExitCode.usage;
    } else {
      const cause = stopReason() ?? error;
      reportError(ctx, cause);
      failure = cause;
      exitCode = ctx.signal.aborted ? exitCodeOf(stopReason() ?? new InterruptedError()) : exitCodeOf(error);
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  try {
    await ops?.afterCommand(ctx, jobRun, exitCode, failure, jobCommand);
  } finally {
    await ctx.close();
  }
  return exitCode;
}

function reportError(ctx: Context, error: unknown): void {
  let scrub = (text: string) => text;
  try {
    const config = ctx.config();
    scrub = (text) => scrubSecrets(text, config);
  } catch {
    // The config itself is what failed; its error text names settings, never their secret values.
  }
  ctx.io.error(scrub(describeError(error)));
  if (ctx.io.verbose && error instanceof Error && error.stack) ctx.io.stderr.write(`${scrub(error.stack)}\n`);
}

/** `-V`/`--version` among aj's own options, before any command. */
function asksVersion(args: string[]): boolean {
  for (let i = 0; i < args.length; i += 1) {
    const arg = args[i]!;
    if (arg === '-V' || arg === '--version') return true;
    if (GLOBAL_OPTIONS_WITH_VALUE.includes(arg)) i += 1;
    else if (!arg.startsWith('-')) return false;
  }
  return false;
}

const GLOBAL_OPTIONS_WITH_VALUE = ['--config', '--env-file', '--metrics-file', '--log-format'];

function invokedGroup(args: string[]): string | undefined {
  for (let i = 0; i < args.length; i += 1) {
    const arg = args[i]!;
    if (GLOBAL_OPTIONS_WITH_VALUE.includes(arg)) i += 1;
    else if (!arg.startsWith('-')) return arg === 'help' ? args[i + 1] : arg;
  }
  return undefined;
}

