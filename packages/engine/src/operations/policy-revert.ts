import { AuditActions, writeAudit } from '../db/tables/audit.js';
import { withTransaction } from '../db/pool.js';
import type { Engine } from '../engine.js';
import { ConfigError } from '../errors.js';
import { inspectJobsTable } from '../db/jobs-table.js';
import { retentionApproxMs, retentionToInterval, type Retention } from '../policy/retention.js';
import { listPolicyVersions, loadCurrentPolicies, loadPolicyVersion, savePolicyVersion } from '../db/tables/policy-versions.js';
import { databaseNow } from './plan.js';
import { countNewlyExpired, POLICY_LOCK_KEY } from './policies.js';

/**
 * `lethe policies revert <version>` (runbook FM-003 "fix the policy"): the policies of an
 * earlier version become a new version, like any other change (DESIGN "Policies"), with its
 * `cleanup_policy_changed` audit row naming the version reverted to. The `set` rule holds: when
 * the revert shortens any retention (or gives a purpose a policy it did not have), it reports the
 * rows that become expired at once and saves nothing without `confirm`.
 */
export interface PolicyRevertRequest {
  readonly version: number;
  readonly by: string;
  readonly reason?: string | null;
  readonly confirm?: boolean;
}

export interface PolicyRevertChange {
  readonly purpose: string;
  readonly from: string | null;
  readonly to: string | null;
  readonly shortening: boolean;
  readonly newly_expired_rows: number;
  readonly newly_expired_files: number;
}

export interface PolicyRevertResult {
  readonly revert_to: number;
  readonly previous_version: number;
  /** The version in force afterwards (the new one when applied). */
  readonly version: number;
  readonly changes: readonly PolicyRevertChange[];
  readonly unchanged: boolean;
  readonly shortening: boolean;
  readonly newly_expired_rows: number;
  readonly newly_expired_files: number;
  readonly needs_confirm: boolean;
  readonly applied: boolean;
  readonly checked_at: string;
}

/** A purpose that gains a policy: every row it makes expired counts, as from "kept forever". */
const FOREVER: Retention = { amount: 100, unit: 'year' };

export async function revertPolicy(engine: Engine, req: PolicyRevertRequest): Promise<PolicyRevertResult> {
  if (!Number.isInteger(req.version) || req.version < 1)
    throw new ConfigError(`version: expected a policy version number like 2, got ${JSON.stringify(req.version)}`);
  if (typeof req.by !== 'string' || req.by.trim() === '') throw new ConfigError('by: a policy change needs the identity of who made it');
  const table = await inspectJobsTable(engine.pool, engine.options.jobs);
  return withTransaction(engine.pool, async (client) => {
    await client.query('SELECT pg_advisory_xact_lock($1)', [POLICY_LOCK_KEY]);
    const target = await loadPolicyVersion(client, req.version);
    if (!target) {
      const latest = (await listPolicyVersions(client, 1))[0]?.version ?? 0;
      throw new ConfigError(`version: there is no policy version ${req.version} (versions are 1 to ${latest}; see \`lethe policies history\`)`);
    }
    const current = await loadCurrentPolicies(client);
    const now = await databaseNow(client);
    const changes: PolicyRevertChange[] = [];
    for (const purpose of [...new Set([...Object.keys(current.policies), ...Object.keys(target.policies)])].sort()) {
      const from = current.policies[purpose];
      const to = target.policies[purpose];
      const fromText = from ? retentionToInterval(from) : null;
      const toText = to ? retentionToInterval(to) : null;
      if (fromText === toText) continue;
      // Removing a purpose's policy never deletes: its rows become "never judged".
      const shortening = to !== undefined && (from === undefined || retentionApproxMs(to) < retentionApproxMs(from));
      const newly = shortening ? await countNewlyExpired(client, table, purpose, from ?? FOREVER, to!, now) : { rows: 0, files: 0 };
      changes.push({ purpose, from: fromText, to: toText, shortening, newly_expired_rows: newly.rows, newly_expired_files: newly.files });
    }
    const shortening = changes.some((c) => c.shortening);
    const base = {
      revert_to: target.version,
      previous_version: current.version,
      changes,
      unchanged: changes.length === 0,
      shortening,
      newly_expired_rows: changes.reduce((n, c) => n + c.newly_expired_rows, 0),
      newly_expired_files: changes.reduce((n, c) => n + c.newly_expired_files, 0),
      checked_at: now,
    };
    if (changes.length === 0 || (shortening && req.confirm !== true)) {
      return { ...base, needs_confirm: changes.length > 0, applied: false, version: current.version };
    }
    const reason = req.reason ?? `revert to policy version ${target.version}`;
    const version = await savePolicyVersion(client, target.policies, req.by, reason);
    await writeAudit(client, AuditActions.POLICY_CHANGED, {
      by: req.by,
      reason,
      revert_to: target.version,
      version,
      previous_version: current.version,
      changes,
      shortening,
      newly_expired_rows: base.newly_expired_rows,
      newly_expired_files: base.newly_expired_files,
      confirmed: req.confirm === true,
    });
    return { ...base, needs_confirm: false, applied: true, version };
  });
}
