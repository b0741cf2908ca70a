import type { IO } from './io.js';

export interface Column<T> {
  header: string;
  value: (row: T) => string | number | null | undefined;
}

/** A table on a terminal, tab-separated values (with a header line) in pipes. */
export async function renderTable<T>(io: IO, rows: T[], columns: Column<T>[], empty = 'nothing to show'): Promise<void> {
  if (rows.length === 0) {
    io.notice(empty);
    return;
  }
  const cells = rows.map((row) => columns.map((c) => formatCell(c.value(row))));
  if (!io.stdoutIsTTY) {
    io.out([columns.map((c) => c.header).join('\t'), ...cells.map((r) => r.map((c) => c.replace(/[\t\n]/g, ' ')).join('\t'))].join('\n'));
    return;
  }
  const Table = (await import('cli-table3')).default;
  const table = new Table({
    head: columns.map((c) => c.header),
    style: { head: io.colorEnabled() ? ['bold'] : [], border: io.colorEnabled() ? ['grey'] : [] },
  });
  table.push(...cells);
  io.out(table.toString());
}

function formatCell(value: string | number | null | undefined): string {
  if (value === null || value === undefined) return '';
  return String(value);
}

export function formatBytes(bytes: number | null | undefined): string {
  if (bytes === null || bytes === undefined) return '';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${units[unit]}`;
}

export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return '';
  if (ms < 1000) return `${ms} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
}

export function formatTime(value: Date | string | null | undefined): string {
  if (!value) return '';
  const d = typeof value === 'string' ? new Date(value) : value;
  return d.toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}
