import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// Every ledger row is hashed into the chain in the statement that inserts it
// (docs/safety.md#tamper-evident-ledger): packages/engine/src/db/tables/ledger-chain.ts builds
// every such statement. An insert anywhere else would write rows no batch covers, and the next
// `lethe ledger verify` would report them as inserted out of band. Tests may insert rows
// directly (they play the tamperer or seed fixtures); product code may not.

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const APPEND_MODULE = 'packages/engine/src/db/tables/ledger-chain.ts';
/** `INSERT INTO lethe_ledger` (not lethe_ledger_derived or lethe_ledger_chain), also as `INSERT INTO ${LEDGER_TABLE}`. */
const DIRECT_INSERT = /INSERT\s+INTO\s+(?:"?public"?\.)?"?(?:lethe_ledger(?![a-z_])|\$\{\s*LEDGER_TABLE\s*\})/i;
const SKIP_DIRS = new Set(['node_modules', 'dist', '.turbo', 'coverage', 'bundle']);

async function sourceFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (entry.isDirectory()) {
      if (!SKIP_DIRS.has(entry.name)) out.push(...(await sourceFiles(join(dir, entry.name))));
    } else if (/\.(ts|js|sql)$/.test(entry.name) && !entry.name.endsWith('.test.ts')) out.push(join(dir, entry.name));
  }
  return out;
}

describe('one append path into the ledger', () => {
  it('no file but the append module inserts into lethe_ledger', async () => {
    const offenders: string[] = [];
    const packages = await readdir(join(ROOT, 'packages'), { withFileTypes: true });
    for (const pkg of packages.filter((p) => p.isDirectory())) {
      for (const file of await sourceFiles(join(ROOT, 'packages', pkg.name)).catch(() => [])) {
        const rel = relative(ROOT, file);
        if (rel === APPEND_MODULE) continue;
        const text = await readFile(file, 'utf8');
        text.split('\n').forEach((line, i) => {
          if (DIRECT_INSERT.test(line)) offenders.push(`${rel}:${i + 1}: ${line.trim()}`);
        });
      }
    }
    expect(offenders).toEqual([]);
  });

  it('the pattern catches the forms a direct insert takes, and not the other ledger tables', () => {
    expect(DIRECT_INSERT.test('INSERT INTO lethe_ledger (run_id) VALUES ($1)')).toBe(true);
    expect(DIRECT_INSERT.test('insert into  public.lethe_ledger(run_id)')).toBe(true);
    expect(DIRECT_INSERT.test('INSERT INTO ${LEDGER_TABLE} (a)')).toBe(true);
    expect(DIRECT_INSERT.test('INSERT INTO lethe_ledger_derived (run_id)')).toBe(false);
    expect(DIRECT_INSERT.test('INSERT INTO lethe_ledger_chain (seq)')).toBe(false);
  });

  it('the append module is where the pattern finds its one insert', async () => {
    const text = await readFile(join(ROOT, APPEND_MODULE), 'utf8');
    expect(text.split('\n').filter((l) => DIRECT_INSERT.test(l))).toHaveLength(1);
  });
});
