import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngine, submitErasureRequest, type Engine } from '@lethe/engine';
import { evaluateHealth, gatherHealthFacts } from '@lethe/engine/operations';
import { createJobsTable, createTestDatabase, type TestDatabase } from '../support/database.js';
import { promtool, runPromtool } from '../http/promtool.js';

/**
 * A request's deadline passes (docs/rights.md#overdue, runbook REQ-003): health says so, the figure
 * the metrics gauge reads (HealthFacts.overdueRequests) counts it, and the alert rule fires on it.
 */
const RULES = fileURLToPath(new URL('../../deploy/prometheus/lethe-alerts.yml', import.meta.url));
let db: TestDatabase;
let engine: Engine;
let dir: string;

beforeAll(async () => {
  db = await createTestDatabase('erasure_alerts');
  await createJobsTable(db.pool);
  engine = createEngine({ pool: db.pool });
  await engine.migrate();
  dir = await mkdtemp(join(tmpdir(), 'lethe-erasure-alerts-'));
});

afterAll(async () => {
  await engine.close();
  await db.drop();
  await rm(dir, { recursive: true, force: true });
});

const base = { target: { kind: 'job' as const, values: ['j1'] }, requestedBy: 'a principal', reason: 'request' as const, submittedBy: 'dpo' };

/** promtool test rules on the given gauge values (one a minute): does the alert fire at the last one? */
async function alertFires(values: readonly number[]): Promise<boolean> {
  const n = values[values.length - 1]!;
  const fires = `
rule_files: [${JSON.stringify(RULES)}]
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      - series: 'lethe_erasure_requests_overdue{job="lethe",instance="a:8080"}'
        values: '${values.join(' ')}'
    alert_rule_test:
      - eval_time: ${values.length - 1}m
        alertname: Erasure_Request_Overdue
        exp_alerts:
          - exp_labels: { severity: critical }
            exp_annotations:
              summary: "Erasure requests are past their deadline"
              description: "${n} erasure request(s) are open past their deadline (DPDP s.12(3)). \`lethe requests --overdue\` lists them; see runbook REQ-003."
`;
  const file = join(dir, `fires-${values.join('-')}.yml`);
  await writeFile(file, fires);
  return runPromtool(['test', 'rules', file]).status === 0;
}

describe('an overdue erasure request', () => {
  it('is in health, in the metrics source, and fires the alert; a request within its deadline is not', async () => {
    await submitErasureRequest(engine, { ...base, reference: 'REQ-ON-TIME' });
    const before = await gatherHealthFacts(db.pool, Date.now(), 60_000);
    expect(before.overdueRequests).toBe(0);
    expect(evaluateHealth(before).reasons.join('\n')).not.toMatch(/erasure request/);

    // Its deadline passes: a request whose due date was yesterday (entered late, as tickets are).
    const due = new Date(Date.now() - 86_400_000).toISOString();
    await submitErasureRequest(engine, { ...base, reference: 'REQ-LATE', target: { kind: 'job', values: ['j2'] }, dueAt: due });
    const after = await gatherHealthFacts(db.pool, Date.now(), 60_000);
    expect(after.overdueRequests).toBe(1);
    const health = evaluateHealth(after);
    expect(health.overdue_requests).toBe(1);
    expect(health.reasons).toContain('1 erasure request is past its deadline (lethe requests --overdue; runbook REQ-003)');

    if (!promtool) return;
    expect(runPromtool(['check', 'rules', RULES]).status).toBe(0);
    const series = [before.overdueRequests!, before.overdueRequests!, after.overdueRequests!, after.overdueRequests!];
    expect(await alertFires(series)).toBe(true);
    expect(await alertFires([before.overdueRequests!, before.overdueRequests!])).toBe(false);
  });
});
