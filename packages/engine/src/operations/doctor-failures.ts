import { execFile } from 'node:child_process';
import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Engine } from '../engine.js';
import { inspectJobsTable } from '../db/jobs-table.js';
import type { DoctorCheck } from './doctor-checks.js';
import { fixForCode } from './failure-fixes.js';

/**
 * `lethe doctor`'s look at the recent runs (runbook FM-002): the last 24 h of failed deletions
 * whose row is still there (so the file is still to erase), by error code, with a sample key; on
 * file storage, the directory each sample failed in is probed (exists? writable by this process?
 * immutable?). Without it doctor said "All checks passed" through 301 EPERM failures: every
 * preflight check passes when only some directories refuse.
 */
export const RECENT_FAILURES_WINDOW = '24 hours';

export interface DirectoryProbe {
  readonly path: string;
  readonly exists: boolean;
  /** Writable and searchable by this process (access W_OK|X_OK), null when it does not exist. */
  readonly writable: boolean | null;
  /** `lsattr -d` shows the immutable (i) or append-only (a) flag; null when it could not be read. */
  readonly immutable: boolean | null;
}

export interface FailureGroup {
  readonly code: string | null;
  readonly count: number;
  readonly files: number;
  readonly sample_key: string;
  readonly sample_message: string | null;
  readonly fix: string;
  readonly directory?: DirectoryProbe;
}

type Outcome = Omit<DoctorCheck, 'name' | 'ms'>;

export async function recentFailures(engine: Engine): Promise<Outcome> {
  const t = await inspectJobsTable(engine.pool, engine.options.jobs);
  // The sample key comes from the row (the ledger may hold only a keyed hash, HMAC mode).
  const { rows } = await engine.pool.query<{ code: string | null; n: number; files: number; runs: number; sample: string; message: string | null }>(
    `SELECT l.error_code AS code, count(*)::int AS n, count(DISTINCT l.job_id)::int AS files, count(DISTINCT l.run_id)::int AS runs,
            (array_agg(j.${t.fileKey}::text ORDER BY l.id DESC))[1] AS sample, (array_agg(l.error ORDER BY l.id DESC))[1] AS message
       FROM lethe_ledger l JOIN ${t.table} j ON j.${t.id}::text = l.job_id
      WHERE l.outcome = 'failed' AND l.erased_at > now() - interval '${RECENT_FAILURES_WINDOW}'
      GROUP BY l.error_code ORDER BY count(*) DESC, l.error_code`,
  );
  if (rows.length === 0)
    return {
      status: 'ok',
      message: `no failed deletion in the last ${RECENT_FAILURES_WINDOW} still waiting`,
      details: { window: RECENT_FAILURES_WINDOW, failures: [] },
    };
  const root = fileRoot(engine);
  const groups: FailureGroup[] = [];
  for (const r of rows) {
    const directory = root === null ? undefined : await probeDirectory(join(root, dirname(r.sample)));
    groups.push({
      code: r.code,
      count: r.n,
      files: r.files,
      sample_key: r.sample,
      sample_message: r.message,
      fix: fixForCode(r.code),
      ...(directory ? { directory } : {}),
    });
  }
  const blocked = groups.some((g) => g.directory && (!g.directory.exists || g.directory.writable === false || g.directory.immutable === true));
  const total = rows.reduce((a, r) => a + r.n, 0);
  const parts = groups.map(
    (g) => `${g.code ?? 'no code'} x${g.count} (e.g. ${JSON.stringify(g.sample_key)}${g.directory ? `; ${describeProbe(g.directory)}` : ''}) -> fix: ${g.fix}`,
  );
  return {
    status: blocked ? 'fail' : 'warn',
    message: `${total} failed deletion${total === 1 ? '' : 's'} in the last ${RECENT_FAILURES_WINDOW} whose rows are still there: ${parts.join('; ')}`,
    details: { window: RECENT_FAILURES_WINDOW, failures: groups },
  };
}

function describeProbe(d: DirectoryProbe): string {
  if (!d.exists) return `directory ${d.path} does not exist`;
  const flags = [
    d.writable === false ? 'NOT writable by this process' : d.writable ? 'writable by this process' : null,
    d.immutable ? 'IMMUTABLE (chattr +i or +a)' : null,
  ].filter((x) => x !== null);
  return `directory ${d.path}: ${flags.join(', ')}`;
}

function fileRoot(engine: Engine): string | null {
  const s = engine.options.storage;
  return s !== null && !('deleteMany' in s) && s.kind === 'file' ? s.root : null;
}

async function probeDirectory(path: string): Promise<DirectoryProbe> {
  const info = await stat(path).catch(() => null);
  if (!info) return { path, exists: false, writable: null, immutable: null };
  const writable = await access(path, constants.W_OK | constants.X_OK).then(
    () => true,
    () => false,
  );
  return { path, exists: true, writable, immutable: await immutableFlag(path) };
}

/** The immutable / append-only flags, as `lsattr -d` prints them (`----i---------e----- dir`). */
function immutableFlag(path: string): Promise<boolean | null> {
  return new Promise((resolve) => {
    execFile('lsattr', ['-d', path], { timeout: 2000 }, (error, stdout) => {
      if (error) return resolve(null);
      const flags = stdout.trim().split(/\s+/)[0] ?? '';
      resolve(/[ia]/.test(flags));
    });
  });
}
