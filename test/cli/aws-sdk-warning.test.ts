import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCliFixture, type CliFixture } from './support/fixture.js';

/**
 * The AWS SDK printed its NodeVersionSupportWarning (a future SDK needs a newer Node) on every S3
 * command. The CLI turns it off with the SDK's own switch; setting it to "false" brings it back.
 */
let f: CliFixture;
// Nothing listens on port 1: the client is built (which is when the SDK warns), the calls fail fast.
const S3 = 's3://lethe-bucket/docs?endpoint=http://127.0.0.1:1&region=us-east-1&forcePathStyle=true';
const AWS = { AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test' };

beforeAll(async () => {
  f = await createCliFixture('aws_warning');
});

afterAll(async () => {
  await f.close();
});

describe('S3 commands', () => {
  it('print no AWS SDK Node-version warning', async () => {
    const r = await f.run(['doctor', '--storage', S3], AWS);
    expect(r.stdout).toMatch(/storage\.reachable/);
    expect(r.stderr).not.toMatch(/NodeVersionSupportWarning|AWS SDK for JavaScript/);
    expect(r.stderr).not.toMatch(/\(node:\d+\) Warning/);
  });

  it.runIf(Number(process.versions.node.split('.')[0]) < 22)('an operator can still ask for it (=false)', async () => {
    const r = await f.run(['doctor', '--storage', S3], { ...AWS, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'false' });
    expect(r.stderr).toMatch(/NodeVersionSupportWarning/);
  });
});
