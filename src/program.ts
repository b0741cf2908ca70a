import type { Command } from 'commander';
import type { Context } from './context.js';
import { version } from './version.js';

/**
 * aj's root command: its own options, help and one-line usage errors. The command groups and the
 * hooks that run a command are added by main.ts; tests build the same root to check examples.
 */
export function createProgram(ctx: Context, commander: typeof import('commander')): Command {
  return new commander.Command('aj')
    .description(`Art et Jardin administrative toolkit (aj ${version()}; \`aj --version\` prints it)`)
    .option('--config <path>', 'JSON config file (default: $AJ_CONFIG)')
    .option('--env-file <path>', '.env file to read (default: ./.env when present)')
    .option('-q, --quiet', 'no notices, warnings or progress on stderr')
    .option('-v, --verbose', 'stack traces and debug output (also AJ_DEBUG=1)')
    .option('--no-color', 'no colours (also NO_COLOR or TERM=dumb)')
    .option('--wide', 'tables on a terminal show every cell whole instead of fitting its width')
    .option('--metrics-file <path>', 'write Prometheus metrics here afterwards (also AJ_METRICS_FILE)')
    .option('--log-format <format>', 'stderr as text, json (journald/syslog) or auto: json when not a terminal (also AJ_LOG_FORMAT)')
    // An option the command cannot run without says so in its help.
    .configureHelp({ optionDescription: (option) => `${commander.Help.prototype.optionDescription.call(new commander.Help(), option)}${option.mandatory ? ' (required)' : ''}` })
    .showHelpAfterError(false)
    .exitOverride()
    .configureOutput({
      writeOut: (s) => ctx.io.stdout.write(s),
      writeErr: (s) => ctx.io.stderr.write(s),
      outputError: (s, write) => write(`aj: ${oneLine(s)}\n`),
    })
    .addHelpText('after', EXIT_CODES_HELP);
}

function oneLine(message: string): string {
  const text = message.trim().replace(/^error: /, '').replace(/\s*\n\s*/g, ' ');
  const versionAfterCommand = /unknown option '(--version|-V)'/.test(text);
  if (versionAfterCommand) return `${text} (--version is aj's own: \`aj --version\`; for a document version, --doc-version)`;
  // commander's "(Did you mean run?)" becomes part of the one line, before the pointer to --help.
  const suggestion = /\s*\(Did you mean (.+?)\?\)$/.exec(text);
  return suggestion ? `${text.slice(0, suggestion.index)}: did you mean ${suggestion[1]}? (see --help)` : `${text} (see --help)`;
}

const EXIT_CODES_HELP = `
Exit codes:
  0    success
  1    the operation failed
  2    usage error (unknown flag, bad argument, confirmation refused)
  3    configuration error
  4    verification found problems (checksum, restore, archive, import rows)
  75   another run of the same job holds the lock
  130  interrupted (SIGINT/SIGTERM)
`;
