import { AuditActions, writeAudit } from '../db/tables/audit.js';
import { withTransaction, type Queryable } from '../db/pool.js';
import type { Engine } from '../engine.js';
import { ConfigError, ErrorCodes } from '../errors.js';
import { inspectJobsTable, type JobsTable } from '../db/jobs-table.js';
import {
  isCalendarRetention,
  parsePolicies,
  parseRetention,
  policiesToJson,
  retainedUnderOf,
  retentionApproxMs,
  retentionToInterval,
  type Retention,
} from '../policy/retention.js';
import { listPolicyVersions, loadCurrentPolicies, savePolicyVersion, type PolicyVersion } from '../db/tables/policy-versions.js';
import { databaseNow } from './plan.js';

/**
 * Retention policies as operators change them (`lethe policies`, `lethe policies set`). The
 * database holds every version (DESIGN "Policies"); a change is a new version, written with its
 * `audit_logs` row (`cleanup_policy_changed`) in one transaction. A change that shortens a
 * retention makes older rows expired at once, so it reports how many and needs a confirmation.
 */

/** Serialises policy changes: each is computed against the version it replaces. */
export const POLICY_LOCK_KEY = 0x4c455448_00000003n.toString(); // "LETH" + 3

export interface PolicyChangeLine {
  readonly purpose: string;
  /** null: the purpose was added by this version. */
  readonly from: string | null;
  /** null: the purpose was removed by this version. */
  readonly to: string | null;
}

export interface PolicyVersionView {
  readonly version: number;
  readonly created_at: string;
  readonly created_by: string;
  readonly reason: string | null;
  readonly policies: Readonly<Record<string, string>>;
  /** Purposes with a retention duty, and the statute (docs/rights.md#retained-under). */
  readonly retained_under: Readonly<Record<string, string>>;
  /** What this version changed against the one before it (empty for the first). */
  readonly changes: readonly PolicyChangeLine[];
}

export interface PoliciesOverview {
  readonly current: PolicyVersionView;
  /** Newest first. */
  readonly versions: readonly PolicyVersionView[];
}

export async function showPolicies(engine: Engine, limit = 20): Promise<PoliciesOverview> {
  // One more than shown, so the oldest shown version's changes can be computed.
  const versions = await listPolicyVersions(engine.pool, limit + 1);
  if (versions.length === 0) await loadCurrentPolicies(engine.pool); // throws the "run lethe migrate" error
  const views = versions.slice(0, limit).map((v, i) => versionView(v, versions[i + 1] ?? null));
  return { current: views[0]!, versions: views };
}

function versionView(v: PolicyVersion, previous: PolicyVersion | null): PolicyVersionView {
  const now = policiesToJson(v.policies);
  const before = previous ? policiesToJson(previous.policies) : null;
  const changes: PolicyChangeLine[] = [];
  if (before) {
    for (const purpose of new Set([...Object.keys(before), ...Object.keys(now)])) {
      if (before[purpose] !== now[purpose]) changes.push({ purpose, from: before[purpose] ?? null, to: now[purpose] ?? null });
    }
  }
  return {
    version: v.version,
    created_at: v.createdAt,
    created_by: v.createdBy,
    reason: v.reason,
    policies: sortedPolicies(v),
    retained_under: Object.fromEntries(retainedUnderOf(v.policies)),
    changes,
  };
}

/** Shortest retention first, as the runbook's table lists them. */
function sortedPolicies(v: PolicyVersion): Record<string, string> {
  const entries = Object.entries(v.policies).sort(([a, ra], [b, rb]) => retentionApproxMs(ra) - retentionApproxMs(rb) || a.localeCompare(b));
  return Object.fromEntries(entries.map(([p, r]) => [p, retentionToInterval(r)]));
}

export interface PolicyChangeRequest {
  readonly purpose: string;
  /** A duration like `30d`, `24h`, `1y`, `6 months`. */
  readonly duration: string;
  readonly by: string;
  readonly reason?: string | null;
  /** Required when the change shortens a retention. */
  readonly confirm?: boolean;
}

export interface PolicyChangeResult {
  readonly purpose: string;
  readonly from: string;
  readonly to: string;
  readonly unchanged: boolean;
  readonly shortening: boolean;
  /** Rows that are not expired under the current retention and would be under the new one. */
  readonly newly_expired_rows: number;
  readonly newly_expired_files: number;
  /** A shortening without `confirm`: nothing was saved. */
  readonly needs_confirm: boolean;
  readonly applied: boolean;
  /** The version now in force (the new one when applied). */
  readonly version: number;
  readonly previous_version: number;
  readonly checked_at: string;
}

/** What a change would do, without saving it. */
export async function previewPolicyChange(engine: Engine, purpose: string, duration: string): Promise<PolicyChangeResult> {
  return setPolicy(engine, { purpose, duration, by: 'preview', confirm: false }, { dryRun: true });
}

export async function setPolicy(engine: Engine, req: PolicyChangeRequest, o: { readonly dryRun?: boolean } = {}): Promise<PolicyChangeResult> {
  const next = parseRetention(req.duration, 'duration');
  if (typeof req.by !== 'string' || req.by.trim() === '') throw new ConfigError('by: a policy change needs the identity of who made it');
  const table = await inspectJobsTable(engine.pool, engine.options.jobs);
  return withTransaction(engine.pool, async (client) => {
    await client.query('SELECT pg_advisory_xact_lock($1)', [POLICY_LOCK_KEY]);
    const current = await loadCurrentPolicies(client);
    const before = current.policies[req.purpose];
    if (before === undefined) {
      const known = Object.keys(current.policies)
        .map((k) => JSON.stringify(k))
        .join(', ');
      throw new ConfigError(`purpose: unknown purpose ${JSON.stringify(req.purpose)}; expected one of ${known}`, ErrorCodes.POLICY_UNKNOWN);
    }
    const from = retentionToInterval(before);
    const to = retentionToInterval(next);
    const now = await databaseNow(client);
    const shortening = retentionApproxMs(next) < retentionApproxMs(before);
    const newly = shortening ? await countNewlyExpired(client, table, req.purpose, before, next, now) : { rows: 0, files: 0 };
    const base = {
      purpose: req.purpose,
      from,
      to,
      unchanged: from === to,
      shortening,
      newly_expired_rows: newly.rows,
      newly_expired_files: newly.files,
      previous_version: current.version,
      checked_at: now,
    };
    if (from === to || o.dryRun === true || (shortening && req.confirm !== true)) {
      return { ...base, needs_confirm: from !== to && shortening && req.confirm !== true, applied: false, version: current.version };
    }
    const reason = req.reason ?? null;
    // A retention change keeps the purpose's retention duty (docs/rights.md#retained-under).
    const kept = before.retainedUnder ? { ...next, retainedUnder: before.retainedUnder } : next;
    const version = await savePolicyVersion(client, { ...current.policies, [req.purpose]: kept }, req.by, reason);
    await writeAudit(client, AuditActions.POLICY_CHANGED, {
      by: req.by,
      reason,
      purpose: req.purpose,
      from,
      to,
      version,
      previous_version: current.version,
      shortening,
      newly_expired_rows: newly.rows,
      newly_expired_files: newly.files,
      confirmed: req.confirm === true,
    });
    return { ...base, needs_confirm: false, applied: true, version };
  });
}

/**
 * Rows expired under `next` but not under `before`, at `now`: served by the (purpose_code,
 * created_at) index over the range the shorter retention adds.
 */
export async function countNewlyExpired(
  db: Queryable,
  t: JobsTable,
  purpose: string,
  before: Retention,
  next: Retention,
  now: string,
): Promise<{ rows: number; files: number }> {
  const slack = isCalendarRetention(next) || isCalendarRetention(before) ? '3 days' : '0';
  const { rows } = await db.query<{ rows: string; files: string }>(
    `SELECT count(*) AS rows, count(DISTINCT j.${t.fileKey}) AS files
       FROM ${t.table} j
      WHERE j.${t.purpose} = $1
        AND j.${t.createdAt} < ${t.toColumnTime(`$4::timestamptz - $3::interval + $5::interval`)}
        AND j.${t.createdAt} >= ${t.toColumnTime(`$4::timestamptz - $2::interval - $5::interval`)}
        AND j.${t.createdAt} + $3::interval < ${t.toColumnTime('$4::timestamptz')}
        AND j.${t.createdAt} + $2::interval >= ${t.toColumnTime('$4::timestamptz')}`,
    [purpose, retentionToInterval(before), retentionToInterval(next), now, slack],
  );
  return { rows: Number(rows[0]?.rows ?? 0), files: Number(rows[0]?.files ?? 0) };
}

export interface RetainedUnderChange {
  readonly purpose: string;
  /** The statute, or null to remove the purpose's retention duty. */
  readonly statute: string | null;
  readonly by: string;
  readonly reason?: string | null;
}

export interface RetainedUnderResult {
  readonly purpose: string;
  readonly from: string | null;
  readonly to: string | null;
  readonly applied: boolean;
  readonly version: number;
}

/**
 * Sets or removes a purpose's retention duty (docs/rights.md#retained-under): a new policy version
 * and a `cleanup_policy_changed` audit row, like a retention change. The retention is unchanged,
 * so no row becomes expired; erasure requests refuse (or stop refusing) that purpose's rows.
 */
export async function setRetainedUnder(engine: Engine, req: RetainedUnderChange): Promise<RetainedUnderResult> {
  if (typeof req.by !== 'string' || req.by.trim() === '') throw new ConfigError('by: a policy change needs the identity of who made it');
  return withTransaction(engine.pool, async (client) => {
    await client.query('SELECT pg_advisory_xact_lock($1)', [POLICY_LOCK_KEY]);
    const current = await loadCurrentPolicies(client);
    const before = current.policies[req.purpose];
    if (before === undefined) {
      const known = Object.keys(current.policies)
        .map((k) => JSON.stringify(k))
        .join(', ');
      throw new ConfigError(`purpose: unknown purpose ${JSON.stringify(req.purpose)}; expected one of ${known}`, ErrorCodes.POLICY_UNKNOWN);
    }
    const { retainedUnder: _old, ...plain } = before;
    // Validated as a config entry would be (same message, same bounds).
    const next: Retention =
      req.statute === null ? plain : parsePolicies({ [req.purpose]: { retention: retentionToInterval(before), retainedUnder: req.statute } })[req.purpose]!;
    const from = before.retainedUnder ?? null;
    const to = next.retainedUnder ?? null;
    if (from === to) return { purpose: req.purpose, from, to, applied: false, version: current.version };
    const reason = req.reason ?? null;
    const version = await savePolicyVersion(client, { ...current.policies, [req.purpose]: next }, req.by, reason);
    await writeAudit(client, AuditActions.POLICY_CHANGED, {
      by: req.by,
      reason,
      purpose: req.purpose,
      retained_under_from: from,
      retained_under_to: to,
      version,
      previous_version: current.version,
    });
    return { purpose: req.purpose, from, to, applied: true, version };
  });
}
