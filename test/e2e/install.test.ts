import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanEnv, scratchDir } from '../helpers/cli.js';
import { type TestDatabase, createTestDatabase } from '../helpers/pg.js';

/**
 * The documented server install, end to end in a scratch prefix: packed from this checkout,
 * runtime dependencies from npm's cache only (--offline: no network in tests), aj on PATH.
 */
const REPO = fileURLToPath(new URL('../..', import.meta.url));
const VERSION = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')).version as string;
let db: TestDatabase;
let prefix: string;

beforeAll(async () => {
  db = await createTestDatabase('install');
  prefix = scratchDir('install-prefix');
  const install = await execa(join(REPO, 'scripts/install-server.sh'), ['--prefix', prefix, '--offline', '--no-build'], { reject: false });
  expect(install.exitCode, install.stderr).toBe(0);
  expect(install.stdout).toBe(`installed aj ${VERSION}: ${prefix}/bin/aj -> ${prefix}/lib/aj/${VERSION}/bin/aj`);
}, 120_000);

afterAll(async () => db?.drop());

/** `aj` found on PATH, from a directory that is not the checkout, as cron runs it. */
const installed = (args: string[], env: Record<string, string> = {}) =>
  execa('aj', args, { cwd: scratchDir('install-cwd'), env: cleanEnv({ PATH: `${prefix}/bin:/usr/bin:/bin`, ...env }), extendEnv: false, reject: false });

describe('scripts/install-server.sh', () => {
  it('puts aj on PATH with its migrations and templates, working from any directory', async () => {
    const version = await installed(['--version']);
    expect(version.stdout).toBe(VERSION);
    const migrate = await installed(['db', 'migrate', '--json'], { DATABASE_URL: db.url });
    expect(migrate.exitCode, migrate.stderr).toBe(0);
    expect(JSON.parse(migrate.stdout).applied.length).toBeGreaterThan(0);
    const templates = await installed(['mail', 'templates', '--json']);
    expect(templates.exitCode, templates.stderr).toBe(0);
    expect(JSON.stringify(JSON.parse(templates.stdout))).toContain('facture-relance-1');
  });

  it('refuses an unknown option with exit 2', async () => {
    const r = await execa(join(REPO, 'scripts/install-server.sh'), ['--frobnicate'], { reject: false });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toBe('install-server.sh: unknown option --frobnicate (see --help)');
  });
});
