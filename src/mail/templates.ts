import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { UsageError } from '../errors.js';
import { assetPath } from '../paths.js';
import { assertHeaderSafe } from './address.js';

/**
 * File-based French templates in src/mail/templates: `<name>.txt` starts with an `Objet: ...`
 * line and a blank line, `<name>.html` is the HTML part. `{{var}}` inserts a value (escaped in
 * HTML), `{{#var}}...{{/var}}` keeps a block when var is true, `{{^var}}...{{/var}}` when false.
 * A variable the template uses but the caller did not give is an error, never an empty hole.
 */
export type TemplateVars = Record<string, string | number | boolean>;

export interface RenderedTemplate {
  name: string;
  subject: string;
  text: string;
  html: string;
}

export const TEMPLATE_DIR = assetPath('mail', 'templates');
const NAME = /^[a-z0-9-]+$/;

export async function listTemplates(dir = TEMPLATE_DIR): Promise<string[]> {
  return (await readdir(dir)).filter((f) => f.endsWith('.txt')).map((f) => f.slice(0, -4)).sort();
}

export async function renderTemplate(name: string, vars: TemplateVars, dir = TEMPLATE_DIR): Promise<RenderedTemplate> {
  if (!NAME.test(name)) throw new UsageError(`--template: invalid template name "${name}"`, `available: ${(await listTemplates(dir)).join(', ')}`);
  const [textFile, htmlFile] = await loadSources(name, dir);
  const match = /^Objet: (.*)\r?\n\r?\n/.exec(textFile);
  if (!match) throw new UsageError(`template ${name}.txt must start with an "Objet: ..." line and a blank line`, 'fix the template file');
  const subject = fill(name, match[1]!, vars, String).trim();
  assertHeaderSafe(`template ${name} subject`, subject);
  return { name, subject, text: fill(name, textFile.slice(match[0].length), vars, String), html: fill(name, htmlFile, vars, escapeHtml) };
}

// Read once per process: a batch of reminders renders the same few templates a thousand times.
const sources = new Map<string, Promise<[string, string]>>();

function loadSources(name: string, dir: string): Promise<[string, string]> {
  const key = join(dir, name);
  let loaded = sources.get(key);
  if (!loaded) {
    loaded = Promise.all([readFile(`${key}.txt`, 'utf8'), readFile(`${key}.html`, 'utf8')]).catch(async () => {
      sources.delete(key);
      throw new UsageError(`--template: no template named "${name}"`, `available: ${(await listTemplates(dir)).join(', ')}`);
    });
    sources.set(key, loaded);
  }
  return loaded;
}

function fill(template: string, source: string, vars: TemplateVars, encode: (value: string) => string): string {
  const lookup = (key: string) => {
    if (!Object.hasOwn(vars, key)) throw new UsageError(`template ${template} needs the variable "${key}"`, `pass --var ${key}=...`);
    return vars[key]!;
  };
  const sections = source.replace(/\{\{([#^])([\w-]+)\}\}([\s\S]*?)\{\{\/\2\}\}/g, (_all, kind: string, key: string, body: string) => {
    const on = truthy(lookup(key));
    return (kind === '#' ? on : !on) ? body : '';
  });
  return sections.replace(/\{\{([\w-]+)\}\}/g, (_all, key: string) => encode(String(lookup(key))));
}

function truthy(value: string | number | boolean): boolean {
  return value === true || value === 'true' || value === 1 || value === '1' || value === 'oui';
}

export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** `--var key=value` pairs into template variables. */
export function parseVars(pairs: string[]): TemplateVars {
  const vars: TemplateVars = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq < 1) throw new UsageError(`--var: "${pair}" is not key=value`, 'write it as --var nom=Dupont');
    vars[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return vars;
}
