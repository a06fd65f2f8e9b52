import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ago, createCliFixture, type CliFixture } from './support/fixture.js';

/** `lethe unhold --reason` records why in the audit row, and warns when the released file will go. */
let f: CliFixture;

beforeAll(async () => {
  f = await createCliFixture('unhold');
  await f.insert([
    ['old-1', 'x/expired.pdf', 'System Testing', ago('3 days')],
    ['mix-old', 'x/shared.pdf', 'System Testing', ago('3 days')],
    ['mix-new', 'x/shared.pdf', 'General', ago('1 day')],
    ['new-1', 'x/fresh.pdf', 'General', ago('1 day')],
  ]);
  for (const key of ['x/expired.pdf', 'x/shared.pdf', 'x/fresh.pdf']) {
    await f.touch(key);
    expect((await f.run(['hold', key, '--reason', 'litigation'])).code).toBe(0);
  }
});

afterAll(async () => {
  await f.close();
});

async function releasedAudit(key: string): Promise<Record<string, unknown>[]> {
  const { rows } = await f.db.pool.query<{ details: Record<string, unknown> }>(
    `SELECT details FROM audit_logs WHERE action = 'cleanup_hold_released' AND details->>'file_key' = $1`,
    [key],
  );
  return rows.map((r) => r.details);
}

describe('lethe unhold', () => {
  it('--reason is recorded in the audit row; an expired file gets a warning that the next run erases it', async () => {
    const r = await f.run(['unhold', 'x/expired.pdf', '--reason', 'INC-4711 closed', '--by', 'legal']);
    expect(r.code).toBe(0);
    expect(r.lines).toEqual(['RELEASED 1 hold on x/expired.pdf']);
    expect(r.stderr).toBe(
      'lethe: warning: x/expired.pdf is no longer held and 1 of its rows is expired: the next run will erase the file (`lethe hold x/expired.pdf --reason ...` to keep it)\n',
    );
    expect(await releasedAudit('x/expired.pdf')).toMatchObject([{ by: 'legal', reason: 'INC-4711 closed', source: 'lethe' }]);
    // The warning was true.
    expect((await f.run(['run'])).code).toBe(0);
    expect(await f.exists('x/expired.pdf')).toBe(false);
  });

  it('a file a live row still shares: the warning says the expired rows go and the file stays', async () => {
    const r = await f.run(['unhold', 'x/shared.pdf', '--json']);
    expect(r.code).toBe(0);
    expect(r.json()).toMatchObject({ file_key: 'x/shared.pdf', released: 1, expired_rows: 1, live_rows: 1 });
    expect(r.stderr).toMatch(
      /^lethe: warning: x\/shared\.pdf is no longer held and 1 of its rows is expired: the next run removes it; the file stays while 1 live row shares it/,
    );
    const [audit] = await releasedAudit('x/shared.pdf');
    expect(audit).not.toHaveProperty('reason');
  });

  it('nothing expired: no warning; an empty --reason is a usage error', async () => {
    const empty = await f.run(['unhold', 'x/fresh.pdf', '--reason', '  ']);
    expect(empty.code).toBe(2);
    const r = await f.run(['unhold', 'x/fresh.pdf', '--reason', 'done']);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    expect(await releasedAudit('x/fresh.pdf')).toMatchObject([{ reason: 'done' }]);
  });
});
