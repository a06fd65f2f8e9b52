import type { BlastRadiusCheck } from '../run/plan/blast-radius.js';
import type { Engine } from '../engine.js';
import { ConfigError, ErrorCodes } from '../errors.js';
import { inspectJobsTable } from '../db/jobs-table.js';
import { loadCurrentPolicies } from '../db/tables/policy-versions.js';
import { previewBlastRadius } from '../run/plan/guards.js';
import { databaseNow, policySelections } from './plan.js';

export interface RunPreview {
  readonly cutoff: string;
  /** Expired rows a real run started now would take (capped by `limit`). */
  readonly expired: number;
  /** The guard's verdict on a real run now; null when no threshold applies (no cap, no runs yet). */
  readonly blastRadius: BlastRadiusCheck | null;
  /** True when a real run now would be refused by the blast-radius guard (without --allow-large). */
  readonly wouldBeRefused: boolean;
}

/**
 * What a real run started now would meet, judged by the same count and guard as the run, without
 * refusing, pausing or writing anything: a dry run's warning and a backlog run's announcement
 * (runbook OP-001). The run judges again when it starts; this is a forecast, not a pass.
 */
export async function previewRun(engine: Engine, o: { readonly purposes?: readonly string[]; readonly limit?: number } = {}): Promise<RunPreview> {
  const { pool, options } = engine;
  const current = await loadCurrentPolicies(pool);
  const known = Object.keys(current.policies);
  for (const p of o.purposes ?? []) {
    if (!known.includes(p))
      throw new ConfigError(
        `purpose: unknown purpose ${JSON.stringify(p)}; expected one of ${known.map((k) => JSON.stringify(k)).join(', ')}`,
        ErrorCodes.POLICY_UNKNOWN,
      );
  }
  const selected = policySelections(current.policies).filter((s) => !o.purposes || o.purposes.includes(s.purpose));
  const table = await inspectJobsTable(pool, options.jobs);
  const cutoff = await databaseNow(pool);
  const check = await previewBlastRadius(pool, options, table, selected, cutoff, o.limit);
  const blastRadius = check.blastRadius;
  return { cutoff, expired: check.estimate ?? 0, blastRadius, wouldBeRefused: blastRadius !== null && !blastRadius.allowed };
}
