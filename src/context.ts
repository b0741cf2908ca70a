import type { BusinessSql } from './business/sql.js';
import { loadConfig, type LoadedConfig } from './config/load.js';
import type { Config, SettingName } from './config/schema.js';
import { parseDatabaseUrl } from './db/connection.js';
import type { Db } from './db/pool.js';
import { IO } from './io.js';
import type { MailTransport } from './mail/transport.js';
import type { ObjectStore } from './storage/store.js';

export interface GlobalOptions {
  config?: string;
  envFile?: string;
  quiet?: boolean;
  verbose?: boolean;
  color?: boolean;
}

export type StoreName = 'backup' | 'archive';

/**
 * The factory every command gets: each dependency is created on first use and memoised,
 * so `aj --help` touches nothing and `aj backup list` never loads the AWS SDK.
 */
export class Context {
  globals: GlobalOptions = {};
  flags: Partial<Record<SettingName, unknown>> = {};
  /** Why a scheduled job did nothing (switched off): its run is recorded as skipped, not succeeded. */
  skipped?: string;
  private loaded?: LoadedConfig;
  private dbPromise?: Promise<Db>;
  private businessPromise?: Promise<BusinessSql>;
  private stores = new Map<StoreName, Promise<ObjectStore>>();
  private mailers = new Map<string, Promise<MailTransport>>();
  private closers: Array<() => Promise<void> | void> = [];
  readonly abort = new AbortController();

  constructor(
    readonly io: IO = new IO(),
    readonly env: NodeJS.ProcessEnv = process.env,
    readonly clock: () => Date = () => new Date(),
  ) {}

  get signal(): AbortSignal {
    return this.abort.signal;
  }

  loadedConfig(): LoadedConfig {
    this.loaded ??= loadConfig({
      flags: this.flags,
      env: this.env,
      envFile: this.globals.envFile,
      envFileExplicit: Boolean(this.globals.envFile),
      configFile: this.globals.config ?? this.env.AJ_CONFIG,
    });
    return this.loaded;
  }

  config(): Config {
    return this.loadedConfig().config;
  }

  /** The pool, with pending migrations applied on first use (unless AJ_AUTO_MIGRATE=false). */
  db(options: { migrate?: boolean } = {}): Promise<Db> {
    this.dbPromise ??= (async () => {
      const { Db } = await import('./db/pool.js');
      const db = await Db.connect(parseDatabaseUrl(this.config().databaseUrl), { schema: this.config().dbSchema });
      this.closers.push(() => db.close());
      if (options.migrate !== false && this.config().autoMigrate) {
        const { migrate } = await import('./db/migrate.js');
        const { applied, relocated } = await migrate(db);
        if (relocated.length > 0) this.io.notice(`moved aj's tables from public into schema ${db.schema}: ${relocated.join(', ')}`);
        if (applied.length > 0) this.io.notice(`applied ${applied.length} database migration(s): ${applied.map((m) => `${m.version}_${m.name}`).join(', ')}`);
      }
      return db;
    })();
    return this.dbPromise;
  }

  /** The app's business tables as aj reaches them (src/business): loaded once, on first use. */
  business(): Promise<BusinessSql> {
    this.businessPromise ??= (async () => {
      const { loadBusiness } = await import('./business/load.js');
      return loadBusiness(await this.db(), this.config());
    })();
    return this.businessPromise;
  }

  store(name: StoreName): Promise<ObjectStore> {
    let store = this.stores.get(name);
    if (!store) {
      store = this.openStore(name);
      this.stores.set(name, store);
    }
    return store;
  }

  private async openStore(name: StoreName): Promise<ObjectStore> {
    const { parseLocation, localFallback } = await import('./storage/location.js');
    const config = this.config();
    const [setting, value] = name === 'backup' ? ['BACKUP_BUCKET', config.backupLocation] : ['ARCHIVE_BUCKET', config.archiveLocation];
    const location = value ? parseLocation(value, setting) : localFallback(config.dataDir, name === 'backup' ? 'backups' : 'archive');
    if (!value && location.kind === 'file') this.io.warn(`${setting} is not set: using local storage ${location.path}, which is not off-site`);
    const { openLocation } = await import('./storage/open.js');
    const { store, close } = await openLocation(location, config, this.signal);
    if (close) this.closers.push(close);
    return store;
  }

  /** The mail transport; `pool` for batches (reminders, alerts). */
  mailer(options: { pool?: boolean } = {}): Promise<MailTransport> {
    const key = options.pool ? 'pool' : 'single';
    let mailer = this.mailers.get(key);
    if (!mailer) {
      mailer = (async () => {
        const { createTransport } = await import('./mail/transport.js');
        const transport = await createTransport(this.config(), options);
        if (transport.kind === 'outbox') this.io.warn(`no SMTP configured: messages are written to ${transport.description}`);
        this.closers.push(() => transport.close());
        return transport;
      })();
      this.mailers.set(key, mailer);
    }
    return mailer;
  }

  onClose(fn: () => Promise<void> | void): void {
    this.closers.push(fn);
  }

  /** Releases everything opened, newest first; called once by the entry point. */
  async close(): Promise<void> {
    for (const close of this.closers.reverse()) {
      await Promise.resolve().then(close).catch(() => undefined);
    }
    this.closers = [];
  }
}
