import { describe, expect, it } from 'vitest';
import { inSchema, ledgerSchema, parseToc } from '../../src/backup/toc.js';

// pg_restore --list of a PostgreSQL 15 dump: aj's schema with a comment, grants and default
// privileges, next to the app's tables in public.
const LIST = `;
; Archive created at 2026-12-02 11:38:02 UTC
;     dbname: tocdemo
;
; Selected TOC Entries:
;
6; 2615 22513 SCHEMA - aj postgres
3376; 0 0 COMMENT - SCHEMA aj postgres
3377; 0 0 ACL - SCHEMA aj postgres
216; 1259 22515 TABLE aj backup_runs postgres
3378; 0 0 ACL aj TABLE backup_runs postgres
215; 1259 22514 SEQUENCE aj backup_runs_id_seq postgres
3379; 0 0 SEQUENCE OWNED BY aj backup_runs_id_seq postgres
217; 1259 22520 TABLE aj aj_migrations postgres
219; 1259 22537 TABLE public factures postgres
220; 1259 22544 VIEW public v postgres
3212; 2604 22518 DEFAULT aj backup_runs id postgres
3366; 0 22515 TABLE DATA aj backup_runs postgres
3369; 0 22537 TABLE DATA public factures postgres
3381; 0 0 SEQUENCE SET aj backup_runs_id_seq postgres
3215; 2606 22522 CONSTRAINT aj backup_runs backup_runs_pkey postgres
3220; 2606 22543 CONSTRAINT public factures factures_pkey postgres
3216; 1259 22523 INDEX aj backup_runs_x_idx postgres
3221; 2606 22531 FK CONSTRAINT aj child child_b_fkey postgres
2049; 826 22536 DEFAULT ACL aj DEFAULT PRIVILEGES FOR TABLES postgres
3400; 0 0 COMMENT - SCHEMA aj_archive postgres
7; 2615 22600 SCHEMA - aj_archive postgres
3401; 0 0 COMMENT - EXTENSION pgcrypto
`;

describe('a dump listing', () => {
  const entries = parseToc(LIST);

  it('reads kind, schema and name of each entry, skipping comments', () => {
    expect(entries).toHaveLength(22);
    expect(entries[0]).toMatchObject({ kind: 'SCHEMA', schema: '-', rest: 'aj postgres' });
    expect(entries.find((e) => e.line.startsWith('3379;'))).toMatchObject({ kind: 'SEQUENCE OWNED BY', schema: 'aj', rest: 'backup_runs_id_seq postgres' });
    expect(entries.find((e) => e.line.startsWith('2049;'))).toMatchObject({ kind: 'DEFAULT ACL', schema: 'aj' });
  });

  it("tells aj's schema and everything in it from the rest, without confusing aj_archive", () => {
    const kept = entries.filter((e) => !inSchema(e, 'aj')).map((e) => e.line.split(';')[0]);
    expect(kept).toEqual(['219', '220', '3369', '3220', '3400', '7', '3401']);
  });

  it('finds the schema holding aj_migrations', () => {
    expect(ledgerSchema(entries)).toBe('aj');
    expect(ledgerSchema(parseToc('5; 1259 1 TABLE public aj_migrations postgres\n'))).toBe('public');
    expect(ledgerSchema(parseToc('5; 1259 1 TABLE public factures postgres\n'))).toBeUndefined();
  });
});
