import { readdir, readFile, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError, createEngine, ledgerKeyFor, resolveOptions } from '@lethe/engine';
import { lookupFileKey, restoreFile, verifyLedger } from '@lethe/engine/operations';
import { createSafetyFixture, type SafetyFixture } from './fixture.js';

const SECRET = 'a-long-test-secret-for-hmac-keys';
let f: SafetyFixture;

beforeAll(async () => {
  f = await createSafetyFixture('hmac');
});
afterAll(async () => {
  await f.close();
});
beforeEach(async () => {
  await f.reset();
});

describe('HMAC ledger keys (proof without personal data)', () => {
  it('stores no plain key in the ledger, job_row, trash path or run summary, and lookup, restore and ledger verification still work by key', async () => {
    const keys = ['aadhaar/ravi-kumar.pdf', 'pan/meera.pdf', 'failing/asha.pdf'];
    await f.seed([
      { id: 'j1', key: keys[0]! },
      { id: 'j2', key: keys[1]! },
      { id: 'j3', key: keys[2]! },
    ]);
    // One failure, so failed_files and errors are in the summary too.
    const { chmod } = await import('node:fs/promises');
    await chmod(`${f.files.root}/failing`, 0o500);
    const engine = f.engine({ ledgerKeyHmacSecret: SECRET, undoWindows: { General: '7d' } });
    let summary;
    try {
      summary = await engine.run();
    } finally {
      await chmod(`${f.files.root}/failing`, 0o755);
    }
    const isRoot = process.getuid?.() === 0;
    expect(summary.deleted_count).toBe(isRoot ? 3 : 2);
    const hashed = ledgerKeyFor(engine.options, keys[0]!);
    expect(hashed).toMatch(/^hmac-sha256:[0-9a-f]{64}$/);
    expect(ledgerKeyFor(resolveOptions({ databaseUrl: f.db.url }), keys[0]!)).toBe(keys[0]);

    const ledgerText = (await f.db.pool.query<{ t: string }>(`SELECT coalesce(string_agg(l::text, E'\\n'), '') AS t FROM lethe_ledger l`)).rows[0]!.t;
    const auditText = (await f.db.pool.query<{ t: string }>(`SELECT string_agg(details::text, E'\\n') AS t FROM audit_logs`)).rows[0]!.t;
    // The erasure journal (docs/safety.md#erasures-survive-a-backup-restore) holds the ledger's form of the key, never the key.
    const journalDir = join(f.files.root, '.lethe', 'journal');
    const journalText = (await Promise.all((await readdir(journalDir)).map((n) => readFile(join(journalDir, n), 'utf8')))).join('\n');
    expect(journalText).toContain(hashed);
    for (const k of keys) {
      for (const part of [k, k.split('/')[1]!]) {
        expect(ledgerText).not.toContain(part);
        expect(auditText).not.toContain(part);
        expect(journalText).not.toContain(part);
        expect(JSON.stringify(summary)).not.toContain(part);
      }
    }
    const rows = await f.ledger(`outcome = 'trashed'`);
    expect(rows.length).toBeGreaterThanOrEqual(2);
    for (const r of rows) {
      expect(r.file_key).toMatch(/^hmac-sha256:/);
      expect(r.job_row).not.toHaveProperty('file_key');
      expect(r.job_row).toHaveProperty('purpose_code', 'General');
      expect(r.trash_location).toMatch(new RegExp(`^\\.lethe/trash/${summary.run_id}/[0-9a-f]{64}$`));
    }
    expect(summary.erased_keys.every((k) => k.startsWith('hmac-sha256:'))).toBe(true);
    if (!isRoot) {
      expect(summary.failed_files).toEqual([ledgerKeyFor(engine.options, keys[2]!)]);
      expect(summary.errors[0]!.file_key).toBe(ledgerKeyFor(engine.options, keys[2]!));
    }

    const look = await lookupFileKey(engine, keys[0]!);
    expect(look.ledger).toMatchObject([{ job_id: 'j1', outcome: 'trashed' }]);

    const restored = await restoreFile(engine, { fileKey: keys[1]!, by: 'dpo' });
    expect(restored.restored_job_ids).toEqual(['j2']);
    expect(await f.jobRow('j2')).toMatchObject({ id: 'j2', file_key: keys[1], purpose_code: 'General' });
    expect(await f.read(keys[1]!)).toBe(`content of ${keys[1]}`);

    // A file recorded gone that comes back is found by listing storage and hashing its key.
    await f.files.put(keys[0]!, 'from a backup');
    // A backup restore keeps the old modification time (a newer one is never repaired: newer_object).
    const before = new Date(Date.now() - 40 * 86_400_000);
    await utimes(join(f.files.root, keys[0]!), before, before);
    const v = await verifyLedger(engine, { repair: true });
    expect(v).toMatchObject({ mode: 'storage_scan', present: 1, repaired: 1, unresolved: 0 });
    expect(v.findings[0]).toMatchObject({ file_key: keys[0], ledger_key: hashed, repair: 'erased' });
    expect(await f.files.exists(keys[0]!)).toBe(false);
  });

  it('refuses a short secret, naming the setting', () => {
    expect(() => createEngine({ databaseUrl: f.db.url, ledgerKeyHmacSecret: 'short' })).toThrow(ConfigError);
    expect(() => createEngine({ databaseUrl: f.db.url, ledgerKeyHmacSecret: 'short' })).toThrow(
      /^ledgerKeyHmacSecret \(LETHE_LEDGER_KEY_SECRET\): expected a secret of at least 16 bytes/,
    );
  });
});
