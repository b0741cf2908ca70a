import type { Command } from 'commander';
import type { Context } from '../src/context.js';
import { renderTable } from '../src/render.js';
import { groupHelp } from './shared/help.js';

export function register(program: Command, ctx: Context): void {
  const db = program.command('db').description("aj's own schema: apply migrations, list them").addHelpText('after', groupHelp(['aj db migrate', 'aj db status']));
  db.command('migrate')
    .description(`apply pending migrations, in order, under an advisory lock, in aj's own schema (AJ_DB_SCHEMA)`)
    .option('--json', 'print the applied migrations as JSON')
    .addHelpText('after', `
Examples:
  aj db migrate
  AJ_DB_SCHEMA=aj_ops aj db migrate --json

aj creates its schema when missing and never changes anything outside it. The first run after an
install that kept aj's tables in public moves them (data, sequences, indexes) into aj's schema.
A migration changed after it was applied is refused (exit 3).

Exit status: 0 up to date, 1 the database failed (each migration is one transaction: nothing half-applied),
3 a migration changed after it was applied or DATABASE_URL is unusable, 75 another aj holds the migration lock.
`)
    .action(async (opts: { json?: boolean }) => {
      const { migrate } = await import('../src/db/migrate.js');
      const db = await ctx.db({ migrate: false });
      const { applied, relocated } = await migrate(db);
      const result = applied.map((m) => ({ version: m.version, name: m.name }));
      if (opts.json) return ctx.io.json({ schema: db.schema, relocated, applied: result });
      if (relocated.length > 0) ctx.io.out(`moved from public into schema ${db.schema}: ${relocated.join(', ')}`);
      if (applied.length === 0) ctx.io.notice('database is up to date');
      else ctx.io.out(result.map((m) => `applied ${m.version}_${m.name}`).join('\n'));
    });
  db.command('status')
    .description('list migrations and whether each is applied, pending or changed')
    .option('--json', 'print as JSON')
    .addHelpText('after', `
Examples:
  aj db status
  aj db status --json | jq -r '.[] | select(.state != "applied") | .name'

Exit status: 0 listed (pending migrations included: \`aj db migrate\` applies them), 1 the database failed.
`)
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
