import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll } from 'vitest';
import { openS3Storage, storageContract, type ContractSubject, HeadObjectCommand, PutObjectCommand } from '@lethe/engine/testing';
import { createBucket, s3Config, startS3Server, uniqueBucket, type S3TestServer } from '../support/s3-server.js';
import { describeS3 } from './describe-s3.js';

let server: S3TestServer;
const buckets = { plain: uniqueBucket('contract-plain'), versioned: uniqueBucket('contract-versioned') };

/** Each test gets a fresh prefix `<run>/root/` in a shared bucket; `<run>/outside/` is its neighbour. */
function subject(bucket: string, extra: { versions?: 'erase-all' | 'keep' } = {}): () => Promise<ContractSubject> {
  return async () => {
    const base = `c-${randomBytes(4).toString('hex')}/`;
    const storage = await openS3Storage(s3Config(server, bucket, `${base}root/`, extra));
    const put = (key: string, body: string) => server.client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body })).then(() => {});
    return {
      storage,
      put: (key, body) => put(`${base}root/${key}`, body),
      putOutside: (name, body) => put(`${base}outside/${name}`, body),
      existsOutside: (name) =>
        server.client.send(new HeadObjectCommand({ Bucket: bucket, Key: `${base}outside/${name}` })).then(
          () => true,
          () => false,
        ),
      dispose: () => storage.close(),
    };
  };
}

describeS3('S3 adapter contract (moto or $LETHE_TEST_S3_ENDPOINT)', () => {
  beforeAll(async () => {
    server = await startS3Server();
    await createBucket(server, buckets.plain);
    await createBucket(server, buckets.versioned, { versioned: true });
  });
  afterAll(async () => {
    await server?.stop();
  });

  // Unversioned: S3 reports a missing key as deleted, so absence is not observable here.
  storageContract({ name: 's3, unversioned bucket', observesAbsence: false, create: subject(buckets.plain) });
  // Versioned, erase-all: versions are listed per key anyway, so absence is known.
  storageContract({ name: 's3, versioned bucket, erase-all', observesAbsence: true, create: subject(buckets.versioned) });
  // Versioned, keep: only delete markers; absence is not observable.
  storageContract({ name: 's3, versioned bucket, keep', observesAbsence: false, create: subject(buckets.versioned, { versions: 'keep' }) });
});
