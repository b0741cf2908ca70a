import { rename, writeFile } from 'node:fs/promises';

/** Written to a temp file beside it, then renamed: a reader (a collector, another cron run) never sees half a file. */
export async function writeFileAtomic(path: string, text: string, mode: number): Promise<void> {
  const temporary = `${path}.${process.pid}.tmp`;
  await writeFile(temporary, text, { mode });
  await rename(temporary, path);
}
