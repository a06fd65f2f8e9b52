/**
 * The benchmark regression guard (docs/performance.md#the-ci-guard-pnpm-benchci): short versions of every suite, each reduced to a ratio
 * of two things measured in the same run (never an absolute time), compared with the committed
 * thresholds in bench/thresholds.json. Prints a table; exits 1 when a ratio is on the wrong side of
 * its threshold or a suite failed, 0 otherwise.
 *
 *   pnpm bench:ci                      (builds, then UV_THREADPOOL_SIZE=16 node --import tsx bench/ci.ts)
 *   pnpm bench:ci -- --only fs,memory  (some suites; the others are reported as not run)
 *
 * The S3 suite needs an S3 server (LETHE_TEST_S3_ENDPOINT, or moto_server on PATH). Without one it
 * is skipped with the reason, except under CI=true, where that is a failure (as for the S3 tests).
 * Figures also go to bench/results/ci-<time>.json (ignored by git). Sizes are chosen so the whole
 * guard takes about two minutes on a 2-core machine; docs/performance.md has the figures behind the
 * thresholds.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { s3Availability } from '../test/support/s3-server.js';
import { runFsBench } from './fs-end-to-end.bench.js';
import { runMemoryBench } from './memory.bench.js';
import { runOldMethodBench } from './old-method.bench.js';
import { runPeersFsBench } from './peers.bench.js';
import { runS3Bench } from './s3-end-to-end.bench.js';
import { runSelectionBench } from './selection.bench.js';

interface Threshold {
  /** The ratio must be at least this... */
  readonly min?: number;
  /** ...or at most this. */
  readonly max?: number;
  /** The goal (docs/performance.md#summary), for the table (the threshold sits below it, to leave room for noise). */
  readonly goal?: string;
}

interface Suite {
  readonly name: string;
  /** Why the suite cannot run here, or null. */
  readonly unavailable?: () => string | null;
  /** Ratios by metric; a string instead of a ratio says why that metric was skipped (a peer tool missing). */
  readonly run: (log: (line: string) => void) => Promise<Record<string, number | string>>;
}

/** Short versions: sizes that keep each ratio meaningful while the whole guard stays near two minutes. */
const SUITES: readonly Suite[] = [
  {
    name: 'fs',
    run: async (log) => {
      const r = await runFsBench(10_000, 3, log);
      return { 'fs.ratio': r.ratio };
    },
  },
  {
    name: 'peers',
    run: async (log) => {
      // The CLI process as users run it, start included (docs/performance.md#peers). A side whose
      // tool is missing is skipped, with the reason (apt-get install -y findutils rclone).
      const r = await runPeersFsBench(15_000, 2, 100, log);
      const ratio = (side: 'bare' | 'find' | 'rclone'): number | string => r.letheVs[side] ?? r.skipped[side] ?? 'not measured';
      return {
        'peers.vsBare': ratio('bare'),
        'peers.vsFind': ratio('find'),
        'peers.vsRclone': ratio('rclone'),
        'peers.emptyRunVsNodeStart': r.emptyRunSeconds / r.nodeStartSeconds,
      };
    },
  },
  {
    name: 'selection',
    run: async (log) => {
      const r = await runSelectionBench(1_000_000, 3, 0.01, log);
      return { 'selection.emptyRatio': r.emptyRatio, 'selection.expiredRatio': r.expiredRatio };
    },
  },
  {
    name: 'memory',
    run: async (log) => {
      // 100k rows: past the warm-up (a 40k run ends before the heap reaches its steady size, which made the ratio swing).
      const r = await runMemoryBench(100_000, 500_000, 2, log);
      return { 'memory.ratio': r.ratio, 'memory.growthRatio': r.growthRatio };
    },
  },
  {
    name: 'oldMethod',
    run: async (log) => {
      const r = await runOldMethodBench(200, 5000, 2, log);
      return { 'oldMethod.speedup': r.speedup };
    },
  },
  {
    name: 's3',
    unavailable: () => {
      const a = s3Availability();
      return a.ok ? null : a.reason;
    },
    run: async (log) => {
      const r = await runS3Bench(2000, 2, 200, log);
      return { 's3.vsCeiling': r.letheKeysPerSecond / r.ceilingKeysPerSecond, 's3.vsPerObject': r.letheKeysPerSecond / r.perObjectKeysPerSecond };
    },
  },
];

interface Row {
  readonly metric: string;
  readonly value: number | null;
  readonly threshold: string;
  readonly goal: string;
  readonly verdict: 'ok' | 'FAIL' | 'skipped' | 'not run';
  readonly note?: string;
}

function judge(metric: string, value: number, t: Threshold | undefined): Row {
  if (!t) return { metric, value, threshold: '(none)', goal: '', verdict: 'FAIL', note: 'no threshold in bench/thresholds.json' };
  const ok = (t.min === undefined || value >= t.min) && (t.max === undefined || value <= t.max);
  const threshold = [t.min === undefined ? '' : `>= ${t.min}`, t.max === undefined ? '' : `<= ${t.max}`].filter(Boolean).join(' and ');
  return { metric, value, threshold, goal: t.goal ?? '', verdict: ok ? 'ok' : 'FAIL' };
}

function table(rows: readonly Row[]): string {
  const cells = [
    ['metric', 'measured', 'threshold', 'goal', 'result'],
    ...rows.map((r) => [r.metric, r.value === null ? '-' : r.value.toFixed(3), r.threshold, r.goal, r.note ? `${r.verdict} (${r.note})` : r.verdict]),
  ];
  const widths = cells[0]!.map((_, i) => Math.max(...cells.map((c) => c[i]!.length)));
  return cells
    .map((c) =>
      c
        .map((v, i) => v.padEnd(widths[i]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

const load = (): string =>
  loadavg()
    .map((l) => l.toFixed(1))
    .join(' ');

/** One suite's rows: its ratios judged, or why it was skipped, not run or failed. */
async function runSuite(suite: Suite, thresholds: Readonly<Record<string, Threshold>>, only: ReadonlySet<string> | null): Promise<Row[]> {
  const metrics = Object.keys(thresholds).filter((k) => k.startsWith(`${suite.name}.`));
  const unmeasured = (verdict: Row['verdict'], note: string): Row[] =>
    metrics.map((metric) => ({ metric, value: null, threshold: '', goal: '', verdict, note }));
  if (only && !only.has(suite.name)) return unmeasured('not run', '--only');
  const reason = suite.unavailable?.() ?? null;
  if (reason !== null) {
    const required = process.env.CI === 'true';
    console.log(`[bench:ci] ${required ? 'FAILING' : 'skipping'} ${suite.name}: ${reason}${required ? ' (required under CI=true)' : ''}`);
    return unmeasured(required ? 'FAIL' : 'skipped', reason);
  }
  console.log(`\n[bench:ci] ${suite.name} (load average ${load()})`);
  try {
    const figures = await suite.run((line) => console.log(`  ${line}`));
    const rows = Object.entries(figures).map(([metric, value]): Row =>
      typeof value === 'string'
        ? { metric, value: null, threshold: '', goal: thresholds[metric]?.goal ?? '', verdict: 'skipped', note: value }
        : judge(metric, value, thresholds[metric]),
    );
    // A threshold whose ratio the suite did not report is a failure, not a silent pass.
    for (const m of metrics)
      if (!(m in figures)) rows.push({ metric: m, value: null, threshold: '', goal: '', verdict: 'FAIL', note: 'not reported by the suite' });
    return rows;
  } catch (error) {
    console.error(`[bench:ci] ${suite.name} failed:`, error);
    return unmeasured('FAIL', `suite failed: ${(error as Error).message}`);
  }
}

async function main(): Promise<number> {
  // The pinned AWS SDK warns once per thread that later releases need Node 22 (docs/storage-s3.md):
  // known, and a dozen copies would bury the figures. Worker threads copy this environment.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const at = process.argv.indexOf('--only');
  const only = at >= 0 ? new Set((process.argv[at + 1] ?? '').split(',').filter(Boolean)) : null;
  const thresholds = JSON.parse(await readFile(new URL('./thresholds.json', import.meta.url), 'utf8')) as Record<string, Threshold>;
  if (!process.env.UV_THREADPOOL_SIZE) console.warn('[bench:ci] UV_THREADPOOL_SIZE is unset (the lethe launcher sets 16); pnpm bench:ci sets it');
  console.log(`[bench:ci] ${new Date().toISOString()}, load average ${load()}, UV_THREADPOOL_SIZE=${process.env.UV_THREADPOOL_SIZE ?? 'unset'}`);
  const rows: Row[] = [];
  const started = performance.now();
  const timings: Record<string, number> = {};
  for (const suite of SUITES) {
    const t = performance.now();
    const suiteRows = await runSuite(suite, thresholds, only);
    rows.push(...suiteRows);
    if (suiteRows.some((r) => r.value !== null || r.note?.startsWith('suite failed'))) {
      timings[suite.name] = (performance.now() - t) / 1000;
      console.log(`[bench:ci] ${suite.name} took ${timings[suite.name]!.toFixed(0)} s`);
    }
  }
  const totalSeconds = (performance.now() - started) / 1000;
  console.log(`\n${table(rows)}\n`);
  const ran = Object.entries(timings)
    .map(([k, v]) => `${k} ${v.toFixed(0)} s`)
    .join(', ');
  console.log(`[bench:ci] ${totalSeconds.toFixed(0)} s in all${ran ? ` (${ran})` : ', no suite ran'}; load average ${load()}`);
  await mkdir(new URL('./results/', import.meta.url), { recursive: true });
  const file = new URL(`./results/ci-${new Date().toISOString().replace(/[:.]/g, '-')}.json`, import.meta.url);
  await writeFile(file, `${JSON.stringify({ at: new Date().toISOString(), loadavg: loadavg(), totalSeconds, timings, rows }, null, 2)}\n`);
  const failed = rows.filter((r) => r.verdict === 'FAIL');
  console.log(
    failed.length === 0 ? '[bench:ci] every ratio is within its threshold' : `[bench:ci] ${failed.length} failing: ${failed.map((r) => r.metric).join(', ')}`,
  );
  return failed.length === 0 ? 0 : 1;
}

process.exitCode = await main();
