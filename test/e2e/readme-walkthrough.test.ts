import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AJ_BIN, cleanEnv, scratchDir } from '../helpers/cli.js';
import { type TestDatabase, createTestDatabase, dropDatabase, urlFor } from '../helpers/pg.js';

/**
 * The README's examples, run as written: each line below is looked up in the README's shell blocks
 * (a line that left the README fails here, so the README and this walk-through move together) and
 * run by bash, with `aj` on PATH, on a scratch database, local storage and the mail outbox.
 */
const README_SHELL_LINES = new Set(
  [...readFileSync(new URL('../../README.md', import.meta.url), 'utf8').matchAll(/^```(?:sh|bash)\n([\s\S]*?)^```/gm)]
    .flatMap((block) => block[1]!.split('\n'))
    .map((line) => line.replace(/\s+#\s.*$/, '').trim()),
);

const WALK: Array<{ line: string; exit?: number; stdout?: RegExp }> = [
  { line: 'aj db migrate' },
  { line: 'aj db status --json', stdout: /"state":\s*"applied"/ },
  { line: 'aj config show', stdout: /DATABASE_URL/ },
  { line: `aj doctor --json | jq '.checks[] | select(.status != "ok")'` },
  { line: 'aj import csv clients.csv --entity clients --dry-run' },
  { line: 'aj import csv clients.csv --entity clients --report problemes.csv' },
  { line: 'cat clients.csv | aj import csv - --entity clients' },
  { line: 'aj reminders run --dry-run' },
  { line: 'aj backup run' },
  { line: 'aj backup run --json | jq .sha256', stdout: /^"[0-9a-f]{64}"$/ },
  { line: 'aj backup list', stdout: /succeeded/ },
  { line: 'aj backup list --remote' },
  { line: 'aj backup verify' },
  { line: 'aj backup restore latest --target-url "$DRILL_URL" --create --verify --yes --json', stdout: /"ok":\s*true/ },
  { line: 'aj archive put facture-FA-2026-0042.pdf --type facture --doc-id FA-2026-0042' },
  { line: 'aj archive list --doc-id FA-2026-0042 --json', stdout: /FA-2026-0042/ },
  { line: 'aj archive get facture FA-2026-0042 -o FA-2026-0042.pdf' },
  { line: 'aj archive verify' },
  { line: 'aj archive verify --deep --type facture' },
  { line: 'aj mail templates' },
  { line: 'aj mail send --to "Jérôme Dupont <jerome@exemple.fr>" --subject "Planning" --text "Bonjour, ..."', stdout: /written to the outbox/ },
  { line: 'aj mail history --status failed --since 2026-03-01' },
  { line: 'aj mail auto-send --dry-run' },
  { line: `aj status --json | jq '.checks[] | select(.ok | not)'` },
  { line: 'aj completion bash | head -1', stdout: /^# aj completion for bash/ },
];

describe('the README, walked through', () => {
  let db: TestDatabase;
  let cwd: string;
  let env: Record<string, string | undefined>;
  const drill = `aj_readme_drill_${randomBytes(4).toString('hex')}`;

  beforeAll(async () => {
    db = await createTestDatabase('readme');
    cwd = scratchDir('readme');
    const bin = join(cwd, 'bin');
    mkdirSync(bin);
    writeFileSync(join(bin, 'aj'), `#!/bin/sh\nexec "${process.execPath}" -- "${AJ_BIN}" "$@"\n`);
    chmodSync(join(bin, 'aj'), 0o755);
    writeFileSync(join(cwd, 'clients.csv'), 'Référence;Nom;Prénom;E-mail;Code postal;Ville\r\nC-001;Dupont;Jérôme;jerome@exemple.fr;69003;Lyon\r\nC-002;Martin;Claire;claire@exemple.fr;75011;Paris\r\n');
    writeFileSync(join(cwd, 'facture-FA-2026-0042.pdf'), Buffer.concat([Buffer.from('%PDF-1.7\n'), randomBytes(4096), Buffer.from('\n%%EOF\n')]));
    env = cleanEnv({
      PATH: `${bin}:${process.env.PATH}`,
      DATABASE_URL: db.url,
      DRILL_URL: urlFor(drill),
      BACKUP_BUCKET: `file://${join(cwd, 'backups')}`,
      ARCHIVE_BUCKET: `file://${join(cwd, 'archive')}`,
      AJ_DATA_DIR: join(cwd, 'data'),
      XDG_DATA_HOME: join(cwd, '.local-share'),
    });
  });

  afterAll(async () => {
    await dropDatabase(drill);
    await db?.drop();
  });

  it('runs every listed example as written, with the exit code and output it promises', async () => {
    const failures: string[] = [];
    for (const step of WALK) {
      if (!README_SHELL_LINES.has(step.line)) {
        failures.push(`not in the README any more: ${step.line}`);
        continue;
      }
      const result = await execa('bash', ['-o', 'pipefail', '-c', step.line], { cwd, env, extendEnv: false, reject: false });
      if (result.exitCode !== (step.exit ?? 0)) failures.push(`${step.line}: exit ${result.exitCode}: ${result.stderr.trim().split('\n').at(-1)}`);
      else if (step.stdout && !step.stdout.test(result.stdout.trim())) failures.push(`${step.line}: unexpected output ${result.stdout.slice(0, 200)}`);
    }
    expect(failures).toEqual([]);
  }, 180_000);
});
