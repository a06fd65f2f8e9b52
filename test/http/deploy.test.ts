import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngine, silentLogger } from '@lethe/engine';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { promtool, runPromtool } from './promtool.js';
import { call, startService } from './support.js';

const DEPLOY = fileURLToPath(new URL('../../deploy/', import.meta.url));
const ALERTS = join(DEPLOY, 'prometheus/lethe-alerts.yml');
const ALERT_TESTS = join(DEPLOY, 'prometheus/lethe-alerts.test.yml');
const DASHBOARD = join(DEPLOY, 'grafana/lethe-dashboard.json');

interface Panel {
  title: string;
  type: string;
  targets: { expr: string }[];
  fieldConfig: { defaults: Record<string, any> };
}
let dashboard: { uid: string; panels: Panel[] };
let alertExprs: string[];
let db: TestDatabase;
/** Metric names the service exposes (histogram and counter series included). */
let exposed: Set<string>;

beforeAll(async () => {
  dashboard = JSON.parse(await readFile(DASHBOARD, 'utf8'));
  alertExprs = [...(await readFile(ALERTS, 'utf8')).matchAll(/^\s+expr: (.+)$/gm)].map((m) => m[1]!);
  db = await createTestDatabase('http_deploy');
  const engine = createEngine({ pool: db.pool });
  await engine.migrate({ createJobsIndexes: false });
  const s = await startService({ pool: db.pool, logger: silentLogger, version: 'test' });
  try {
    const text = (await call(s.base, '/metrics')).text;
    // From the TYPE lines, so label-less families with no sample yet count too.
    exposed = new Set(
      [...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].flatMap(([, name, type]) =>
        type === 'histogram' ? ['_bucket', '_count', '_sum'].map((x) => `${name}${x}`) : [name!],
      ),
    );
  } finally {
    await s.close();
    await engine.close();
  }
});

afterAll(async () => {
  await db?.drop();
});

/** Metric names referenced by a PromQL expression (the ones this project defines or uses). */
function metricsIn(expr: string): string[] {
  return [...expr.matchAll(/\b((?:lethe|process|nodejs)_[a-z0-9_]+)\b/g)].map((m) => m[1]!);
}

describe('deploy/grafana/lethe-dashboard.json', () => {
  it('has the runbook URL and its four panels on Lethe metrics', () => {
    expect(dashboard.uid).toBe('cleanup-service');
    const byTitle = new Map(dashboard.panels.map((p) => [p.title, p]));
    expect(byTitle.get('Files Deleted Per Day')?.targets[0]?.expr).toContain('lethe_files_deleted_total');
    const failure = byTitle.get('Failure Rate')!;
    expect(failure.type).toBe('gauge');
    expect(failure.targets[0]?.expr).toContain('lethe_failure_ratio_last_24h');
    expect(failure.fieldConfig.defaults.thresholds.steps.map((s: { value: number | null }) => s.value)).toContain(0.05);
    expect(byTitle.get('Cleanup Duration')?.targets[0]?.expr).toContain('lethe_run_duration_seconds_bucket');
    const last = byTitle.get('Last Run Time')!;
    expect(last.type).toBe('stat');
    expect(last.targets[0]?.expr).toContain('lethe_last_run_timestamp_seconds');
  });

  it('every metric it queries is one the service exposes', () => {
    for (const p of dashboard.panels) for (const t of p.targets) for (const m of metricsIn(t.expr)) expect(exposed, `${p.title}: ${m}`).toContain(m);
  });

  it('the CPU and Memory panel shows a process only while a run is in progress (== 1: the gauge is also exposed at 0)', () => {
    const panel = dashboard.panels.find((p) => p.title === 'CPU and Memory')!;
    expect(panel.targets).toHaveLength(2);
    for (const t of panel.targets) expect(t.expr).toMatch(/\band on\(job, instance\) lethe_run_in_progress == 1$/);
  });

  it.skipIf(!promtool)('the CPU and Memory queries are empty while idle and show the process during a run (promtool)', async () => {
    const panel = dashboard.panels.find((p) => p.title === 'CPU and Memory')!;
    const memory = panel.targets.find((t) => t.expr.startsWith('process_resident_memory_bytes'))!.expr;
    const dir = await mkdtemp(join(tmpdir(), 'lethe-dash-cpu-'));
    try {
      const series = `{job="lethe",instance="a:8080"}`;
      await writeFile(
        join(dir, 'test.yml'),
        [
          'evaluation_interval: 1m',
          'tests:',
          '  - interval: 1m',
          '    input_series:',
          `      - series: 'process_resident_memory_bytes${series}'`,
          `        values: '100x20'`,
          `      - series: 'lethe_run_in_progress${series}'`,
          `        values: '0x9 1x10'`,
          '    promql_expr_test:',
          `      - expr: ${JSON.stringify(memory)}`,
          '        eval_time: 5m',
          '        exp_samples: []',
          `      - expr: ${JSON.stringify(memory)}`,
          '        eval_time: 15m',
          '        exp_samples:',
          `          - labels: 'process_resident_memory_bytes${series}'`,
          '            value: 100',
          '',
        ].join('\n'),
      );
      const r = runPromtool(['test', 'rules', join(dir, 'test.yml')]);
      expect(r.output).toMatch(/SUCCESS/);
      expect(r.status).toBe(0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it.skipIf(!promtool)('Files Deleted Per Day counts a deletion once however many replicas expose the database totals (promtool)', async () => {
    const expr = dashboard.panels.find((p) => p.title === 'Files Deleted Per Day')!.targets[0]!.expr;
    const dir = await mkdtemp(join(tmpdir(), 'lethe-dash-deleted-'));
    try {
      // Two daemon replicas and a `lethe serve`: the same cumulative totals (lethe_runs), 10 + 2 erased and 3 absent in a day.
      const lines = ['evaluation_interval: 1m', 'tests:', '  - interval: 1h', '    input_series:'];
      for (const instance of ['a:8080', 'b:8080', 'serve:8080']) {
        lines.push(
          `      - series: 'lethe_files_deleted_total{job="lethe",instance="${instance}",purpose="General",outcome="erased"}'`,
          `        values: '100+0x12 112+0x12'`,
        );
        lines.push(
          `      - series: 'lethe_files_deleted_total{job="lethe",instance="${instance}",purpose="General",outcome="absent"}'`,
          `        values: '7+0x12 10+0x12'`,
        );
      }
      lines.push(
        '    promql_expr_test:',
        `      - expr: ${JSON.stringify(expr)}`,
        '        eval_time: 24h',
        '        exp_samples:',
        `          - labels: '{purpose="General"}'`,
        '            value: 15',
        '',
      );
      await writeFile(join(dir, 'test.yml'), lines.join('\n'));
      const r = runPromtool(['test', 'rules', join(dir, 'test.yml')]);
      expect(r.output).toMatch(/SUCCESS/);
      expect(r.status).toBe(0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it.skipIf(!promtool)('every query is valid PromQL (promtool)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'lethe-dash-'));
    try {
      const rules = dashboard.panels.flatMap((p, i) =>
        p.targets.map((t, j) => `      - record: lethe:dashboard_${i}_${j}\n        expr: ${JSON.stringify(t.expr.replaceAll('$__range', '1d'))}\n`),
      );
      await writeFile(join(dir, 'rules.yml'), `groups:\n  - name: dashboard\n    rules:\n${rules.join('')}`);
      const r = runPromtool(['check', 'rules', join(dir, 'rules.yml')]);
      expect(r.output).toMatch(/SUCCESS/);
      expect(r.status).toBe(0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('deploy/prometheus/lethe-alerts.yml', () => {
  it('has the runbook alerts, on metrics the service exposes', async () => {
    const text = await readFile(ALERTS, 'utf8');
    for (const name of [
      'Cleanup_Not_Running',
      'Cleanup_High_Failure_Rate',
      'Cleanup_Next_Run_In_Past',
      'Cleanup_Failed_Last_24h',
      'Cleanup_Unhealthy',
      'Cleanup_High_CPU',
    ]) {
      expect(text).toMatch(new RegExp(`- alert: ${name}\\n`));
    }
    expect(alertExprs.length).toBeGreaterThanOrEqual(6);
    for (const e of alertExprs) for (const m of metricsIn(e)) expect(exposed, `${e}: ${m}`).toContain(m);
  });

  it.skipIf(!promtool)('passes promtool check rules', () => {
    const r = runPromtool(['check', 'rules', ALERTS]);
    expect(r.output).toMatch(/SUCCESS: \d+ rules found/);
    expect(r.status).toBe(0);
  });

  it.skipIf(!promtool)('fires when it should and only then (promtool test rules)', () => {
    const r = runPromtool(['test', 'rules', ALERT_TESTS]);
    expect(r.output).toMatch(/SUCCESS/);
    expect(r.status).toBe(0);
  });
});
