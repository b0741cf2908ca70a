import type { Command } from 'commander';
import type { Context } from '../src/context.js';
import { UsageError } from '../src/errors.js';
import { renderTable } from '../src/render.js';
import { collect } from './shared/parse.js';

const PREVIEW_HELP = `
Prints the subject ("Objet: ...") and the text body, or the HTML body with --html, as aj mail send
would send it: same template (AJ_TEMPLATES_DIR first), company details (COMPANY_*), variables from
--document and --var. Nothing is sent or recorded.

Examples:
  aj mail preview document --document facture:FA-2026-0042
  aj mail preview facture-relance-2 --document facture:FA-2026-0042 --var date_echeance="31 octobre 2026" \\
      --var jours_retard=62 --var professionnel=oui
  aj mail preview document --document devis:D-2026-014 --html > devis.html
  aj mail preview alerte --var sujet=Test --var message=ok --var hote=srv --var date=maintenant

Exit status: 0 rendered, 2 unknown template or document, a variable missing or empty (--var),
3 a company detail the template shows is not set (COMPANY_*), or a broken override file.
`;

/** `aj mail templates` and `aj mail preview`, registered on the mail group. */
export function registerTemplateCommands(mail: Command, ctx: Context): void {
  mail
    .command('templates')
    .description('list the mail templates and where each comes from (built-in or AJ_TEMPLATES_DIR)')
    .option('--json', 'print as JSON')
    .addHelpText('after', `
An override is <name>.txt ("Objet: ..." line, a blank line, the text body) and optionally <name>.html
in AJ_TEMPLATES_DIR. Every template can use the company's details: entreprise_nom, entreprise_adresse,
entreprise_telephone, entreprise_siret, entreprise_iban, entreprise_bic, entreprise_signature.

Examples:
  aj mail templates
  aj mail templates --json | jq -r '.[] | select(.source != "built-in") | .name'

Exit status: 0 listed, 3 AJ_TEMPLATES_DIR cannot be read or holds a file that is not a template name.
`)
    .action(async (opts: { json?: boolean }) => {
      const { runTemplates } = await import('../src/mail/preview.js');
      const templates = await runTemplates(ctx);
      if (opts.json) return ctx.io.json(templates);
      await renderTable(ctx.io, templates, [
        { header: 'name', value: (t) => t.name },
        { header: 'source', value: (t) => t.source },
        { header: 'variables', value: (t) => (t.variables ? t.variables.join(' ') : '--var, --document') },
      ]);
    });

  mail
    .command('preview')
    .argument('<template>', 'template name (see aj mail templates)')
    .description('render a template to stdout without sending or recording anything')
    .option('--document <type:ref>', 'variables from devis:<number|id> or facture:<number|id>, as aj mail send --document')
    .option('--var <key=value>', 'template variable (repeatable; wins over --document)', collect, [])
    .option('--html', 'print the HTML body instead of the subject and text')
    .addHelpText('after', PREVIEW_HELP)
    .action(async (template: string, opts: { document?: string; var: string[]; html?: boolean }) => {
      const { runPreview } = await import('../src/mail/preview.js');
      const rendered = await runPreview(ctx, { template, document: opts.document, vars: opts.var });
      if (!opts.html) return ctx.io.out(`Objet: ${rendered.subject}\n\n${rendered.text}`);
      if (rendered.html === undefined) throw new UsageError(`template ${template} has no HTML part (${rendered.source} has no .html beside it)`, 'its messages are text only; preview without --html');
      ctx.io.out(rendered.html);
    });
}
