import { afterAll, beforeAll, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';
import { createSafetyFixture, type SafetyFixture } from './fixture.js';

/** `lethe hold` validates keys as a run does, and warns when no row has the key (docs/safety.md#holds). */
let f: SafetyFixture;
beforeAll(async () => {
  f = await createSafetyFixture('hold_keys');
  await f.seed([{ id: 'a', key: 'Docs/A.pdf', age: '1 day' }]);
});
afterAll(async () => {
  await f.close();
});

const hold = (key: string) => runCli(['hold', key, '--reason', 'litigation'], { DATABASE_URL: f.db.url });

it('refuses keys that can protect nothing (exit 2, one line naming file_key); places none of them', async () => {
  for (const [key, why] of [
    ['../x', /"\.\." segments are not allowed/],
    ['/abs/x.pdf', /must be relative/],
    ['a//b', /empty path segments/],
  ] as const) {
    const r = await hold(key);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(why);
    expect(r.stderr).toMatch(/^lethe: LETHE_E_KEY_\w+: file_key: /);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  }
  expect((await f.db.pool.query(`SELECT count(*)::int AS n FROM lethe_holds`)).rows[0].n).toBe(0);
});

it('warns when no row has the key, and names a key that differs only in case', async () => {
  const wrongCase = await hold('docs/a.pdf');
  expect(wrongCase.code).toBe(0);
  expect(wrongCase.stderr).toMatch(/warning: no row in jobs has file_key "docs\/a\.pdf", but "Docs\/A\.pdf" differs only in case/);
  const none = await hold('nothing/here.pdf');
  expect(none.stderr).toMatch(/warning: no row in jobs has file_key "nothing\/here\.pdf"/);
  const exact = await hold('Docs/A.pdf');
  expect(exact).toMatchObject({ code: 0, stderr: '' });
  expect(exact.stdout).toMatch(/^HELD Docs\/A\.pdf/);
});
