import type { Context } from '../context.js';
import { documentVars } from './document-vars.js';
import { findDocument, parseDocumentRef } from './document.js';
import { type RenderedTemplate, type TemplateInfo, type TemplateVars, listTemplates, parseVars, renderTemplate, templateSet } from './templates.js';

export interface PreviewOptions {
  template: string;
  /** devis:<ref> or facture:<ref>: its variables, as `aj mail send --document` gives them. */
  document?: string;
  vars: string[];
}

/** `aj mail preview`: one template rendered as it would be sent; nothing is sent or recorded. */
export async function runPreview(ctx: Context, opts: PreviewOptions): Promise<RenderedTemplate> {
  const ref = opts.document ? parseDocumentRef(opts.document) : undefined;
  const given = parseVars(opts.vars);
  const set = templateSet(ctx.config());
  const fromDocument: TemplateVars = ref ? documentVars(await findDocument(await ctx.db(), await ctx.business(), ref)) : {};
  return renderTemplate(opts.template, { ...fromDocument, ...given }, set);
}

/** `aj mail templates`: every template and where it comes from (built-in, or the override file). */
export async function runTemplates(ctx: Context): Promise<TemplateInfo[]> {
  return listTemplates(templateSet(ctx.config()));
}
