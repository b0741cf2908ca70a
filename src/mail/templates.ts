import { readFile, readdir, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { DEFAULT_COMPANY_NAME } from '../config/company.js';
import type { Config } from '../config/schema.js';
import { ConfigError, UsageError } from '../errors.js';
import { assetPath } from '../paths.js';
import { assertHeaderSafe } from './address.js';
import { COMPANY_VARIABLES, companySetting, companyVars } from './company-vars.js';
import { type TemplateNode, TemplateSyntaxError, parseTemplate, renderNodes, variablesOf } from './template-syntax.js';

/**
 * French templates: `<name>.txt` starts with an `Objet: ...` line and a blank line, `<name>.html` is
 * the HTML part (see template-syntax.ts for the language). The built-in ones live in
 * src/mail/templates; the company's AJ_TEMPLATES_DIR replaces them by name or adds new ones. A
 * variable the template shows that is missing or empty is an error, never a hole in a letter.
 */
export type TemplateVars = Record<string, string | number | boolean>;

export interface RenderedTemplate {
  name: string;
  /** 'built-in', or the override file. */
  source: string;
  subject: string;
  text: string;
  /** Absent when an override has no .html beside its .txt: the message is text only. */
  html?: string;
}

/** Where templates come from, and the company's details every template can use. */
export interface TemplateSet {
  overrideDir?: string;
  company: Record<string, string>;
}

export function templateSet(config: Config): TemplateSet {
  return { overrideDir: config.templatesDir && resolve(config.templatesDir), company: companyVars(config) };
}

/** The built-in templates with the default company details, for callers that have no configuration. */
export const BUILT_IN_SET: TemplateSet = { company: companyVars({ companyName: DEFAULT_COMPANY_NAME }) };

/**
 * The variables aj gives each built-in template besides the company's, with sample values for
 * `aj doctor`. An override of one of these may use only these and the company's.
 */
const nom = 'Jérôme Dupont';
const montant = '1 200,00 €';
export const TEMPLATE_VARIABLES: Record<string, TemplateVars> = {
  alerte: { sujet: 'sauvegarde en échec', hote: 'srv-aj', date: '2 décembre 2026 à 03:00', message: 'aj backup run: exit 1' },
  'devis-relance': { nom, numero: 'D-2026-014', montant, date_envoi: '2 novembre 2026', a_validite: true, date_validite: '2 décembre 2026' },
  'devis-signe': { nom, document: 'devis', numero: 'D-2026-014', montant },
  document: { nom, document: 'facture', numero: 'FA-2026-0042', montant },
  'facture-relance-1': { nom, numero: 'FA-2026-0042', montant, date_echeance: '31 octobre 2026', jours_retard: 32, professionnel: true },
  'facture-relance-2': { nom, numero: 'FA-2026-0042', montant, date_echeance: '31 octobre 2026', jours_retard: 62, professionnel: true },
};

const BUILT_IN_DIR = assetPath('mail', 'templates');
const NAME = /^[a-z0-9-]+$/;

interface Template {
  name: string;
  source: string;
  subject: TemplateNode[];
  text: TemplateNode[];
  html?: TemplateNode[];
}

export async function renderTemplate(name: string, vars: TemplateVars, set: TemplateSet = BUILT_IN_SET): Promise<RenderedTemplate> {
  if (!NAME.test(name)) throw new UsageError(`invalid template name "${name}"`, `available: ${await availableNames(set)}`);
  const template = await loadTemplate(name, set);
  const values: TemplateVars = { ...set.company, ...vars };
  const scope = (encode: (value: string) => string) => ({
    insert: (key: string) => encode(shown(name, key, values, vars)),
    isSet: (key: string) => isSet(values[key]),
  });
  const subject = renderNodes(template.subject, scope(String)).trim();
  assertHeaderSafe(`template ${name} subject`, subject);
  const text = renderNodes(template.text, scope(String));
  const html = template.html && renderNodes(template.html, scope(encodeHtml));
  return { name, source: template.source, subject, text, html };
}

/** The value `{{key}}` shows: present and not blank, or an error naming the template, the variable and the fix. */
function shown(template: string, key: string, values: TemplateVars, fromCaller: TemplateVars): string {
  const value = values[key];
  if (value !== undefined && String(value).trim() !== '') return String(value);
  const setting = companySetting(key);
  if (setting && !Object.hasOwn(fromCaller, key)) {
    throw new ConfigError(`template ${template} shows {{${key}}}, but ${setting} is not set`, `set ${setting}, or pass --var ${key}=...`);
  }
  if (value === undefined) throw new TemplateVariableError(template, key, `template ${template} needs the variable "${key}"`, `pass --var ${key}=...`);
  throw new TemplateVariableError(template, key, `template ${template}: the variable "${key}" is empty`, `pass --var ${key}=... with a value`);
}

/** A variable the caller gave empty or not at all: for a batch, a fault of that one document's data. */
export class TemplateVariableError extends UsageError {
  constructor(
    readonly template: string,
    readonly variable: string,
    message: string,
    hint: string,
  ) {
    super(message, hint);
  }
}

/** A section is shown when its variable is set: not missing, blank, false, 0 or "non". */
function isSet(value: string | number | boolean | undefined): boolean {
  return value !== undefined && !['', 'false', '0', 'non', 'no'].includes(String(value).trim().toLowerCase());
}

export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** Escaped, and a value over several lines (an address, a signature) keeps its lines. */
const encodeHtml = (value: string) => escapeHtml(value).replace(/\r?\n/g, '<br>');

export interface TemplateInfo {
  name: string;
  source: string;
  /** What aj gives the template besides the company's variables; null for the company's own templates (--var, --document). */
  variables: string[] | null;
}

/** Every template by name, and where it comes from; files are not read, so a broken one is still listed. */
export async function listTemplates(set: TemplateSet = BUILT_IN_SET): Promise<TemplateInfo[]> {
  const overrides = set.overrideDir ? await overrideFiles(set.overrideDir) : new Map<string, string>();
  const names = [...new Set([...Object.keys(TEMPLATE_VARIABLES), ...overrides.keys()])].sort();
  return names.map((name) => {
    const given = TEMPLATE_VARIABLES[name];
    return { name, source: overrides.get(name) ?? 'built-in', variables: given ? Object.keys(given) : null };
  });
}

/** name -> its override file (the .txt, or a lone .html), each file name checked. */
async function overrideFiles(dir: string): Promise<Map<string, string>> {
  const entries = await readdir(dir).catch((error: NodeJS.ErrnoException) => {
    throw new ConfigError(`AJ_TEMPLATES_DIR: cannot read ${dir} (${error.code ?? error.message})`, 'create it, or unset AJ_TEMPLATES_DIR to use the built-in templates');
  });
  const files = new Map<string, string>();
  for (const file of entries.sort()) {
    const match = /^(.*)\.(txt|html)$/.exec(file);
    if (!match) continue;
    if (!NAME.test(match[1]!)) throw new ConfigError(`template override ${join(dir, file)}: "${match[1]}" is not a template name`, 'rename it: lower-case letters, digits and dashes');
    if (match[2] === 'txt' || !files.has(match[1]!)) files.set(match[1]!, join(dir, file));
  }
  return files;
}

async function availableNames(set: TemplateSet): Promise<string> {
  return (await listTemplates(set)).map((t) => t.name).join(', ');
}

// Read and parsed once per process: a batch of reminders renders the same few templates a thousand times.
const loaded = new Map<string, Promise<unknown>>();

function once<T>(key: string, load: () => Promise<T>): Promise<T> {
  let promise = loaded.get(key) as Promise<T> | undefined;
  if (!promise) {
    promise = load();
    loaded.set(key, promise);
  }
  return promise;
}

function loadTemplate(name: string, set: TemplateSet): Promise<Template> {
  return once(`${set.overrideDir ?? ''}\0${name}`, async () => {
    const override = set.overrideDir ? await loadOverride(set.overrideDir, name) : undefined;
    if (override) return override;
    if (!Object.hasOwn(TEMPLATE_VARIABLES, name)) throw new UsageError(`no template named "${name}"`, `available: ${await availableNames(set)}`);
    const path = join(BUILT_IN_DIR, name);
    const [text, html] = await Promise.all([readFile(`${path}.txt`, 'utf8'), readFile(`${path}.html`, 'utf8')]);
    return compile(name, 'built-in', { label: `built-in template ${name}.txt`, source: text }, { label: `built-in template ${name}.html`, source: html });
  });
}

async function loadOverride(dir: string, name: string): Promise<Template | undefined> {
  const info = await once(`dir\0${dir}`, () => stat(dir).catch(() => undefined));
  if (!info?.isDirectory()) throw new ConfigError(`AJ_TEMPLATES_DIR: ${dir} is not a directory`, 'create it, or unset AJ_TEMPLATES_DIR to use the built-in templates');
  const [textPath, htmlPath] = [join(dir, `${name}.txt`), join(dir, `${name}.html`)];
  const [text, html] = await Promise.all([readOptional(textPath), readOptional(htmlPath)]);
  if (text === undefined && html === undefined) return undefined;
  if (text === undefined) throw new ConfigError(`template override ${htmlPath} has no ${name}.txt beside it`, `write ${name}.txt too: it holds the subject and the text body`);
  const template = compile(name, textPath, { label: `template override ${textPath}`, source: text }, html === undefined ? undefined : { label: `template override ${htmlPath}`, source: html });
  const given = TEMPLATE_VARIABLES[name];
  if (given) checkKnownVariables(template, given, textPath, htmlPath);
  return template;
}

async function readOptional(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    throw new ConfigError(`template override ${path}: cannot read it (${code ?? (error as Error).message})`, 'check the file and its permissions');
  }
}

interface TemplateFile {
  label: string;
  source: string;
}

function compile(name: string, source: string, textFile: TemplateFile, htmlFile: TemplateFile | undefined): Template {
  const match = /^Objet: (.*)\r?\n\r?\n/.exec(textFile.source);
  if (!match) throw new ConfigError(`${textFile.label}: line 1 must be "Objet: ..." followed by a blank line`, 'start the file with the subject line');
  const parse = (file: TemplateFile, text: string, firstLine: number) => {
    try {
      return parseTemplate(text, firstLine);
    } catch (error) {
      if (!(error instanceof TemplateSyntaxError)) throw error;
      throw new ConfigError(`${file.label}: ${error.message}`, 'fix the file');
    }
  };
  return {
    name,
    source,
    subject: parse(textFile, match[1]!, 1),
    text: parse(textFile, textFile.source.slice(match[0].length), 3),
    html: htmlFile && parse(htmlFile, htmlFile.source, 1),
  };
}

/** An override of a built-in template is rendered with that template's variables: any other name would fail every send. */
function checkKnownVariables(template: Template, given: TemplateVars, textPath: string, htmlPath: string): void {
  const known = new Set([...Object.keys(given), ...COMPANY_VARIABLES]);
  const parts: Array<[string, TemplateNode[] | undefined]> = [[textPath, [...template.subject, ...template.text]], [htmlPath, template.html]];
  for (const [path, nodes] of parts) {
    for (const [variable, line] of variablesOf(nodes ?? [])) {
      if (!known.has(variable)) {
        throw new ConfigError(`template override ${path}: line ${line}: unknown variable "${variable}"`, `${template.name} is given ${[...known].join(', ')}`);
      }
    }
  }
}

export interface TemplateCheck {
  name: string;
  source: string;
  error?: unknown;
}

/** Renders every template with sample variables and the company's real details, as `aj doctor` does. */
export async function checkTemplates(set: TemplateSet): Promise<TemplateCheck[]> {
  const checks: TemplateCheck[] = [];
  for (const { name, source } of await listTemplates(set)) {
    try {
      await renderTemplate(name, TEMPLATE_VARIABLES[name] ?? (await sampleVars(name, set)), set);
      checks.push({ name, source });
    } catch (error) {
      checks.push({ name, source, error });
    }
  }
  return checks;
}

/** For a template of the company's own: "exemple" for every variable it uses but the company's. */
async function sampleVars(name: string, set: TemplateSet): Promise<TemplateVars> {
  const template = await loadTemplate(name, set);
  const used = variablesOf([...template.subject, ...template.text, ...(template.html ?? [])]).keys();
  return Object.fromEntries([...used].filter((v) => !companySetting(v)).map((v) => [v, 'exemple']));
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
