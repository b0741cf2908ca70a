import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Options, type ResultPromise, execa } from 'execa';

export const AJ_BIN = fileURLToPath(new URL('../../bin/aj', import.meta.url));

/** Variables from the developer's shell that would leak into a test of aj's config. */
const INHERITED_CONFIG = /^(DATABASE_URL|AJ_|BACKUP_|ARCHIVE_|S3_|AWS_|SMTP_|MAIL_|COMPANY_|ALERT_|AUTO_SEND|REMINDER_|REMINDERS_|PG[A-Z]+$|NO_COLOR|CI$)/;

export function cleanEnv(extra: Record<string, string | undefined> = {}): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(process.env)) if (!INHERITED_CONFIG.test(k)) env[k] = v;
  // aj's default data directory is below $XDG_DATA_HOME: one of the test run's own, never the user's.
  // Tests never reach past loopback: no instance-metadata lookup by the AWS SDK's credential chain.
  return { ...env, XDG_DATA_HOME: join(tmpdir(), 'aj-test-data-home'), AWS_EC2_METADATA_DISABLED: 'true', ...extra };
}

export function scratchDir(label = 'cwd'): string {
  return mkdtempSync(join(tmpdir(), `aj-${label}-`));
}

/**
 * Spawns the built bin/aj as a user would, with only the given configuration in its
 * environment, in a scratch working directory (so no stray .env is read). Never throws on exit codes.
 */
export function aj(args: string[], options: { env?: Record<string, string | undefined>; cwd?: string; input?: string } & Partial<Options> = {}): ResultPromise<{ reject: false }> {
  const { env, cwd = scratchDir(), input, ...rest } = options;
  // `--` as in bin/aj's shebang, so Node leaves aj's --env-file alone.
  return execa(process.execPath, ['--', AJ_BIN, ...args], {
    // aj's default data directory follows the working directory here, as ./aj-data used to:
    // a command run in a fresh directory starts with no local state.
    env: cleanEnv({ XDG_DATA_HOME: join(cwd, '.local-share'), ...env }),
    extendEnv: false,
    cwd,
    input,
    stdin: input === undefined ? 'ignore' : undefined,
    reject: false,
    ...rest,
  } as Options) as ResultPromise<{ reject: false }>;
}
