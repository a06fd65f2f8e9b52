import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ago, createCliFixture, type CliFixture } from './support/fixture.js';

// `lethe ledger verify` and `lethe ledger export` (docs/safety.md#tamper-evident-ledger), run as
// the built CLI: exit 0 when the chain verifies, 1 with LETHE_E_LEDGER_CHAIN or
// LETHE_E_LEDGER_SIGNATURE, 2 for a bad key file. Needs `pnpm run build`.

let f: CliFixture;
let keyEnv: Record<string, string>;
let publicKey: string;
let dir: string;

beforeAll(async () => {
  f = await createCliFixture('ledger_chain');
  dir = await mkdtemp(join(tmpdir(), 'lethe-cli-chain-'));
  const pair = generateKeyPairSync('ed25519');
  const privatePath = join(dir, 'signing.pem');
  publicKey = join(dir, 'signing.pub.pem');
  await writeFile(privatePath, pair.privateKey.export({ type: 'pkcs8', format: 'pem' }));
  await writeFile(publicKey, pair.publicKey.export({ type: 'spki', format: 'pem' }));
  keyEnv = { LETHE_LEDGER_SIGNING_KEY: privatePath };
  await f.insert([
    ['a', 'l/a.pdf', 'System Testing', ago('2 days')],
    ['b', 'l/b.pdf', 'System Testing', ago('2 days')],
    ['c', 'l/c.pdf', 'General', ago('40 days')],
  ]);
  for (const k of ['l/a.pdf', 'l/b.pdf', 'l/c.pdf']) await f.touch(k);
  const run = await f.run(['run', '--json', '--batch-size', '2'], keyEnv);
  expect(run.code).toBe(0);
});

afterAll(async () => {
  await f.close();
  await rm(dir, { recursive: true, force: true });
});

describe('lethe ledger verify', () => {
  it('exit 0 and says the chain verifies; --json has the report', async () => {
    const text = await f.run(['ledger', 'verify']);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain('The ledger chain verifies');
    const json = await f.run(['ledger', 'verify', '--json', '--public-key', publicKey]);
    expect(json.code).toBe(0);
    expect(json.json()).toMatchObject({ ok: true, source: 'database', links_checked: 2, rows_checked: 3, signatures: { checked: true, valid: 1 } });
  });

  it('export, then verify offline: no database needed; a changed row in the export is named', async () => {
    const path = join(dir, 'export.json');
    const exp = await f.run(['ledger', 'export', '-o', path, '--json']);
    expect(exp.code).toBe(0);
    expect(exp.json()).toMatchObject({ links: 2, rows: 3, runs: 1 });
    const offline = await f.run(['ledger', 'verify', '--from-export', path, '--public-key', publicKey, '--json'], { DATABASE_URL: undefined });
    expect(offline.code).toBe(0);
    expect(offline.json()).toMatchObject({ ok: true, source: 'export' });
    const doc = JSON.parse(await readFile(path, 'utf8'));
    doc.rows[0].outcome = 'failed';
    await writeFile(path, JSON.stringify(doc));
    const bad = await f.run(['ledger', 'verify', '--from-export', path], { DATABASE_URL: undefined });
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(/LETHE_E_LEDGER_CHAIN: run [0-9a-f-]{36}, batch \d+: ledger rows \d+\.\.\d+ were changed/);
  });

  it('a row deleted out of band in the database: exit 1, LETHE_E_LEDGER_CHAIN', async () => {
    await f.db.pool.query(`DELETE FROM lethe_ledger WHERE id = (SELECT max(id) FROM lethe_ledger)`);
    const r = await f.run(['ledger', 'verify', '--json']);
    expect(r.code).toBe(1);
    expect(r.json<{ problems: { code: string; problem: string }[] }>().problems[0]).toMatchObject({ code: 'LETHE_E_LEDGER_CHAIN', problem: 'rows_changed' });
  });

  it('a public key file that is not a key: exit 2, naming the flag', async () => {
    const r = await f.run(['ledger', 'verify', '--public-key', join(f.root, 'l')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--public-key');
  });
});

describe('signed monthly reports', () => {
  it('lethe report --output with a signing key writes FILE.sig; ledger verify --report checks it offline and names a changed file', async () => {
    const path = join(dir, 'report.html');
    const report = await f.run(['report', '--format', 'html', '--output', path], keyEnv);
    expect(report.code, report.stderr).toBeLessThan(2);
    expect(report.stderr).toContain(`signed the report (Ed25519): ${path}.sig`);
    expect((await readFile(`${path}.sig`, 'utf8')).trim()).toMatch(/^[A-Za-z0-9+/]{86}==$/);

    const ok = await f.run(['ledger', 'verify', '--report', path, '--public-key', publicKey, '--json'], { DATABASE_URL: undefined });
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.json()).toMatchObject({ ok: true, report: path, signature: `${path}.sig` });

    await writeFile(path, (await readFile(path, 'utf8')).replace('</body>', '<p>added later</p></body>'));
    const bad = await f.run(['ledger', 'verify', '--report', path, '--public-key', publicKey], { DATABASE_URL: undefined });
    expect(bad.code).toBe(1);
    expect(bad.stdout).toContain('LETHE_E_LEDGER_SIGNATURE');
    expect(bad.stdout).toContain('does not verify');
  });

  it('to stdout: the JSON stays alone on stdout and the signature goes to stderr; --report without --public-key is a usage error', async () => {
    const r = await f.run(['report', '--json'], keyEnv);
    expect(r.code, r.stderr).toBeLessThan(2);
    expect(() => JSON.parse(r.stdout)).not.toThrow();
    expect(r.stderr).toMatch(/report signature \(Ed25519, base64, over the bytes written to stdout\): [A-Za-z0-9+/]{86}==/);

    const usage = await f.run(['ledger', 'verify', '--report', join(dir, 'report.html')], { DATABASE_URL: undefined });
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain('--report: needs --public-key');
  });
});
