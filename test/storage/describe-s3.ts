import { describe, it } from 'vitest';
import { s3Availability } from '../support/s3-server.js';

/**
 * `describe` for S3 suites: skipped with a printed reason when no S3 server can be had
 * ($LETHE_TEST_S3_ENDPOINT unset and no moto_server on PATH), except under CI=true, where the
 * missing server is a failing test rather than a silent skip.
 */
export function describeS3(name: string, body: () => void): void {
  const a = s3Availability();
  if (a.ok) {
    describe(name, body);
  } else if (process.env.CI === 'true') {
    describe(name, () => {
      it('has an S3 server to test against (required under CI=true)', () => {
        throw new Error(a.reason);
      });
    });
  } else {
    // Skipped on purpose, with the reason printed: no S3 server here (LETHE_TEST_S3_ENDPOINT unset and no
    // moto_server on PATH). Under CI=true the branch above turns this into a failure instead.
    console.warn(`[lethe] skipping "${name}": ${a.reason}`);
    describe.skip(name, body);
  }
}
