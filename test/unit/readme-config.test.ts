import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { settings } from '../../src/config/schema.js';

/** The README stays true to the configuration: every setting aj reads is in one of its settings tables. */
describe('the README configuration reference', () => {
  const rows = readFileSync(new URL('../../README.md', import.meta.url), 'utf8').split('\n').filter((line) => line.startsWith('| `'));

  it.each(Object.values(settings).map((s) => s.env[0]!))('documents %s', (name) => {
    expect(rows.some((row) => row.includes(`\`${name}\``))).toBe(true);
  });
});
