import { isAbsolute, relative, resolve } from 'node:path';
import { ConfigError } from '../errors.js';
import type { StoragePort } from '../ports.js';
import { parseStorageUrl, type S3StorageConfig, type StorageConfig } from '../storage/index.js';

/**
 * Where the erasure journal lives (docs/safety.md#erasures-survive-a-backup-restore). The journal must survive a restore of the
 * platform's database, so it is never in the database:
 *
 * - `storage` (default): objects in the run's own storage under Lethe's reserved prefix
 *   `.lethe/journal/` (no job row may name a key there, and listings for reconcile skip it);
 * - `dir:/abs/path`: a directory of its own (a different volume from the documents, ideally);
 * - `s3://bucket/prefix?region=...&endpoint=...`: a bucket (or prefix) of its own;
 * - `off`: no journal; erasures are not replayed after a restore.
 */
export type JournalSetting =
  | { readonly kind: 'off' }
  | { readonly kind: 'storage' }
  | { readonly kind: 'file'; readonly dir: string }
  | { readonly kind: 's3'; readonly config: S3StorageConfig };

/** A journal location the stores can open (store.ts). */
export type JournalLocation = { readonly kind: 'file'; readonly dir: string } | { readonly kind: 's3'; readonly config: S3StorageConfig };

export const JOURNAL_PREFIX = '.lethe/journal/';

const FIELD = 'journal (LETHE_JOURNAL)';
const EXPECTED = 'expected storage, off, dir:/absolute/path or s3://bucket/prefix';

export function resolveJournalSetting(value: unknown, storage: StorageConfig | null): JournalSetting {
  if (value === undefined || value === null || value === 'storage') return { kind: 'storage' };
  if (typeof value !== 'string') throw new ConfigError(`${FIELD}: ${EXPECTED}, got ${JSON.stringify(value)}`);
  const text = value.trim();
  if (text === 'off') return { kind: 'off' };
  if (text.startsWith('dir:')) {
    const dir = text.slice('dir:'.length);
    if (!isAbsolute(dir) || dir.includes('\0'))
      throw new ConfigError(`${FIELD}: dir: needs an absolute path like dir:/var/lib/lethe-journal, got ${JSON.stringify(text)}`);
    const setting = { kind: 'file', dir: resolve(dir) } as const;
    refuseInsideDocuments(setting, storage);
    return setting;
  }
  if (text.startsWith('s3://')) {
    const parsed = parseStorageUrl(text, FIELD);
    if (parsed.kind !== 's3') throw new ConfigError(`${FIELD}: ${EXPECTED}, got ${JSON.stringify(text)}`);
    const setting = { kind: 's3', config: parsed } as const;
    refuseInsideDocuments(setting, storage);
    return setting;
  }
  throw new ConfigError(`${FIELD}: ${EXPECTED}, got ${JSON.stringify(value)}`);
}

/**
 * A journal inside the documents' root (but not under `.lethe/`) would be listed as documents:
 * reconcile could take its objects for orphan files. Refused, never guessed around.
 */
function refuseInsideDocuments(setting: Exclude<JournalSetting, { kind: 'off' | 'storage' }>, storage: StorageConfig | null): void {
  if (storage === null) return;
  if (setting.kind === 'file' && storage.kind === 'file') {
    const rel = relative(resolve(storage.root), setting.dir);
    const inside = rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
    if (inside && !(rel === '.lethe' || rel.startsWith('.lethe/')))
      throw new ConfigError(
        `${FIELD}: ${setting.dir} is inside the storage root ${storage.root}; use a directory outside it, or "storage" (under .lethe/journal/)`,
      );
  }
  if (setting.kind === 's3' && storage.kind === 's3' && setting.config.bucket === storage.bucket) {
    const p = setting.config.prefix;
    if (p.startsWith(storage.prefix) && !p.startsWith(`${storage.prefix}.lethe/`))
      throw new ConfigError(
        `${FIELD}: s3://${setting.config.bucket}/${p} is inside the storage prefix s3://${storage.bucket}/${storage.prefix}; use another prefix or bucket, or "storage"`,
      );
  }
}

/**
 * The location a run writes to. `storage` follows the storage's configuration; a storage given as
 * an adapter object (an embedding library's own port) has no location Lethe can address, so
 * `storage` means no journal there: such callers configure `dir:` or `s3://` explicitly.
 */
export function journalLocation(setting: JournalSetting, storage: StorageConfig | StoragePort | null): JournalLocation | null {
  if (setting.kind === 'off') return null;
  if (setting.kind === 'file') return { kind: 'file', dir: setting.dir };
  if (setting.kind === 's3') return { kind: 's3', config: setting.config };
  if (storage === null || 'deleteMany' in storage) return null;
  if (storage.kind === 'file') return { kind: 'file', dir: resolve(storage.root, JOURNAL_PREFIX) };
  return { kind: 's3', config: { ...storage, prefix: `${storage.prefix}${JOURNAL_PREFIX}` } };
}

export function describeJournalSetting(setting: JournalSetting): string {
  if (setting.kind === 'file') return `dir:${setting.dir}`;
  if (setting.kind === 's3') return `s3://${setting.config.bucket}/${setting.config.prefix}`;
  return setting.kind;
}
