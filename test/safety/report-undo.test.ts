import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { purgeTrash } from '@lethe/engine/operations';
import { monthlyReport } from '@lethe/engine/operations';
import { createSafetyFixture, type SafetyFixture } from './fixture.js';

let f: SafetyFixture;

beforeAll(async () => {
  f = await createSafetyFixture('report');
});
afterAll(async () => {
  await f.close();
});

describe('compliance report with an undo window', () => {
  it("counts a trashed file as erased only once purged, and measures a purge's lateness without the window", async () => {
    await f.seed([
      { id: 'u1', key: 'u/1.pdf' },
      { id: 'u2', key: 'u/2.pdf' },
    ]);
    const engine = f.engine({ undoWindow: '7d' });
    await engine.run();
    const month = (await f.db.pool.query<{ m: string }>(`SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM') AS m`)).rows[0]!.m;
    const before = await monthlyReport(engine, month, { periodMs: 86_400_000 });
    expect(before.totals).toMatchObject({ deleted: 0, erased: 0, trashed: 2 });

    // Expired 8 days ago, trashed on time (the row says so), purged now at the end of a 7-day window: 1 day late at most.
    await f.db.pool.query(
      `UPDATE lethe_ledger SET expires_at = now() - interval '8 days', purge_after = now() - interval '1 second' WHERE outcome = 'trashed'`,
    );
    expect(await purgeTrash(engine, { by: 'test' })).toMatchObject({ purged: 2 });
    const after = await monthlyReport(engine, month, { periodMs: 86_400_000 });
    expect(after.totals).toMatchObject({ deleted: 2, erased: 2, trashed: 2, late_erasures: 0 });
    expect(after.after_erasure).toMatchObject({ purged: 2 });
    expect(after.worst_lateness!.seconds).toBeGreaterThan(86_000);
    expect(after.worst_lateness!.seconds).toBeLessThan(87_000);
    expect(after.status).toBe('COMPLIANT');
  });
});
