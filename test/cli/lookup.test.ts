import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ago, createCliFixture, DAY_MS, type CliFixture } from './support/fixture.js';

let f: CliFixture;
let runId: string;

beforeAll(async () => {
  f = await createCliFixture('lookup');
  await f.insert([
    ['erased-1', 'l/erased.pdf', 'System Testing', ago('3 days')],
    ['kept-1', 'l/kept.pdf', 'General', ago('10 days')],
    ['marketing-1', 'l/marketing.pdf', 'Marketing', ago('10 years')],
  ]);
  for (const k of ['l/erased.pdf', 'l/kept.pdf', 'l/marketing.pdf']) await f.touch(k);
  await f.touch('l/orphan.pdf', 3 * DAY_MS);
  const run = await f.run(['run', '--json']);
  expect(run.code).toBe(0);
  runId = run.json<{ run_id: string }>().run_id;
  await f.insert([['waiting-1', 'l/waiting.pdf', 'System Testing', ago('2 days')]]);
  await f.touch('l/waiting.pdf');
});

afterAll(async () => {
  await f.close();
});

interface LookupJson {
  file_key: string;
  state: string;
  ledger: {
    run_id: string;
    run_trigger: string;
    job_id: string;
    purpose: string;
    outcome: string;
    policy_version: number;
    retention: string;
    after_expiry_seconds: number;
    expires_at: string;
  }[];
  rows: {
    job_id: string;
    purpose: string;
    retention: string | null;
    expired: boolean;
    expires_at: string | null;
    expires_in_seconds: number | null;
    unjudged_reason: string | null;
  }[];
  storage: { checked: boolean; exists: boolean | null; error?: { code: string } };
}

describe('lethe lookup', () => {
  it('an erased file: when, by which run, purpose, policy version, how long after expiry', async () => {
    const r = await f.run(['lookup', 'l/erased.pdf', '--json']);
    expect(r.code).toBe(0);
    const l = r.json<LookupJson>();
    expect(l).toMatchObject({ file_key: 'l/erased.pdf', state: 'erased', rows: [], storage: { checked: true, exists: false } });
    expect(l.ledger).toMatchObject([
      { run_id: runId, run_trigger: 'manual', job_id: 'erased-1', purpose: 'System Testing', outcome: 'erased', policy_version: 1, retention: '24 hours' },
    ]);
    expect(Math.abs(l.ledger[0]!.after_expiry_seconds - 2 * 86_400)).toBeLessThan(120);

    const human = await f.run(['lookup', 'l/erased.pdf']);
    expect(human.lines[0]).toBe('l/erased.pdf: ERASED (no row refers to it any more)');
    expect(human.stdout).toMatch(
      new RegExp(`: erased by run ${runId} \\(manual\\), job erased-1, purpose System Testing, policy version 1 \\(24 hours\\), 2d after it expired `),
    );
    expect(human.stdout).toContain('  in storage: no');
  });

  it('a live file: its row, when it expires under the current policy, and that it is in storage', async () => {
    const l = (await f.run(['lookup', 'l/kept.pdf', '--json'])).json<LookupJson>();
    expect(l.state).toBe('retained');
    expect(l.rows).toMatchObject([{ job_id: 'kept-1', purpose: 'General', retention: '30 days', expired: false, unjudged_reason: null }]);
    expect(Math.abs(l.rows[0]!.expires_in_seconds! - 20 * 86_400)).toBeLessThan(120);
    expect(l.storage).toMatchObject({ checked: true, exists: true });
    const human = await f.run(['lookup', 'l/kept.pdf']);
    expect(human.stdout).toMatch(/row kept-1: purpose General, created .*, 30 days retention: expires \S+ \S+ \(in (19d 23h|20d)\)/);
    expect(human.stdout).toMatch(/in storage: yes \(1 bytes/);
  });

  it('an expired row waiting for the next run, an unjudged row, an orphan file', async () => {
    expect((await f.run(['lookup', 'l/waiting.pdf', '--json'])).json<LookupJson>()).toMatchObject({
      state: 'expired',
      rows: [{ job_id: 'waiting-1', expired: true }],
    });
    const m = (await f.run(['lookup', 'l/marketing.pdf', '--json'])).json<LookupJson>();
    expect(m).toMatchObject({ state: 'retained', rows: [{ retention: null, expires_at: null, unjudged_reason: 'unknown_purpose' }] });
    const o = await f.run(['lookup', 'l/orphan.pdf']);
    expect(o.code).toBe(0);
    expect(o.lines[0]).toMatch(/^l\/orphan\.pdf: ORPHAN FILE/);
  });

  it('a key Lethe has never seen exits 1; a missing or empty key exits 2', async () => {
    const unknown = await f.run(['lookup', 'l/never.pdf', '--json']);
    expect(unknown.code).toBe(1);
    expect(unknown.json<LookupJson>()).toMatchObject({ state: 'unknown', ledger: [], rows: [] });
    const unsafe = (await f.run(['lookup', '../etc/passwd', '--json'])).json<LookupJson>();
    expect(unsafe.storage).toMatchObject({ checked: false, exists: null, error: { code: 'LETHE_E_KEY_OUTSIDE_ROOT' } });
    const missing = await f.run(['lookup']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("missing required argument 'file_key'");
    const empty = await f.run(['lookup', '']);
    expect(empty.code).toBe(2);
    expect(empty.stderr).toMatch(/^lethe: .*file_key: expected a non-empty file key/m);
  });
});
