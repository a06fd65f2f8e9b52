/**
 * Every setting's one description: its type, default, bounds, environment variable and CLI flag.
 * The engine's resolver (options.ts), the daemon's and the CLI's config reader (cli/src/config.ts)
 * all read their bounds and defaults here, so a bound is written once. This file only describes:
 * environment variables and flags are read by the runtimes (the CLI), never by the engine.
 */

export type SettingKind = 'int' | 'share' | 'string' | 'enum' | 'object' | 'json';

/** Who resolves a setting: the engine (EngineOptions), the daemon, the HTTP service, or the CLI itself. */
export type SettingOwner = 'engine' | 'daemon' | 'http' | 'cli';

/** A default that differs between the filesystem and S3 (rate and concurrency). */
export interface StorageDefault {
  readonly file: number;
  readonly s3: number;
}

export interface SettingSpec {
  readonly kind: SettingKind;
  readonly owner: SettingOwner;
  readonly description: string;
  /** The environment variable the CLI reads it from (absent: config file only, or not a CLI setting). */
  readonly env?: string;
  /** The CLI flag, on the commands that take it. */
  readonly flag?: string;
  readonly min?: number;
  readonly max?: number;
  readonly default?: number | StorageDefault | string;
  readonly values?: readonly string[];
  /** false: an option of its resolver only, not a setting of the CLI's configuration (env, file, flags). */
  readonly config?: false;
}

const DAY_MS = 86_400_000;

export const SETTINGS = {
  // Engine (EngineOptions, resolveOptions).
  databaseUrl: { kind: 'string', owner: 'engine', env: 'DATABASE_URL', flag: '--database-url', description: 'Postgres connection URL, required' },
  storage: {
    kind: 'string',
    owner: 'engine',
    env: 'LETHE_STORAGE',
    flag: '--storage',
    description: 'storage URL: file:///abs/path or s3://bucket/prefix, required for runs',
  },
  jobs: { kind: 'object', owner: 'engine', description: 'the jobs table and its column names (config file only)' },
  policies: { kind: 'object', owner: 'engine', description: 'policies migrate seeds when the database has none (config file only)' },
  batchSize: { kind: 'int', owner: 'engine', env: 'LETHE_BATCH_SIZE', flag: '--batch-size', min: 1, max: 10_000, default: 1000, description: 'rows per batch' },
  deletesPerSecond: {
    kind: 'int',
    owner: 'engine',
    env: 'LETHE_DELETES_PER_SECOND',
    flag: '--deletes-per-second',
    min: 0,
    max: 1_000_000,
    default: 0,
    description: 'storage deletes per second for the whole run, 0 = no limit',
  },
  deletesPerSecondPerPrefix: {
    kind: 'int',
    owner: 'engine',
    env: 'LETHE_DELETES_PER_SECOND_PER_PREFIX',
    min: 0,
    max: 1_000_000,
    default: { file: 0, s3: 3500 },
    description: "storage deletes per second per key prefix, 0 = no limit (S3's 3,500 writes/s per partitioned prefix; docs/storage-s3.md#throttling)",
  },
  maxBatchesInFlight: {
    kind: 'int',
    owner: 'engine',
    env: 'LETHE_MAX_BATCHES_IN_FLIGHT',
    min: 1,
    max: 64,
    default: 4,
    description: 'batches between the rate limiter and their commit',
  },
  threads: {
    kind: 'int',
    owner: 'engine',
    env: 'LETHE_THREADS',
    flag: '--threads',
    min: 0,
    max: 32,
    default: 0,
    description: 'storage worker threads, 0 = batches run on the main thread (libuv does the I/O either way)',
  },
  deleteConcurrency: {
    kind: 'int',
    owner: 'engine',
    min: 1,
    max: 1024,
    default: { file: 64, s3: 4 },
    config: false,
    description: 'deletes in flight inside one storage worker',
  },
  lockWaitMs: {
    kind: 'int',
    owner: 'engine',
    env: 'LETHE_LOCK_WAIT_MS',
    min: 0,
    max: DAY_MS,
    default: 0,
    description: "how long a run waits for another run's lock (the daemon's bound on overlap=wait)",
  },
  summaryErasedKeys: { kind: 'int', owner: 'engine', min: 0, max: 100_000, default: 1000, config: false, description: "erased keys kept in a run's audit row" },
  summaryFailures: { kind: 'int', owner: 'engine', min: 0, max: 10_000, default: 100, config: false, description: "failures kept in a run's audit row" },
  pausePollMs: {
    kind: 'int',
    owner: 'engine',
    min: 0,
    max: 600_000,
    default: 1000,
    config: false,
    description: 'how often a run reads the pause flag between batches',
  },
  progressIntervalMs: {
    kind: 'int',
    owner: 'engine',
    env: 'LETHE_PROGRESS_INTERVAL_MS',
    min: 10,
    max: 600_000,
    default: 2000,
    description: 'how often a run reports progress',
  },
  unreadableCountCap: {
    kind: 'int',
    owner: 'engine',
    min: 1,
    max: 10_000_000,
    default: 1000,
    config: false,
    description: 'unknown-purpose rows counted per purpose',
  },
  maxDeletesPerRun: {
    kind: 'int',
    owner: 'engine',
    env: 'LETHE_MAX_DELETES_PER_RUN',
    min: 0,
    max: 1_000_000_000,
    default: 1_000_000,
    description: 'blast-radius cap, 0 = no cap (docs/safety.md#blast-radius-guard)',
  },
  blastRadiusFactor: {
    kind: 'int',
    owner: 'engine',
    env: 'LETHE_BLAST_RADIUS_FACTOR',
    min: 1,
    max: 1000,
    default: 10,
    description: 'refuse a run above this many times the median of recent runs',
  },
  blastRadiusFloor: {
    kind: 'int',
    owner: 'engine',
    env: 'LETHE_BLAST_RADIUS_FLOOR',
    min: 0,
    max: 1_000_000_000,
    default: 10_000,
    description: 'runs below this size never trip the median rule',
  },
  breakerWindow: {
    kind: 'int',
    owner: 'engine',
    env: 'LETHE_BREAKER_WINDOW',
    min: 10,
    max: 100_000,
    default: 200,
    description: 'the failure breaker judges the last this many deletes (runbook FM-002)',
  },
  breakerTripShare: { kind: 'share', owner: 'engine', default: 0.5, config: false, description: 'share of failing deletes that trips the breaker' },
  degradedShare: { kind: 'share', owner: 'engine', default: 0.1, config: false, description: 'share of failures above which a finished run is degraded' },
  heartbeatMs: {
    kind: 'int',
    owner: 'engine',
    env: 'LETHE_HEARTBEAT_MS',
    min: 100,
    max: 600_000,
    default: 5000,
    description: 'how often a run refreshes its heartbeat',
  },
  groupStaleMs: {
    kind: 'int',
    owner: 'engine',
    env: 'LETHE_GROUP_STALE_MS',
    min: 500,
    max: DAY_MS,
    default: 60_000,
    description: 'a group worker whose heartbeat is older is taken as dead',
  },
  undoWindow: {
    kind: 'string',
    owner: 'engine',
    env: 'LETHE_UNDO_WINDOW',
    default: 'off',
    description: 'undo window: off, on (7 days) or a duration like 7d (docs/safety.md#undo-window-default-off)',
  },
  undoWindows: { kind: 'object', owner: 'engine', description: 'per-purpose undo windows (config file only)' },
  derived: {
    kind: 'json',
    owner: 'engine',
    description: 'derived data deleted with each job: child tables, object templates, kept areas (config file only; docs/rights.md#derived-data)',
  },
  journal: {
    kind: 'string',
    owner: 'engine',
    env: 'LETHE_JOURNAL',
    default: 'storage',
    description:
      'erasure journal (docs/safety.md#erasures-survive-a-backup-restore): storage (under .lethe/journal/ in the storage), off, dir:/abs/path or s3://bucket/prefix',
  },
  ledgerKeyHmacSecret: {
    kind: 'string',
    owner: 'engine',
    env: 'LETHE_LEDGER_KEY_SECRET',
    description: 'store file keys in the ledger as HMAC-SHA256 with this secret (>= 16 bytes)',
  },
  ledgerSigningKey: {
    kind: 'string',
    owner: 'engine',
    env: 'LETHE_LEDGER_SIGNING_KEY',
    description: "path of an Ed25519 private key (PEM): each run's ledger chain head is signed (docs/safety.md#tamper-evident-ledger)",
  },
  notifyFlushMs: {
    kind: 'int',
    owner: 'engine',
    min: 0,
    max: 600_000,
    default: 5000,
    config: false,
    description: 'how long close() waits for notifications being delivered',
  },
  // The daemon (resolveDaemonOptions).
  schedule: {
    kind: 'string',
    owner: 'daemon',
    env: 'LETHE_SCHEDULE',
    flag: '--schedule',
    default: '0 2 * * *',
    description: 'cron expression, 5 fields or 6 with seconds first',
  },
  timezone: {
    kind: 'string',
    owner: 'daemon',
    env: 'LETHE_TIMEZONE',
    flag: '--timezone',
    default: 'UTC',
    description: 'IANA time zone the schedule is read in',
  },
  overlap: {
    kind: 'enum',
    owner: 'daemon',
    env: 'LETHE_OVERLAP',
    flag: '--overlap',
    values: ['wait', 'refuse'],
    default: 'wait',
    description: 'when another run holds the lock at a fire: wait (bounded) or refuse',
  },
  overlapWaitMs: {
    kind: 'int',
    owner: 'daemon',
    min: 0,
    max: DAY_MS,
    default: 15 * 60_000,
    config: false,
    description: 'the bound on overlap=wait (the CLI passes lockWaitMs)',
  },
  graceMs: {
    kind: 'int',
    owner: 'daemon',
    env: 'LETHE_GRACE_MS',
    min: 0,
    max: 30 * DAY_MS,
    default: 3_600_000,
    description: 'a run is missed when the fire after the last success is older than this',
  },
  heartbeatIntervalMs: {
    kind: 'int',
    owner: 'daemon',
    min: 100,
    max: 600_000,
    default: 5000,
    config: false,
    description: 'how often the daemon refreshes its scheduler heartbeat',
  },
  staleAfterMs: {
    kind: 'int',
    owner: 'daemon',
    env: 'LETHE_STALE_AFTER_MS',
    min: 1_000,
    max: DAY_MS,
    default: 120_000,
    description: 'a daemon whose heartbeat is older than this is not running',
  },
  shutdownTimeoutMs: {
    kind: 'int',
    owner: 'daemon',
    env: 'LETHE_SHUTDOWN_TIMEOUT_MS',
    min: 0,
    max: 3_600_000,
    default: 30_000,
    description: 'stop, drain the run in flight and close everything within this',
  },
  // The HTTP service (serve, daemon).
  httpPort: {
    kind: 'int',
    owner: 'http',
    env: 'LETHE_HTTP_PORT',
    flag: '--port',
    min: 0,
    max: 65_535,
    default: 8080,
    description: 'HTTP port (0 = any free port)',
  },
  httpHost: { kind: 'string', owner: 'http', env: 'LETHE_HTTP_HOST', flag: '--host', description: 'HTTP listen address' },
  adminToken: { kind: 'string', owner: 'http', env: 'LETHE_ADMIN_TOKEN', description: 'bearer token of the admin API (unset: the admin API answers 404)' },
  protectReads: {
    kind: 'enum',
    owner: 'http',
    env: 'LETHE_ADMIN_PROTECT_READS',
    flag: '--protect-reads',
    values: ['true', 'false'],
    default: 'true',
    description: 'admin read routes need the token too',
  },
  failureThreshold: {
    kind: 'int',
    owner: 'http',
    env: 'LETHE_FAILURE_THRESHOLD',
    min: 0,
    max: 1_000_000,
    default: 10,
    description: 'health: files failing to delete in the last 24 h above which Lethe is degraded',
  },
  // The CLI itself.
  logLevel: {
    kind: 'enum',
    owner: 'cli',
    env: 'LETHE_LOG_LEVEL',
    values: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'],
    description: 'log level',
  },
  webhookUrl: { kind: 'string', owner: 'cli', env: 'LETHE_WEBHOOK_URL', description: 'notifications: JSON POSTs on pauses, resumes and runs that failed' },
  webhookHeaders: { kind: 'object', owner: 'cli', description: 'extra webhook headers (config file only)' },
  webhookToken: { kind: 'string', owner: 'cli', env: 'LETHE_WEBHOOK_TOKEN', description: 'sent as Authorization: Bearer <token> to the webhook' },
  webhookTimeoutMs: {
    kind: 'int',
    owner: 'cli',
    env: 'LETHE_WEBHOOK_TIMEOUT_MS',
    min: 100,
    max: 600_000,
    default: 30_000,
    description: 'bound on delivering one notification, retries included',
  },
  // Erasure on request (docs/rights.md): composed by the CLI into the engine's `erasure` option.
  erasurePrincipalColumn: {
    kind: 'string',
    owner: 'cli',
    env: 'LETHE_ERASURE_PRINCIPAL_COLUMN',
    description: 'the jobs column that identifies a data principal (e.g. user_id), for `lethe erase --principal`',
  },
  erasureDeadlineDays: {
    kind: 'int',
    owner: 'cli',
    env: 'LETHE_ERASURE_DEADLINE_DAYS',
    min: 1,
    max: 90,
    default: 30,
    description: "days from receipt to an erasure request's deadline",
  },
  erasureMode: {
    kind: 'enum',
    owner: 'cli',
    env: 'LETHE_ERASURE_MODE',
    values: ['immediate', 'next-run'],
    default: 'immediate',
    description: 'run an erasure request at once, or in the next run',
  },
  erasureProcessors: { kind: 'object', owner: 'cli', description: 'processors to notify of erasures: name -> webhook URL (config file only)' },
} as const satisfies Readonly<Record<string, SettingSpec>>;

export type SettingName = keyof typeof SETTINGS;

/** The settings of the CLI's configuration (env, config file, flags): every one not marked `config: false`. */
export type ConfigSettingName = { [K in SettingName]: (typeof SETTINGS)[K] extends { readonly config: false } ? never : K }[SettingName];

/** The config file itself: named by a flag or an env var, never a key inside a config file. */
export const CONFIG_FILE_SETTING = { env: 'LETHE_CONFIG', flag: '-c, --config', description: 'JSON config file (same keys)' } as const;

export function settingSpec(name: SettingName): SettingSpec {
  return SETTINGS[name];
}

/** The default of an integer or share setting, for the given storage kind where it depends on it. */
export function defaultOf(name: SettingName, storage: 'file' | 's3' = 'file'): number {
  const d = settingSpec(name).default;
  if (typeof d === 'number') return d;
  if (typeof d === 'object') return d[storage];
  throw new TypeError(`${name}: has no numeric default`);
}

/** [min, max] of an integer setting. */
export function boundsOf(name: SettingName): readonly [number, number] {
  const s = settingSpec(name);
  if (s.min === undefined || s.max === undefined) throw new TypeError(`${name}: is not a bounded integer setting`);
  return [s.min, s.max];
}
