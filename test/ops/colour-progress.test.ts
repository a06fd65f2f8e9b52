import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCliFixture, type CliFixture } from '../cli/support/fixture.js';
import { letheOnTty } from '../support/tty.js';

/**
 * Human output on a terminal: states in colour (health, compliance, failures) unless NO_COLOR,
 * never off a terminal unless FORCE_COLOR; every real `lethe run` shows done/total, a percentage
 * and an ETA (not only --backlog).
 */
let f: CliFixture;
const ESC = '\u001b[';
const GREEN = '\u001b[32m';
const RED = '\u001b[31m';
const TOTAL = 300;

interface Progress {
  msg: string;
  processed: number;
  total: number | null;
  percent: number | null;
  etaSeconds: number | null;
}
const progressLines = (text: string): Progress[] =>
  text
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Progress)
    .filter((p) => p.msg === 'progress');

async function seed(prefix: string, n: number): Promise<void> {
  await f.db.pool.query(`INSERT INTO jobs (id, file_key, purpose_code, created_at)
    SELECT '${prefix}-' || i, '${prefix}/' || i || '.pdf', 'System Testing', (now() AT TIME ZONE 'UTC') - interval '3 days' - i * interval '1 second'
      FROM generate_series(1, ${n}) AS i`);
  for (let i = 1; i <= n; i++) await f.touch(`${prefix}/${i}.pdf`);
}

beforeAll(async () => {
  f = await createCliFixture('colour_progress');
});
afterAll(async () => {
  await f.close();
});

const slow = { LETHE_BATCH_SIZE: '25', LETHE_PROGRESS_INTERVAL_MS: '10' };

describe('progress on every run', () => {
  it('a plain `lethe run` reports a total, a percentage and an ETA in its JSON progress lines; --limit bounds the total', async () => {
    await seed('p', TOTAL);
    const limited = await f.run(['run', '--limit', '100', '--json'], slow);
    expect(limited.json()).toMatchObject({ deleted_count: 100, expired_estimate: 100 });
    for (const p of progressLines(limited.stderr)) expect(p.total).toBe(100);

    const r = await f.run(['run', '--json'], slow);
    expect(r.json()).toMatchObject({ trigger: 'manual', status: 'completed', deleted_count: TOTAL - 100, expired_estimate: TOTAL - 100 });
    const progress = progressLines(r.stderr);
    expect(progress.length).toBeGreaterThan(0);
    for (const p of progress) {
      expect(p.total).toBe(TOTAL - 100);
      expect(p.percent).toBe(Math.floor((p.processed / (TOTAL - 100)) * 1000) / 10);
    }
    expect(progress.at(-1)).toMatchObject({ processed: TOTAL - 100, percent: 100, etaSeconds: 0 });
  });

  it('on a terminal: one live line with done/total (percent) and an ETA', async () => {
    await seed('t', TOTAL);
    const r = await letheOnTty(['run'], { ...f.env, ...slow });
    expect(r.code).toBe(0);
    expect(r.output).toMatch(new RegExp(`\\r${TOTAL}/${TOTAL} \\(100%\\) processed, ${TOTAL} deleted, 0 failed, [\\d,]+/s, eta 0s`));
    expect(r.output).toMatch(/\r\d+\/300 \(\d+(\.\d)?%\) processed/);
    expect(r.output).not.toContain('{"msg":"progress"');
  });
});

describe('colour', () => {
  it('lethe status: the health state in colour on a terminal, plain with NO_COLOR and off a terminal, forced by FORCE_COLOR', async () => {
    const tty = await letheOnTty(['status'], f.env);
    expect(tty.output).toMatch(new RegExp(`Health: +${RED.replace('[', '\\[')}`)); // no daemon: unhealthy, in red
    expect(tty.output).toContain(`${RED}`);
    const noColour = await letheOnTty(['status'], { ...f.env, NO_COLOR: '1' });
    expect(noColour.output).toMatch(/Health: +unhealthy/);
    expect(noColour.output).not.toContain(ESC);
    const piped = await f.run(['status']);
    expect(piped.stdout).toMatch(/Health: +unhealthy/);
    expect(piped.stdout).not.toContain(ESC);
    const forced = await f.run(['status'], { FORCE_COLOR: '1' });
    expect(forced.stdout).toContain(`Health:       ${RED}`);
    // --json is never coloured.
    expect((await f.run(['status', '--json'], { FORCE_COLOR: '1' })).stdout).not.toContain(ESC);
  });

  it('lethe report: COMPLIANT in green, NON-COMPLIANT in red', async () => {
    const m = await f.db.pool.query<{ m: string }>(`SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM') AS m`);
    // This month's runs erased files 2 days after they expired: compliant with a 30-day grace, late with the default one.
    const r = await f.run(['report', '--month', m.rows[0]!.m, '--grace', '30d'], { FORCE_COLOR: '1' });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`Compliance Status: ✅ ${GREEN}COMPLIANT`);
    const late = await f.run(['report', '--month', m.rows[0]!.m], { FORCE_COLOR: '1' });
    expect(late.code).toBe(1);
    expect(late.stdout).toContain(`Compliance Status: ❌ ${RED}`);
    expect(late.stdout).toContain('NON-COMPLIANT');
  });
});
