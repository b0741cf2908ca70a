import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Every temporary file of a test run, the tests' own and those of the aj processes they spawn
 * (which inherit TMPDIR), goes below one directory, removed when the run ends: `npm test` leaves
 * nothing behind in /tmp, whatever a test forgets or a killed process leaves.
 */
export default function setup(): () => void {
  const root = mkdtempSync(join(tmpdir(), 'aj-tests-'));
  process.env.TMPDIR = root;
  return () => rmSync(root, { recursive: true, force: true });
}
