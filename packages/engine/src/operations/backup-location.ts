import type { StoragePort } from '../ports.js';
import { parseStorageUrl, type S3StorageConfig, type StorageConfig } from '../storage/index.js';

/** The connection settings a backup location may take from the storage's own (runbook EMERGENCY-002). */
export type InheritedSetting = 'endpoint' | 'region' | 'forcePathStyle' | 'contentMd5' | 'credentials';

export interface BackupLocation {
  readonly config: StorageConfig;
  /** Settings taken from the storage's (LETHE_STORAGE) because the --from URL gave none. */
  readonly inherited: readonly InheritedSetting[];
}

/**
 * Parses `--from`. An s3:// backup on the same S3 service as the storage need not repeat the
 * endpoint, region and credentials: what the URL leaves out comes from the storage's settings.
 * A URL naming another endpoint is another service, and takes nothing (its credentials come from
 * the SDK's standard chain), so the store's static credentials are never sent elsewhere.
 */
export function backupLocation(from: string, storage: StorageConfig | StoragePort | null): BackupLocation {
  const config = parseStorageUrl(from, 'from');
  if (config.kind !== 's3' || storage === null || 'deleteMany' in storage || storage.kind !== 's3') return { config, inherited: [] };
  if (config.endpoint !== undefined && config.endpoint !== storage.endpoint) return { config, inherited: [] };
  const merged: { -readonly [K in keyof S3StorageConfig]: S3StorageConfig[K] } = { ...config };
  const inherited: InheritedSetting[] = [];
  for (const name of ['endpoint', 'region', 'forcePathStyle', 'contentMd5', 'credentials'] as const) {
    if (config[name] === undefined && storage[name] !== undefined) {
      (merged as Record<InheritedSetting, unknown>)[name] = storage[name];
      inherited.push(name);
    }
  }
  return { config: merged, inherited };
}
