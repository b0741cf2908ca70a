import { existsSync, readFileSync, statSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDatabaseUrl, withLibpqEnv } from '../../src/db/connection.js';
import { pgToolPath } from '../../src/db/pg-tools.js';
import { Db } from '../../src/db/pool.js';
import { type TestDatabase, createTestDatabase, serverUrl } from '../helpers/pg.js';

// A role with a password, so the passfile is what authenticates wherever the server asks for one.
const ROLE = `aj_pw_${randomBytes(4).toString('hex')}`;
const PASSWORD = `pw:${randomBytes(6).toString('hex')}\\x`;
let database: TestDatabase;
let prismaUrl: string;

beforeAll(async () => {
  database = await createTestDatabase('database_url');
  await database.query(`CREATE ROLE ${ROLE} LOGIN PASSWORD '${PASSWORD.replace(/'/g, "''")}'`);
  await database.query(`GRANT ALL ON SCHEMA public TO ${ROLE}`);
  const url = new URL(database.url);
  url.username = ROLE;
  url.password = encodeURIComponent(PASSWORD);
  url.search = '?schema=public&connection_limit=5&pool_timeout=10';
  prismaUrl = url.toString();
});

afterAll(async () => {
  await database?.drop();
  const { Client } = (await import('pg')).default;
  const admin = new Client({ connectionString: serverUrl() });
  await admin.connect();
  await admin.query(`DROP ROLE IF EXISTS ${ROLE}`).finally(() => admin.end());
});

describe('a Prisma-style DATABASE_URL', () => {
  it("works for the pool, with aj's schema as the whole search_path whatever ?schema= says", async () => {
    const db = await Db.connect(parseDatabaseUrl(`${prismaUrl}&options=-c%20search_path%3Dpublic`), { schema: 'aj' });
    try {
      const row = await db.one<{ who: string; path: string }>('SELECT current_user AS who, current_setting($1) AS path', ['search_path']);
      expect(row).toEqual({ who: ROLE, path: 'aj' });
    } finally {
      await db.close();
    }
  });

  it('works for psql through PG* variables and a passfile removed afterwards, with no password in argv', async () => {
    const psql = pgToolPath('psql', { pgBinDir: undefined });
    let passfile = '';
    const result = await withLibpqEnv(parseDatabaseUrl(prismaUrl), async (env) => {
      passfile = env.PGPASSFILE!;
      expect(statSync(passfile).mode & 0o777).toBe(0o600);
      expect(readFileSync(passfile, 'utf8')).toContain(ROLE);
      return execa(psql, ['-X', '-A', '-t', '-c', 'select 1, current_user, current_setting(\'application_name\')'], { env, extendEnv: false });
    });
    expect(result.stdout.trim()).toBe(`1|${ROLE}|aj`);
    expect(result.command).not.toContain(PASSWORD);
    expect(result.command).not.toContain('connection_limit');
    expect(existsSync(passfile)).toBe(false);
  });
});
