// Writes a realistic French clients CSV (semicolons, quoted fields, some embedded newlines,
// leading-zero postal codes, phones in several forms, valid SIRETs) to the given path.
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';

const NOMS = ['Martin', 'Bernard', 'Dubois', 'Thomas', 'Robert', 'Richard', 'Petit', 'Durand', 'Leroy', 'Moreau', 'Simon', 'Laurent', 'Lefèvre', 'Michel', 'Garcia', 'Faure', 'Rousseau', 'Blanc', 'Guérin', 'Müller'];
const PRENOMS = ['Jean', 'Marie', 'Éloïse', 'François', 'Hélène', 'Noël', 'Zoé', 'Jérôme', 'Anaïs', 'Loïc', 'Chloé', 'Gaëlle'];
const VILLES = [['01000', 'Bourg-en-Bresse'], ['06000', 'Nice'], ['13001', 'Marseille'], ['33000', 'Bordeaux'], ['69003', 'Lyon'], ['75011', 'Paris'], ['09100', 'Pamiers'], ['44000', 'Nantes']];
const RUES = ['rue de la Paix', 'avenue Jean-Jaurès', 'chemin des Écoliers', 'place de l’Église', 'boulevard Victor-Hugo', 'allée des Chênes'];

function luhnSiret(seed) {
  const base = String(10000000000000 + (seed * 7919) % 89999999999999).slice(0, 13);
  for (let d = 0; d < 10; d += 1) {
    const s = base + d;
    let sum = 0;
    for (let i = 0; i < 14; i += 1) {
      let n = s.charCodeAt(13 - i) - 48;
      if (i % 2 === 1) n = n * 2 > 9 ? n * 2 - 9 : n * 2;
      sum += n;
    }
    if (sum % 10 === 0) return s;
  }
  throw new Error('unreachable');
}

function phone(i) {
  const digits = `0${1 + (i % 7)}${String(10000000 + ((i * 48271) % 89999999)).padStart(8, '0')}`;
  switch (i % 4) {
    case 0: return digits.replace(/(\d\d)(?=\d)/g, '$1 ');
    case 1: return digits.replace(/(\d\d)(?=\d)/g, '$1.');
    case 2: return `+33 ${digits.slice(1)}`;
    default: return digits;
  }
}

const quote = (s) => `"${s.replace(/"/g, '""')}"`;

export async function generateClients(path, rows) {
  const out = createWriteStream(path);
  out.write('Référence;Type;Nom;Prénom;Raison sociale;E-mail;Téléphone;Adresse;Code postal;Ville;SIRET\n');
  let chunk = '';
  for (let i = 1; i <= rows; i += 1) {
    const pro = i % 5 === 0;
    const nom = NOMS[i % NOMS.length];
    const [cp, ville] = VILLES[i % VILLES.length];
    const rue = `${1 + (i % 120)} ${RUES[i % RUES.length]}`;
    const adresse = i % 50 === 0 ? quote(`${rue}\nBâtiment B, "Les Tilleuls"`) : i % 3 === 0 ? quote(`${rue}; escalier ${i % 9}`) : rue;
    chunk += [
      `CLI-${String(i).padStart(7, '0')}`,
      pro ? 'professionnel' : 'particulier',
      nom,
      pro ? '' : PRENOMS[i % PRENOMS.length],
      pro ? quote(`${nom} & Fils; Paysages`) : '',
      `client${i}@exemple.fr`,
      phone(i),
      adresse,
      cp,
      ville,
      pro ? luhnSiret(i) : '',
    ].join(';') + '\n';
    if (i % 5000 === 0) {
      if (!out.write(chunk)) await once(out, 'drain');
      chunk = '';
    }
  }
  out.end(chunk);
  await once(out, 'finish');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [path, rows = '1000000'] = process.argv.slice(2);
  if (!path) throw new Error('usage: node bench/import/generate.mjs FILE [ROWS]');
  await generateClients(path, Number(rows));
}
