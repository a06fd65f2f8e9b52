import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCliFixture, type CliFixture } from '../cli/support/fixture.js';
import { startReceiver, type Receiver } from './support/webhook-receiver.js';

/**
 * Operations (runbook EMERGENCY-001 step 3 "notify the team"): the built CLI configured with
 * LETHE_WEBHOOK_URL tells the team of a pause and a resume before it exits (a bounded flush), and
 * a receiver that never answers costs a short-lived command at most that bound.
 */
const VERSION = (JSON.parse(readFileSync(new URL('../../packages/cli/package.json', import.meta.url), 'utf8')) as { version: string }).version;
let f: CliFixture;
let ok: Receiver;
let hang: Receiver;

beforeAll(async () => {
  [f, ok, hang] = await Promise.all([createCliFixture('ops_notify_cli'), startReceiver(), startReceiver({ hang: true })]);
});
afterAll(async () => {
  await Promise.all([f.close(), ok.close(), hang.close()]);
});

describe('lethe pause / resume with a webhook', () => {
  it('delivers before exiting, with the token as a bearer Authorization header', async () => {
    const env = { LETHE_WEBHOOK_URL: ok.url, LETHE_WEBHOOK_TOKEN: 'hook-secret' };
    const paused = await f.run(['pause', '--reason', 'INC-4711: suspected wrong retention', '--by', 'oncall'], env);
    expect(paused.code).toBe(0);
    // No waiting here: the command flushed its notification before it exited.
    expect(ok.delivered()).toHaveLength(1);
    const p = ok.delivered()[0]!;
    expect(p.headers.authorization).toBe('Bearer hook-secret');
    expect(p.headers['user-agent']).toBe(`lethe/${VERSION}`);
    expect(p.body).toMatchObject({
      event: 'paused',
      host: hostname(),
      version: VERSION,
      text: 'Lethe PAUSED by oncall: INC-4711: suspected wrong retention. Deletions are stopped on every replica until `lethe resume`.',
    });
    const resumed = await f.run(['resume', '--reason', 'policy v3 verified', '--by', 'oncall'], env);
    expect(resumed.code).toBe(0);
    expect(ok.delivered().map((d) => d.body.event)).toEqual(['paused', 'resumed']);
  });

  it('a receiver that never answers delays the command by the bounded flush only; a bad URL is exit 2', async () => {
    const started = Date.now();
    const r = await f.run(['pause', '--reason', 'drill'], { LETHE_WEBHOOK_URL: hang.url, LETHE_WEBHOOK_TIMEOUT_MS: '1500' });
    const elapsedMs = Date.now() - started;
    expect(r.code).toBe(0);
    expect(hang.received).toHaveLength(1);
    expect(r.stderr).toMatch(/notification(s still being delivered at exit were abandoned| not delivered)/);
    expect(elapsedMs).toBeLessThan(20_000);
    await f.run(['resume']);
    const bad = await f.run(['status'], { LETHE_WEBHOOK_URL: 'hooks.slack.com/services/x' });
    expect(bad.code).toBe(2);
    expect(bad.stderr.trim()).toMatch(/^lethe: LETHE_E_CONFIG: webhookUrl \(LETHE_WEBHOOK_URL\): expected an http\(s\) URL/);
  });
});
