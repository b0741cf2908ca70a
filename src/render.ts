import type { IO } from './io.js';

export interface Column<T> {
  header: string;
  value: (row: T) => string | number | null | undefined;
}

/**
 * A table on a terminal: a header line and one line per row, columns two spaces apart, fitted to the
 * terminal's width by shortening the widest cells in the middle (keys and checksums keep both ends);
 * `--wide` shows every cell whole. In pipes: tab-separated values with a header line, never shortened.
 */
export async function renderTable<T>(io: IO, rows: T[], columns: Column<T>[], empty = 'nothing to show'): Promise<void> {
  if (rows.length === 0) {
    io.notice(empty);
    return;
  }
  const cells = rows.map((row) => columns.map((c) => formatCell(c.value(row)).replace(/[\t\r\n]+/g, ' ')));
  const header = columns.map((c) => c.header);
  if (!io.stdoutIsTTY) {
    io.out([header, ...cells].map((r) => r.join('\t')).join('\n'));
    return;
  }
  const natural = header.map((h, i) => Math.max(h.length, ...cells.map((r) => r[i]!.length)));
  const widths = io.wide ? natural : fitWidths(natural, terminalWidth(io));
  const line = (r: string[]) => r.map((cell, i) => (i === r.length - 1 ? shorten(cell, widths[i]!) : shorten(cell, widths[i]!).padEnd(widths[i]!))).join(GAP).trimEnd();
  io.out([io.paint('bold', line(header)), ...cells.map(line)].join('\n'));
}

const GAP = '  ';
const MIN_COLUMN = 8;

function terminalWidth(io: IO): number {
  return (io.stdout as { columns?: number }).columns || 80;
}

/** Narrows the widest column, one character at a time, until the line fits (or all are narrow). */
export function fitWidths(natural: number[], width: number): number[] {
  const widths = [...natural];
  const room = width - GAP.length * (widths.length - 1);
  let total = widths.reduce((a, b) => a + b, 0);
  while (total > room) {
    const widest = widths.indexOf(Math.max(...widths));
    if (widths[widest]! <= MIN_COLUMN) break;
    widths[widest]! -= 1;
    total -= 1;
  }
  return widths;
}

/** `aj/2026/11/24/aj-2026…001.512Z.dump`: both ends of a long value stay readable. */
export function shorten(text: string, width: number): string {
  if (text.length <= width) return text;
  const head = Math.ceil((width - 1) / 2);
  return `${text.slice(0, head)}…${text.slice(text.length - (width - 1 - head))}`;
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
