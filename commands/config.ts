import type { Command } from 'commander';
import { redactConfig } from '../src/config/redact.js';
import { settings, type SettingName } from '../src/config/schema.js';
import type { Context } from '../src/context.js';
import { renderTable } from '../src/render.js';
import { groupHelp } from './shared/help.js';

export function register(program: Command, ctx: Context): void {
  const config = program.command('config').description('show the effective configuration (secrets redacted)').addHelpText('after', groupHelp(['aj config show', 'aj --env-file /etc/aj/aj.env config show --json']));
  config
    .command('show')
    .description('print every setting, its value and where it came from; secrets are masked')
    .option('--json', 'one JSON object: each setting by its name, with its value and where it came from')
    .addHelpText('after', `
Examples:
  aj config show
  aj --env-file /etc/aj/env config show --json
  aj config show --json | jq -r '.BACKUP_BUCKET.value'

Exit status: 0 shown; 3 a setting is invalid (each one named).
`)
    .action(async (opts: { json?: boolean }) => {
      const { config: effective, origins } = ctx.loadedConfig();
      const redacted = redactConfig(effective);
      const rows = (Object.keys(settings) as SettingName[]).map((name) => ({ name, value: redacted[name], origin: origins[name] }));
      // The names an admin writes in the environment, .env and config files, not aj's internal ones.
      if (opts.json) return ctx.io.json(Object.fromEntries(rows.map((r) => [settings[r.name].env[0], { value: r.value ?? null, from: r.origin }])));
      await renderTable(ctx.io, rows, [
        { header: 'setting', value: (r) => settings[r.name].env[0] },
        { header: 'value', value: (r) => (r.value === undefined ? '' : Array.isArray(r.value) ? r.value.join(',') : String(r.value)) },
        { header: 'from', value: (r) => r.origin },
      ]);
    });
}
