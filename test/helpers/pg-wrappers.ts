import { chmodSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pgToolPath } from '../../src/db/pg-tools.js';

/**
 * A PG_BIN_DIR whose tools are the real ones, except those given a shell script body: the
 * script runs first (to log argv, stall, or fail) and may then `exec "$REAL" "$@"`.
 */
export function pgBinDirWith(scripts: Partial<Record<'pg_dump' | 'pg_restore' | 'pg_dumpall' | 'psql', string>>): string {
  const dir = mkdtempSync(join(tmpdir(), 'aj-pgbin-'));
  for (const tool of ['pg_dump', 'pg_restore', 'pg_dumpall', 'psql'] as const) {
    const real = pgToolPath(tool, { pgBinDir: undefined });
    const script = scripts[tool];
    if (!script) {
      symlinkSync(real, join(dir, tool));
      continue;
    }
    // Version probes go straight to the real tool: only real work gets the scripted behaviour.
    writeFileSync(join(dir, tool), `#!/bin/sh\nREAL='${real}'\ncase "$1" in --version) exec "$REAL" "$@";; esac\n${script}\n`);
    chmodSync(join(dir, tool), 0o755);
  }
  return dir;
}
