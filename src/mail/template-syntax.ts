/**
 * The template language, a small subset of Mustache: `{{var}}` inserts a value, `{{#var}}...{{/var}}`
 * keeps its block when var is set, `{{^var}}...{{/var}}` when it is not. A line holding nothing but a
 * section tag disappears with its line break, so blocks can sit on lines of their own.
 */
export type TemplateNode =
  | { kind: 'text'; text: string }
  | { kind: 'var'; name: string; line: number }
  | { kind: 'section'; name: string; inverted: boolean; line: number; body: TemplateNode[] };

export class TemplateSyntaxError extends Error {
  constructor(
    readonly line: number,
    message: string,
  ) {
    super(`line ${line}: ${message}`);
  }
}

const TAG = /^\s*([#^/]?)\s*([A-Za-z0-9_-]+)\s*$/;

/** `firstLine`: the line of `source` in its file, for error messages. */
export function parseTemplate(source: string, firstLine = 1): TemplateNode[] {
  const root: TemplateNode[] = [];
  const open: Array<{ name: string; line: number; body: TemplateNode[] }> = [];
  let body = root;
  let pos = 0;
  const lineAt = (index: number) => firstLine + countLines(source, index);
  for (;;) {
    const start = source.indexOf('{{', pos);
    if (start < 0) break;
    const line = lineAt(start);
    const end = source.indexOf('}}', start + 2);
    const inner = end < 0 ? undefined : source.slice(start + 2, end);
    if (inner === undefined || /[\n{]/.test(inner)) throw new TemplateSyntaxError(line, `"${source.slice(start).split('\n')[0]!.slice(0, 40)}" is not closed by "}}"`);
    const tag = TAG.exec(inner);
    if (!tag) throw new TemplateSyntaxError(line, `"{{${inner}}}" is not a tag: write {{name}}, {{#name}}...{{/name}} or {{^name}}...{{/name}}`);
    const sigil = tag[1]!;
    const name = tag[2]!;
    const standalone = sigil !== '' ? standaloneLine(source, start, end + 2) : undefined;
    const text = source.slice(pos, standalone ? standalone.from : start);
    if (text) body.push({ kind: 'text', text });
    pos = standalone ? standalone.to : end + 2;
    if (sigil === '') {
      body.push({ kind: 'var', name, line });
    } else if (sigil === '/') {
      const section = open.pop();
      if (!section) throw new TemplateSyntaxError(line, `{{/${name}}} closes no section`);
      if (section.name !== name) throw new TemplateSyntaxError(line, `{{/${name}}} closes {{#${section.name}}} opened on line ${section.line}`);
      body = open.length > 0 ? open[open.length - 1]!.body : root;
    } else {
      const section: TemplateNode = { kind: 'section', name, inverted: sigil === '^', line, body: [] };
      body.push(section);
      open.push({ name, line, body: section.body });
      body = section.body;
    }
  }
  const rest = source.slice(pos);
  if (rest) body.push({ kind: 'text', text: rest });
  const unclosed = open.pop();
  if (unclosed) throw new TemplateSyntaxError(unclosed.line, `{{#${unclosed.name}}} is never closed (add {{/${unclosed.name}}})`);
  return root;
}

/** The span to drop when the tag at [start, end) is alone on its line: its indent, the tag, its line break. */
function standaloneLine(source: string, start: number, end: number): { from: number; to: number } | undefined {
  const from = source.lastIndexOf('\n', start - 1) + 1;
  if (source.slice(from, start).trim() !== '') return undefined;
  const newline = source.indexOf('\n', end);
  const to = newline < 0 ? source.length : newline + 1;
  return source.slice(end, to).trim() === '' ? { from, to } : undefined;
}

function countLines(source: string, index: number): number {
  let lines = 0;
  for (let i = source.indexOf('\n'); i >= 0 && i < index; i = source.indexOf('\n', i + 1)) lines += 1;
  return lines;
}

/** Every name the template uses (inserted or as a section), with the line of its first use. */
export function variablesOf(nodes: TemplateNode[], found = new Map<string, number>()): Map<string, number> {
  for (const node of nodes) {
    if (node.kind === 'text') continue;
    if (!found.has(node.name)) found.set(node.name, node.line);
    if (node.kind === 'section') variablesOf(node.body, found);
  }
  return found;
}

export interface RenderScope {
  /** The text of `{{name}}`, already encoded; throws when it may not be rendered. */
  insert(name: string): string;
  /** Whether a `{{#name}}` section is shown. */
  isSet(name: string): boolean;
}

export function renderNodes(nodes: TemplateNode[], scope: RenderScope): string {
  let out = '';
  for (const node of nodes) {
    if (node.kind === 'text') out += node.text;
    else if (node.kind === 'var') out += scope.insert(node.name);
    else if (scope.isSet(node.name) !== node.inverted) out += renderNodes(node.body, scope);
  }
  return out;
}
