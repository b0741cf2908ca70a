/** A name as people type it, reduced for comparison: no case, no accents, no spaces or punctuation ("Date d'échéance" -> "datedecheance"). */
export function fold(value: string): string {
  return value.normalize('NFD').replace(/[\u0300-\u036f]/g, '').toLowerCase().replace(/[^a-z0-9]/g, '');
}
