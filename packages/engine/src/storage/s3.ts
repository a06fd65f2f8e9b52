import { ConfigError, ErrorCodes } from '../errors.js';
import type { StoragePort } from '../ports.js';
import type { S3StorageConfig } from './config.js';

export async function createS3Storage(config: S3StorageConfig): Promise<StoragePort> {
  throw new ConfigError(`LETHE_STORAGE: S3 storage (s3://${config.bucket}) is not available yet in this build`, ErrorCodes.STORAGE_URL);
}
