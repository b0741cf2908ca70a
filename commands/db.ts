import type { Command } from 'commander';
import type { Context } from '../src/context.js';
import { renderTable } from '../src/render.js';

export function register(program: Command, ctx: Context): void {
  const db = program.command('db').description('database migrations');
  db.command('migrate')
    .description('apply pending migrations, in order, under an advisory lock')
    .option('--json', 'print the applied migrations as JSON')
    .addHelpText('after', '\nExamples:\n  aj db migrate\n\nA migration changed after it was applied is refused (exit 3).\n')
    .action(async (opts: { json?: boolean }) => {
      const { migrate } = await import('../src/db/migrate.js');
      const applied = await migrate(await ctx.db({ migrate: false }));
      const result = applied.map((m) => ({ version: m.version, name: m.name }));
      if (opts.json) return ctx.io.json({ applied: result });
      if (applied.length === 0) ctx.io.notice('database is up to date');
      else ctx.io.out(result.map((m) => `applied ${m.version}_${m.name}`).join('\n'));
    });
  db.command('status')
    .description('list migrations and whether each is applied, pending or changed')
    .option('--json', 'print as JSON')
    .action(async (opts: { json?: boolean }) => {
      const { migrationStatus } = await import('../src/db/migrate.js');
      const status = await migrationStatus(await ctx.db({ migrate: false }));
      if (opts.json) return ctx.io.json(status);
      await renderTable(ctx.io, status, [
        { header: 'version', value: (m) => m.version },
        { header: 'name', value: (m) => m.name },
        { header: 'state', value: (m) => m.state },
        { header: 'applied at', value: (m) => m.appliedAt },
      ]);
    });
}
