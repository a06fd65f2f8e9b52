import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createEngine, ErrorCodes, type Engine } from '@lethe/engine';
import { chainHeadMessage, exportLedger, loadPublicKey, verifyChainHead, verifyLedgerChain, type LedgerExport } from '@lethe/engine/operations';
import { createJobsTable, createTestDatabase, insertJobs, type TestDatabase } from '../support/database.js';
import { createTempRoot, type TempRoot } from '../support/files.js';

// Signed chain heads (docs/safety.md#tamper-evident-ledger): with ledgerSigningKey each run's
// chain head is signed (Ed25519); an export is checked offline with the public key.

const UTC_NOW = `(now() AT TIME ZONE 'UTC')`;
let db: TestDatabase;
let files: TempRoot;
let dir: string;
let keys: { privatePath: string; publicPath: string; otherPublicPath: string; rsaPath: string };
let engine: Engine;

beforeAll(async () => {
  db = await createTestDatabase('signing');
  await createJobsTable(db.pool);
  dir = await mkdtemp(join(tmpdir(), 'lethe-signing-'));
  const pair = generateKeyPairSync('ed25519');
  const other = generateKeyPairSync('ed25519');
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  keys = {
    privatePath: join(dir, 'signing.pem'),
    publicPath: join(dir, 'signing.pub.pem'),
    otherPublicPath: join(dir, 'other.pub.pem'),
    rsaPath: join(dir, 'rsa.pem'),
  };
  await writeFile(keys.privatePath, pair.privateKey.export({ type: 'pkcs8', format: 'pem' }));
  await writeFile(keys.publicPath, pair.publicKey.export({ type: 'spki', format: 'pem' }));
  await writeFile(keys.otherPublicPath, other.publicKey.export({ type: 'spki', format: 'pem' }));
  await writeFile(keys.rsaPath, rsa.privateKey.export({ type: 'pkcs8', format: 'pem' }));
});
afterAll(async () => {
  await db.drop();
  await rm(dir, { recursive: true, force: true });
});
beforeEach(async () => {
  files = await createTempRoot('signing');
  await db.pool.query('TRUNCATE jobs');
  engine = createEngine({ databaseUrl: db.url, storage: `file://${files.root}`, threads: 1, batchSize: 2, ledgerSigningKey: keys.privatePath });
  await engine.migrate();
});
afterEach(async () => {
  await engine.close();
  await files.remove();
});

async function runOnce(prefix: string, n: number, e: Engine = engine): Promise<string> {
  const jobs = Array.from({ length: n }, (_, i) => ({
    id: `${prefix}-${i}`,
    fileKey: `${prefix}/${i}.pdf`,
    purpose: 'System Testing',
    createdAtSql: `${UTC_NOW} - interval '2 days'`,
  }));
  await insertJobs(db.pool, jobs);
  for (const j of jobs) await files.put(j.fileKey);
  const s = await e.run();
  expect(s.status).toBe('completed');
  return s.run_id;
}

describe('signed run heads', () => {
  it("each run's head is signed, and the signature verifies over run, batch and head", async () => {
    const runId = await runOnce('s', 3);
    const row = (await db.pool.query(`SELECT chain_seq::text, chain_head, chain_signature FROM lethe_runs WHERE id = $1`, [runId])).rows[0];
    expect(row.chain_signature).toMatch(/^[A-Za-z0-9+/=]+$/);
    const pub = loadPublicKey(keys.publicPath);
    expect(verifyChainHead(pub, runId, row.chain_seq, row.chain_head, row.chain_signature)).toBe(true);
    expect(chainHeadMessage(runId, row.chain_seq, row.chain_head)).toBe(`lethe-chain-head-v1|${runId}|${row.chain_seq}|${row.chain_head}`);
    const r = await verifyLedgerChain(db.pool, { publicKey: pub });
    expect(r.ok).toBe(true);
    expect(r.signatures.valid).toBeGreaterThanOrEqual(1);
  });

  it('an export verifies offline with the public key; a forged or removed signature, or the wrong key, does not', async () => {
    await runOnce('e1', 2);
    const second = await runOnce('e2', 2);
    const path = join(dir, 'export.json');
    await exportLedger(engine, path);
    const pub = loadPublicKey(keys.publicPath);
    expect((await verifyLedgerChain(null, { fromExport: path, publicKey: pub })).ok).toBe(true);

    const wrong = await verifyLedgerChain(null, { fromExport: path, publicKey: loadPublicKey(keys.otherPublicPath) });
    expect(wrong.problems[0]).toMatchObject({ code: ErrorCodes.LEDGER_SIGNATURE, problem: 'signature_invalid' });

    const doc = JSON.parse(await readFile(path, 'utf8')) as LedgerExport;
    const forged = { ...doc, runs: doc.runs.map((r) => (r.run_id === second ? { ...r, chain_signature: Buffer.alloc(64).toString('base64') } : r)) };
    await writeFile(path, JSON.stringify(forged));
    const f = await verifyLedgerChain(null, { fromExport: path, publicKey: pub });
    expect(f.problems[0]).toMatchObject({ code: ErrorCodes.LEDGER_SIGNATURE, problem: 'signature_invalid', run_id: second });

    const stripped = { ...doc, runs: doc.runs.map((r) => (r.run_id === second ? { ...r, chain_signature: null } : r)) };
    await writeFile(path, JSON.stringify(stripped));
    const s = await verifyLedgerChain(null, { fromExport: path, publicKey: pub });
    expect(s.problems[0]).toMatchObject({ code: ErrorCodes.LEDGER_SIGNATURE, problem: 'signature_missing', run_id: second });
  });

  it("a run's recorded head replaced: the chain and the signature both say so", async () => {
    const runId = await runOnce('w', 2);
    const path = join(dir, 'rewrite.json');
    await exportLedger(engine, path);
    const doc = JSON.parse(await readFile(path, 'utf8')) as LedgerExport;
    const run = doc.runs.find((r) => r.run_id === runId)!;
    const rewritten = { ...doc, runs: doc.runs.map((r) => (r.run_id === runId ? { ...r, chain_head: 'f'.repeat(64) } : r)) };
    await writeFile(path, JSON.stringify(rewritten));
    const r = await verifyLedgerChain(null, { fromExport: path, publicKey: loadPublicKey(keys.publicPath) });
    expect(r.ok).toBe(false);
    expect(r.problems.map((p) => p.code)).toContain(ErrorCodes.LEDGER_CHAIN);
    expect(r.problems.map((p) => p.code)).toContain(ErrorCodes.LEDGER_SIGNATURE);
    expect(run.chain_signature).not.toBeNull();
  });

  it('a key that is not an Ed25519 private key is a configuration error naming the setting', () => {
    expect(() => createEngine({ databaseUrl: db.url, ledgerSigningKey: keys.rsaPath })).toThrow(
      /ledgerSigningKey \(LETHE_LEDGER_SIGNING_KEY\): expected an Ed25519 private key/,
    );
    expect(() => createEngine({ databaseUrl: db.url, ledgerSigningKey: join(dir, 'missing.pem') })).toThrow(/ledgerSigningKey.*readable PEM/);
  });
});
