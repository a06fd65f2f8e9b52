// The bare S3 loop of bench/peers-s3.bench.ts, as its own process: DeleteObjects of 1000 keys a
// request, `inFlight` requests at once, no database and no checks (the ceiling). Keys are
// `<prefix>d<k>/<i>.pdf` as the bench puts them. Credentials from AWS_ACCESS_KEY_ID/SECRET.
//   node bench/support/bare-delete-objects-child.mjs <endpoint> <bucket> <prefix> <n> <dirs> <inFlight>
// The SDK through @lethe/engine/testing/s3 (the SDK alone: the testing entry would also load vitest).
import { DeleteObjectsCommand, S3Client } from '@lethe/engine/testing/s3';

const [endpoint, bucket, prefix, nText, dirsText, inFlightText] = process.argv.slice(2);
const n = Number(nText);
const perDir = Math.ceil(n / Number(dirsText));
const keys = Array.from({ length: n }, (_, i) => `${prefix}d${Math.floor(i / perDir)}/${i}.pdf`);
const chunks = [];
for (let i = 0; i < keys.length; i += 1000) chunks.push(keys.slice(i, i + 1000));
const client = new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true });
let next = 0;
const worker = async () => {
  while (next < chunks.length) {
    const chunk = chunks[next++];
    const out = await client.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Quiet: true, Objects: chunk.map((Key) => ({ Key })) } }));
    if (out.Errors?.length) throw new Error(`DeleteObjects: ${out.Errors.length} errors, first ${out.Errors[0].Code}`);
  }
};
await Promise.all(Array.from({ length: Number(inFlightText) }, worker));
client.destroy();
