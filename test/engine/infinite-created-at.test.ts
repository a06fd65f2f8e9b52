import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngine, type Engine, type UnreadableRows } from '@lethe/engine';
import { lookupFileKey, planExpiries, verifyExpired } from '@lethe/engine/operations';
import { createJobsTable, createTestDatabase, insertJobs, type CreatedAtType, type JobSeed, type TestDatabase } from '../support/database.js';
import { createTempRoot, type TempRoot } from '../support/files.js';

/**
 * `created_at = '-infinity'` was judged expired (`'-infinity' + 30 days` is before every cutoff) and
 * its file deleted. Infinite timestamps are not judged, like NULL: never deleted, reported as
 * unreadable with reason `infinite_created_at`, and a row with one keeps a shared key's file.
 */
describe.each<CreatedAtType>(['timestamp', 'timestamptz'])('created_at %s: infinite values are never judged', (type) => {
  let db: TestDatabase;
  let files: TempRoot;
  let engine: Engine;
  const now = type === 'timestamp' ? `(now() AT TIME ZONE 'UTC')` : 'now()';
  const row = (id: string, key: string, createdAtSql: string, purpose = 'General'): JobSeed => ({ id, fileKey: key, purpose, createdAtSql });
  const ids = async (): Promise<string[]> => (await db.pool.query<{ id: string }>('SELECT id FROM jobs ORDER BY id')).rows.map((r) => r.id);
  const infinite = (u: readonly UnreadableRows[]) =>
    u.filter((x) => x.reason === 'infinite_created_at').map((x) => ({ ...x, sample_ids: [...x.sample_ids].sort() }));

  beforeAll(async () => {
    db = await createTestDatabase(`infinite_${type}`);
    files = await createTempRoot(`infinite-${type}`);
    await createJobsTable(db.pool, { createdAt: type });
    engine = createEngine({ databaseUrl: db.url, storage: `file://${files.root}`, threads: 1 });
    await engine.migrate();
  });

  afterAll(async () => {
    await engine.close();
    await db.drop();
    await files.remove();
  });

  async function seed(jobs: readonly JobSeed[]): Promise<void> {
    await db.pool.query('TRUNCATE jobs');
    await insertJobs(db.pool, jobs);
    for (const j of jobs) if (j.fileKey !== null) await files.put(j.fileKey);
  }

  it('a run (dry, then real) deletes only the finite expired row and reports the infinite ones as unreadable', async () => {
    await seed([
      row('minus', 'g/minus.pdf', `'-infinity'`),
      row('plus', 'g/plus.pdf', `'infinity'`),
      row('old', 'g/old.pdf', `${now} - interval '40 days'`),
      row('fresh', 'g/fresh.pdf', `${now} - interval '1 day'`),
      // An expired row sharing its key with an unjudged one: the file must stay.
      row('shared-old', 'g/shared.pdf', `${now} - interval '40 days'`),
      row('shared-minus', 'g/shared.pdf', `'-infinity'`),
      row('st-minus', 's/minus.pdf', `'-infinity'`, 'System Testing'),
    ]);
    const expectedUnreadable = [
      { purpose: 'General', reason: 'infinite_created_at', count: 3, capped: false, sample_ids: ['minus', 'plus', 'shared-minus'] },
      { purpose: 'System Testing', reason: 'infinite_created_at', count: 1, capped: false, sample_ids: ['st-minus'] },
    ];
    const dry = await engine.run({ dryRun: true });
    expect(dry.error).toBeNull();
    expect(infinite(dry.unreadable)).toEqual(expectedUnreadable);

    const summary = await engine.run();
    expect(summary.error).toBeNull();
    // Selected: old and shared-old (kept: its key has an unjudged row); the infinite rows never.
    expect(summary).toMatchObject({ selected_count: 2, erased_count: 1, shared_count: 1, changed_count: 0, blast_radius: { wouldErase: 2 } });
    expect(infinite(summary.unreadable)).toEqual(expectedUnreadable);
    for (const kept of ['g/minus.pdf', 'g/plus.pdf', 'g/fresh.pdf', 'g/shared.pdf', 's/minus.pdf'])
      expect({ kept, exists: await files.exists(kept) }).toEqual({ kept, exists: true });
    expect(await files.exists('g/old.pdf')).toBe(false);
    expect(await ids()).toEqual(expect.arrayContaining(['fresh', 'minus', 'plus', 'shared-minus', 'st-minus']));
    expect(await ids()).not.toContain('old');
    const ledger = await db.pool.query<{ job_id: string }>(`SELECT job_id FROM lethe_ledger WHERE job_id IN ('minus', 'plus', 'shared-minus', 'st-minus')`);
    expect(ledger.rows).toEqual([]);
  });

  it('a worker group claims only the finite expired row', async () => {
    await seed([row('minus', 'g/minus.pdf', `'-infinity'`), row('old', 'g/old.pdf', `${now} - interval '40 days'`)]);
    const summary = await engine.run({ group: `inf-${type}` });
    expect(summary.error).toBeNull();
    // Not even claimed (the re-check under lock would keep it, but the claim and the blast-radius
    // count must not see it either).
    expect(summary).toMatchObject({ selected_count: 1, changed_count: 0, erased_count: 1, blast_radius: { wouldErase: 1 } });
    expect(infinite(summary.unreadable)).toEqual([{ purpose: 'General', reason: 'infinite_created_at', count: 1, capped: false, sample_ids: ['minus'] }]);
    expect(await files.exists('g/minus.pdf')).toBe(true);
    expect(await files.exists('g/old.pdf')).toBe(false);
    expect(await ids()).toEqual(['minus']);
  });

  it('plan, verify and lookup count them as neither expired nor expiring, and say why', async () => {
    await seed([
      row('minus', 'g/minus.pdf', `'-infinity'`),
      row('plus', 'g/plus.pdf', `'infinity'`),
      row('old', 'g/old.pdf', `${now} - interval '40 days'`),
      row('fresh', 'g/fresh.pdf', `${now} - interval '1 day'`),
    ]);
    const plan = await planExpiries(engine);
    const general = plan.purposes.find((p) => p.purpose === 'General')!;
    expect(general.expired).toBe(1);
    const oldest = Date.parse(general.oldest_expired_at!);
    const next = Date.parse(general.next_expiry_at!);
    expect(Date.now() - oldest).toBeGreaterThan(9 * 86_400_000);
    expect(Date.now() - oldest).toBeLessThan(11 * 86_400_000);
    expect(next - Date.now()).toBeGreaterThan(28 * 86_400_000);
    expect(next - Date.now()).toBeLessThan(30 * 86_400_000);
    expect(infinite(plan.unreadable)).toEqual([{ purpose: 'General', reason: 'infinite_created_at', count: 2, capped: false, sample_ids: ['minus', 'plus'] }]);

    const verify = await verifyExpired(engine, { graceMs: 0 });
    expect(verify.checked).toBe(1);
    expect(verify.findings.map((f) => f.job_id)).toEqual(['old']);

    for (const [key, id] of [
      ['g/minus.pdf', 'minus'],
      ['g/plus.pdf', 'plus'],
    ] as const) {
      const found = await lookupFileKey(engine, key);
      expect(found.rows).toEqual([expect.objectContaining({ job_id: id, expired: false, unjudged_reason: 'infinite_created_at', expires_at: null })]);
    }
  });
});
