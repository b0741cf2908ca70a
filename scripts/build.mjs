#!/usr/bin/env node
// `npm run build`, the one build command: tsc type-checks and compiles to dist/src and dist/commands
// (what the tests and benches import), and esbuild bundles the installed CLI into dist/cli, which
// bin/aj runs. Both run at once; the exit status is tsc's, or esbuild's when tsc passed.
//
// Why a bundle: Node 20 has no compile cache, and resolving, reading and compiling about a hundred
// ESM and CommonJS files (aj's own, commander, zod, pg) was most of what `aj backup list` cost
// beyond a bare `node -e 0`. The bundle is split at every dynamic import(): each command group and
// each lazily loaded service is a chunk of its own, loaded when used, so `aj --help` still loads no
// group and no database driver. Dependencies that only some commands use (the AWS SDK, nodemailer,
// execa, age, iconv-lite, ...) stay in node_modules.
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));
const outdir = 'dist/cli';
// Loaded by (nearly) every command: bundled with aj's code.
const BUNDLED = ['commander', 'zod', 'pg'];

const pkg = JSON.parse(readFileSync(`${root}/package.json`, 'utf8'));
const external = Object.keys(pkg.dependencies)
  .filter((name) => !BUNDLED.includes(name))
  .flatMap((name) => [name, `${name}/*`]);

/**
 * pg 8 decides at load time whether it runs in a Cloudflare Worker: Node 20 has no `navigator`, so it
 * probes with `new Response()`, and that first touch of Response loads Node's whole fetch
 * implementation (undici), measured at a third of what pg's loading cost `aj backup list`. aj runs on
 * Node only: the bundle gets the Node half of pg's lib/stream.js, and the build fails if pg changes
 * that file's exports, so an upgrade cannot silently break the connection code.
 */
const pgNodeStreams = {
  name: 'pg-node-streams',
  setup(esbuild) {
    esbuild.onLoad({ filter: /[\\/]node_modules[\\/]pg[\\/]lib[\\/]stream\.js$/ }, ({ path }) => {
      const original = readFileSync(path, 'utf8');
      if (!/module\.exports = \{\s*(\/\*[^]*?\*\/\s*)?getStream,\s*(\/\*[^]*?\*\/\s*)?getSecureStream,\s*\}/.test(original)) {
        throw new Error(`${path} no longer exports just getStream and getSecureStream: review the pg-node-streams shim in scripts/build.mjs`);
      }
      return {
        loader: 'js',
        contents: "module.exports = { getStream: () => new (require('net').Socket)(), getSecureStream: (options) => require('tls').connect(options) };\n",
      };
    });
  },
};

/**
 * Writes the bundle while other processes may be running aj from it (tests, in a shared checkout):
 * every file is written whole and renamed into place, the chunks (named by their content's hash)
 * before main.js, which names them; chunks of earlier builds stay an hour for the commands started
 * before this build that still load them lazily.
 */
function install(outputFiles) {
  const dir = join(root, outdir);
  mkdirSync(dir, { recursive: true });
  const writeWhole = (file) => {
    const temporary = `${file.path}.${process.pid}.tmp`;
    writeFileSync(temporary, file.contents);
    renameSync(temporary, file.path);
  };
  const entry = join(dir, 'main.js');
  for (const file of outputFiles) if (file.path !== entry) writeWhole(file);
  for (const file of outputFiles) if (file.path === entry) writeWhole(file);
  const current = new Set(outputFiles.map((file) => basename(file.path)));
  const hourAgo = Date.now() - 3600_000;
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (!current.has(name) && statSync(path).mtimeMs < hourAgo) rmSync(path, { force: true });
  }
}

const tsc = new Promise((resolve) => {
  const child = spawn(process.execPath, [createRequire(import.meta.url).resolve('typescript/bin/tsc'), '-p', 'tsconfig.json'], { cwd: root, stdio: 'inherit' });
  child.on('close', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
});

let bundled = 0;
try {
  const { outputFiles } = await build({
    absWorkingDir: root,
    entryPoints: { main: 'src/main.ts' },
    outdir,
    write: false,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    chunkNames: '[name]-[hash]',
    // pg's optional native binding is never installed; it stays a require() that pg never makes.
    external: [...external, 'pg-native'],
    // Bundled CommonJS (pg) calls require() for Node's own modules: an ESM chunk has none of its own.
    banner: { js: "import { createRequire as __ajCreateRequire } from 'node:module';\nconst require = __ajCreateRequire(import.meta.url);" },
    plugins: [pgNodeStreams],
    legalComments: 'none',
    logLevel: 'warning',
  });
  install(outputFiles);
} catch (error) {
  // esbuild has printed its errors; anything else is printed here.
  if (!error?.errors) console.error(error);
  bundled = 1;
}
const typed = await tsc;
process.exitCode = typed || bundled;
