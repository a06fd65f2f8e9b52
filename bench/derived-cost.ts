/**
 * What derived data costs a run on files (docs/rights.md#derived-data): the same backlog erased
 * with no declaration, and with one `{file_key}.ocr.json` template and a child table (two
 * rows a job), alternating A B A B; plus the coverage preflight on its own. Prints ratios.
 * Run: LETHE_BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres pnpm exec tsx bench/derived-cost.ts
 */
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import pg from 'pg';
import { createEngine, FileStorage, resolveOptions } from '@lethe/engine';
import { checkCoverage } from '@lethe/engine/operations';

const ROWS = Number(process.env.LETHE_BENCH_ROWS ?? 3000);
const admin = process.env.LETHE_BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

async function round(derived: boolean, i: number): Promise<{ ms: number; coverageMs: number }> {
  const name = `lethe_derived_cost_${process.pid}_${i}`;
  const a = new pg.Client({ connectionString: admin });
  await a.connect();
  await a.query(`CREATE DATABASE ${name}`);
  const url = admin.replace(/\/[^/]*$/, `/${name}`);
  const pool = new pg.Pool({ connectionString: url, max: 12 });
  const root = await mkdtemp(join(tmpdir(), 'lethe-derived-cost-'));
  try {
    await pool.query(`CREATE TABLE jobs (id text PRIMARY KEY, file_key text, status text, purpose_code text, consent_verified boolean, created_at timestamp)`);
    await pool.query(`CREATE TABLE ocr_pages (job_id text NOT NULL REFERENCES jobs (id), page int)`);
    await pool.query(
      `INSERT INTO jobs SELECT 'j' || i, 'd/' || (i % 50) || '/' || i || '.pdf', 'COMPLETED', 'System Testing', true, (now() AT TIME ZONE 'UTC') - interval '2 days' FROM generate_series(1, $1) i`,
      [ROWS],
    );
    await pool.query(`INSERT INTO ocr_pages SELECT id, p FROM jobs, generate_series(1, 2) p`);
    for (let n = 1; n <= ROWS; n++) {
      const k = `d/${n % 50}/${n}.pdf`;
      await mkdir(dirname(join(root, k)), { recursive: true });
      await writeFile(join(root, k), 'x');
      await writeFile(join(root, `${k}.ocr.json`), 'x');
    }
    execFileSync('sync');
    const decl = derived
      ? { tables: [{ table: 'ocr_pages', column: 'job_id' }], objects: [{ template: '{file_key}.ocr.json' }] }
      : { keep: [{ table: 'ocr_pages', reason: 'bench' }] };
    const engine = createEngine({ pool, storage: `file://${root}`, threads: 1, derived: decl });
    await engine.migrate();
    const c0 = performance.now();
    await checkCoverage(pool, resolveOptions({ pool }).jobs, new FileStorage({ root }), engine.options.derived, 1000);
    const coverageMs = performance.now() - c0;
    if (!derived) await pool.query(`ALTER TABLE ocr_pages DROP CONSTRAINT ocr_pages_job_id_fkey`);
    const t0 = performance.now();
    const s = await engine.run();
    const ms = performance.now() - t0;
    if (s.erased_count !== ROWS) throw new Error(`expected ${ROWS} erased, got ${s.erased_count} (${s.error ?? ''})`);
    await engine.close();
    return { ms, coverageMs };
  } finally {
    await pool.end();
    await a.query(`DROP DATABASE ${name}`);
    await a.end();
    await rm(root, { recursive: true, force: true });
  }
}

const plain: number[] = [];
const withDerived: number[] = [];
const coverage: number[] = [];
for (let i = 0; i < 4; i++) {
  const derived = i % 2 === 1;
  const r = await round(derived, i);
  (derived ? withDerived : plain).push(r.ms);
  coverage.push(r.coverageMs);
}
const median = (x: number[]): number => [...x].sort((a, b) => a - b)[Math.floor(x.length / 2)]!;
console.log(
  JSON.stringify({
    rows: ROWS,
    plain_rows_per_s: Math.round(ROWS / (median(plain) / 1000)),
    derived_rows_per_s: Math.round(ROWS / (median(withDerived) / 1000)),
    derived_over_plain_time: +(median(withDerived) / median(plain)).toFixed(2),
    coverage_preflight_ms_median: Math.round(median(coverage)),
  }),
);
