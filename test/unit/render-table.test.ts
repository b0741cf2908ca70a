import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { IO } from '../../src/io.js';
import { fitWidths, renderTable, shorten } from '../../src/render.js';

/** An IO whose stdout is a terminal of the given width (or a pipe), capturing what is written. */
function terminal(columns: number | undefined, options: { wide?: boolean } = {}) {
  const stdout = Object.assign(new PassThrough(), { isTTY: columns !== undefined, columns });
  let text = '';
  stdout.on('data', (chunk: Buffer) => (text += chunk.toString()));
  const io = new IO(stdout, new PassThrough(), false, { NO_COLOR: '1' });
  io.configure({ wide: options.wide });
  return { io, text: () => text };
}

const BACKUPS = [
  { id: 12, started: '2026-11-24 02:00:01Z', key: 'aj/aj_prod/2026/11/24/aj_prod-20261124T020001.512Z.dump', sha256: 'f'.repeat(64) },
  { id: 11, started: '2026-11-23 02:00:01Z', key: 'aj/aj_prod/2026/11/23/aj_prod-20261123T020001.007Z.dump', sha256: 'e'.repeat(64) },
];
const COLUMNS = [
  { header: 'id', value: (r: (typeof BACKUPS)[number]) => r.id },
  { header: 'started', value: (r: (typeof BACKUPS)[number]) => r.started },
  { header: 'key', value: (r: (typeof BACKUPS)[number]) => r.key },
  { header: 'sha256', value: (r: (typeof BACKUPS)[number]) => r.sha256 },
];

describe('tables', () => {
  it('fit an 80-column terminal: one line per row, no separators, long values shortened in the middle', async () => {
    const { io, text } = terminal(80);
    await renderTable(io, BACKUPS, COLUMNS);
    const lines = text().trimEnd().split('\n');
    expect(lines).toHaveLength(3);
    for (const line of lines) expect(line.length).toBeLessThanOrEqual(80);
    expect(lines[0]).toMatch(/^id\s+started\s+key\s+sha256$/);
    expect(lines[1]).toMatch(/^12  2026-11-24 02:00:01Z  aj\/aj_prod.*….*\.dump\s+f+…f+$/);
  });

  it('show every cell whole with --wide, and in pipes as tab-separated values', async () => {
    const wide = terminal(80, { wide: true });
    await renderTable(wide.io, BACKUPS, COLUMNS);
    expect(wide.text()).toContain(BACKUPS[0]!.key);
    expect(wide.text()).toContain(BACKUPS[0]!.sha256);
    const pipe = terminal(undefined);
    await renderTable(pipe.io, BACKUPS, COLUMNS);
    expect(pipe.text().split('\n')[1]).toBe(['12', BACKUPS[0]!.started, BACKUPS[0]!.key, BACKUPS[0]!.sha256].join('\t'));
  });

  it('shorten and fit widths', () => {
    expect(shorten('abcdefghij', 10)).toBe('abcdefghij');
    expect(shorten('abcdefghijkl', 7)).toBe('abc…jkl');
    expect(fitWidths([2, 20, 60, 64], 80)).toEqual([2, 20, 26, 26]);
    expect(fitWidths([30, 30, 30], 20)).toEqual([8, 8, 8]);
  });
});
