import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let root: string | undefined;

/** The package root (where package.json lives), from source (tests) or from dist/. */
export function packageRoot(): string {
  if (root) return root;
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error('aj: cannot find its package root');
    dir = parent;
  }
  root = dir;
  return dir;
}

/** Files shipped with the source tree (migrations, mail templates). */
export function assetPath(...parts: string[]): string {
  return join(packageRoot(), 'src', ...parts);
}
