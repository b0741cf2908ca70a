const BARS = '▁▂▃▄▅▆▇█';

/** A one-line sparkline (oldest first), so a sudden drop in backup size is seen at a glance. */
export function sparkline(values: number[]): string {
  if (values.length === 0) return '';
  const max = Math.max(...values);
  const min = Math.min(...values);
  // Scaled from zero when sizes barely move, so a steady history reads as steady, not as noise.
  const floor = max - min < max * 0.1 ? 0 : min;
  return values.map((v) => BARS[max === floor ? BARS.length - 1 : Math.round(((v - floor) / (max - floor)) * (BARS.length - 1))]).join('');
}
