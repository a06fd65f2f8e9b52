/**
 * The AWS SDK surface that tests and benches use to arrange buckets and objects on a real S3
 * server (test/support/s3-server.ts, bench/s3-*.ts). The SDK is this package's dependency, not
 * the workspace root's, so they reach it through here rather than by a bare import. Exported from
 * @lethe/engine/testing (and alone as @lethe/engine/testing/s3, for bench children that must not
 * load vitest), not from the package's root.
 */
export {
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectLegalHoldCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectVersionsCommand,
  ListObjectsV2Command,
  PutBucketVersioningCommand,
  PutObjectCommand,
  PutObjectLegalHoldCommand,
  S3Client,
} from '@aws-sdk/client-s3';
export type { S3ClientConfig } from '@aws-sdk/client-s3';
export { NodeHttpHandler } from '@smithy/node-http-handler';
