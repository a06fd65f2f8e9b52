import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCliFixture, type CliFixture } from './support/fixture.js';

/** `lethe runs show <prefix>`: a unique prefix of a run id (at least 4 hex digits), as git takes. */
let f: CliFixture;
const A = 'abcd1234-0000-4000-8000-000000000001';
const B = 'abcd1234-0000-4000-8000-000000000002';
const C = 'abce0000-0000-4000-8000-000000000003';

beforeAll(async () => {
  f = await createCliFixture('runs_prefix');
  await f.db.pool.query(
    `INSERT INTO lethe_runs (id, trigger, status, started_at, ended_at) VALUES ($1, 'manual', 'completed', now() - interval '2 hours', now() - interval '2 hours'),
       ($2, 'schedule', 'completed', now() - interval '1 hour', now() - interval '1 hour'), ($3, 'manual', 'failed', now(), now())`,
    [A, B, C],
  );
});

afterAll(async () => {
  await f.close();
});

describe('lethe runs show <prefix>', () => {
  it('a unique prefix, with or without its dashes, in any case, shows the run', async () => {
    for (const prefix of ['abce', 'ABCE0000', 'abce0000-00', 'abcd12340000400080000000000000']) {
      const r = await f.run(['runs', 'show', prefix, '--json']);
      expect(r.code, prefix).toBe(prefix.startsWith('abcd') ? 2 : 0);
      if (r.code === 0) expect(r.json<{ run: { id: string } }>().run.id).toBe(C);
    }
    const full = await f.run(['runs', 'show', 'abcd1234-0000-4000-8000-0000000000', '--json']);
    expect(full.code).toBe(2); // still two candidates
    const one = await f.run(['runs', 'show', 'abcd1234000040008000000000000002']);
    expect(one.code).toBe(0);
    expect(one.lines[0]).toMatch(new RegExp(`^Run ${B}: completed`));
  });

  it('an ambiguous prefix exits 2 naming the candidates, newest first', async () => {
    const r = await f.run(['runs', 'show', 'abcd']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^lethe: LETHE_E_CONFIG: run-id: abcd is ambiguous: 2 runs start with it: /);
    expect(r.stderr.indexOf(B)).toBeGreaterThan(0);
    expect(r.stderr.indexOf(A)).toBeGreaterThan(r.stderr.indexOf(B));
    expect(r.stderr).not.toContain(C);
    expect(r.stderr).toContain('type more digits');
  });

  it('fewer than 4 digits, non-hex, or dashes in the wrong place are usage errors; no match says so', async () => {
    for (const bad of ['abc', 'abcz', 'ab-cd', 'abcd1234-00-00']) {
      const r = await f.run(['runs', 'show', bad]);
      expect(r.code, bad).toBe(2);
      expect(r.stderr, bad).toMatch(/run-id: expected a run id or a unique prefix of one \(at least 4 hex digits/);
    }
    const none = await f.run(['runs', 'show', 'ffff']);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('run-id: no run id starts with ffff in this database');
  });
});
