import type { Command } from 'commander';
import {
  revertPolicy,
  setPolicy,
  setRetainedUnder,
  showPolicies,
  type PoliciesOverview,
  type PolicyChangeResult,
  type PolicyRevertResult,
} from '@lethe/engine/operations';
import { addActorOption, defaultActor } from '../actor.js';
import { ExitCode, printJson, printLines, UsageError } from '../output.js';
import type { CommandContext } from '../program.js';
import { plural, table, time } from '../render/format.js';
import { addConnectionOptions, withEngine, type ConnectionFlags } from '../session.js';

interface SetFlags extends ConnectionFlags {
  readonly confirm?: boolean;
  readonly reason?: string;
  readonly by?: string;
}

/** Retention policies: show them with their versions, or change one (versioned and audited). */
export function registerPolicies(program: Command, ctx: CommandContext): void {
  const policies = program
    .command('policies')
    .summary('retention policies and versions; `set` changes one, `revert` goes back to a version')
    .description(
      'show the retention policies in force and their versions (`lethe policies show`, the default), list every version (`lethe policies history`), change one (`lethe policies set`) or go back to an earlier version (`lethe policies revert`)',
    );
  const show = policies
    .command('show', { isDefault: true })
    .description('the retention policies in force, and every version with what it changed, by whom and why')
    .option('--json', 'print the policies and versions as JSON');
  addConnectionOptions(show, { storage: false }).action(async (flags: ConnectionFlags) => {
    const overview = await withEngine(ctx, flags, (engine) => showPolicies(engine));
    if (flags.json) printJson(ctx.io, overview);
    else printLines(ctx.io, policiesLines(overview));
    ctx.setExit(ExitCode.OK);
  });

  const set = policies
    .command('set')
    .description(
      "change one purpose's retention: a new policy version and a cleanup_policy_changed audit row. A shortening reports how many rows it makes expired at once and needs --confirm (without it: nothing saved, exit 2)",
    )
    .argument('<purpose>', 'a purpose that has a policy, e.g. "System Testing"')
    .argument('<duration>', 'the new retention, e.g. 24h, 30d, 1y, "6 months"')
    .option('--confirm', 'apply a shortening (rows older than the new retention become expired at once)')
    .option('--reason <text>', 'why, recorded with the version and in audit_logs')
    .option('--json', 'print the change as JSON');
  addActorOption(set);
  addConnectionOptions(set, { storage: false }).action(async (purpose: string, durationText: string, flags: SetFlags) => {
    const by = flags.by ?? defaultActor(ctx.io.env);
    const result = await withEngine(ctx, flags, (engine) =>
      setPolicy(engine, { purpose, duration: durationText, by, confirm: flags.confirm === true, reason: flags.reason ?? null }),
    );
    if (flags.json) printJson(ctx.io, result);
    else printLines(ctx.io, changeLines(result, by));
    if (result.needs_confirm) {
      ctx.io.stderr.write(
        `lethe: --confirm: shortening ${JSON.stringify(purpose)} from ${result.from} to ${result.to} makes ${plural(result.newly_expired_rows, 'row')} expired at once; nothing was saved, re-run with --confirm to apply\n`,
      );
      ctx.setExit(ExitCode.USAGE);
    } else ctx.setExit(ExitCode.OK);
  });
  registerHistory(policies, ctx);
  registerRevert(policies, ctx);
  registerRetainedUnder(policies, ctx);
}

/** docs/rights.md#retained-under: the statute that keeps a purpose's rows from erasure on request. */
function registerRetainedUnder(policies: Command, ctx: CommandContext): void {
  const command = policies
    .command('retained-under')
    .description(
      'set the statute under which a purpose\'s rows must be kept (erasure requests refuse them, with it), or "none" to remove it: a new policy version and a cleanup_policy_changed audit row (docs/rights.md#retained-under)',
    )
    .argument('<purpose>', 'a purpose that has a policy, e.g. Financial')
    .argument('<statute>', 'e.g. "Income-tax Act 1961 s.44AA", or none')
    .option('--reason <text>', 'why, recorded with the version and in audit_logs')
    .option('--json', 'print the change as JSON');
  addActorOption(command);
  addConnectionOptions(command, { storage: false }).action(
    async (purpose: string, statute: string, flags: ConnectionFlags & { by?: string; reason?: string }) => {
      const by = flags.by ?? defaultActor(ctx.io.env);
      const r = await withEngine(ctx, flags, (engine) =>
        setRetainedUnder(engine, { purpose, statute: statute.trim().toLowerCase() === 'none' ? null : statute, by, reason: flags.reason ?? null }),
      );
      if (flags.json) printJson(ctx.io, r);
      else
        printLines(ctx.io, [
          r.applied
            ? `${purpose}: retained under ${r.to ?? 'no statute'} (was ${r.from ?? 'none'}); policy version ${r.version} by ${by}`
            : `${purpose}: already retained under ${r.to ?? 'no statute'}; nothing changed`,
        ]);
      ctx.setExit(ExitCode.OK);
    },
  );
}

/** Policy history (runbook FM-003 step 2): which version was in force when, who changed what and why. */
function registerHistory(policies: Command, ctx: CommandContext): void {
  const history = policies
    .command('history')
    .description('every policy version, newest first: its retentions, what it changed against the one before, by whom, when and why (reverts included)')
    .option('-n, --number <n>', 'how many versions (default 50)')
    .option('--json', 'print the versions as JSON');
  addConnectionOptions(history, { storage: false }).action(async (flags: ConnectionFlags & { number?: string }) => {
    const n = flags.number === undefined ? 50 : Number(flags.number);
    if (!Number.isInteger(n) || n < 1 || n > 10_000) throw new UsageError(`--number: expected an integer from 1 to 10000, got ${JSON.stringify(flags.number)}`);
    const overview = await withEngine(ctx, flags, (engine) => showPolicies(engine, n));
    if (flags.json) printJson(ctx.io, { current_version: overview.current.version, versions: overview.versions });
    else printLines(ctx.io, policiesLines(overview).slice(policiesLines(overview).indexOf('Versions (newest first):')));
    ctx.setExit(ExitCode.OK);
  });
}

/** Policy revert (runbook FM-003 "fix the policy"): an earlier version's policies as a new version; the `set` --confirm rule. */
function registerRevert(policies: Command, ctx: CommandContext): void {
  const revert = policies
    .command('revert')
    .description(
      "make an earlier version's policies the policies in force, as a new version (audited as cleanup_policy_changed with revert_to). When that shortens any retention (or gives a purpose a policy again), it reports the rows that become expired at once and needs --confirm (without it: nothing saved, exit 2)",
    )
    .argument('<version>', 'the policy version to go back to (see `lethe policies history`)')
    .option('--confirm', 'apply a revert that shortens a retention')
    .option('--reason <text>', 'why, recorded with the version and in audit_logs')
    .option('--json', 'print the revert as JSON');
  addActorOption(revert);
  addConnectionOptions(revert, { storage: false }).action(async (versionText: string, flags: SetFlags) => {
    if (!/^\d{1,9}$/.test(versionText.trim()) || Number(versionText) < 1)
      throw new UsageError(`version: expected a policy version number like 2, got ${JSON.stringify(versionText)}`);
    const by = flags.by ?? defaultActor(ctx.io.env);
    const result = await withEngine(ctx, flags, (engine) =>
      revertPolicy(engine, { version: Number(versionText), by, confirm: flags.confirm === true, ...(flags.reason ? { reason: flags.reason } : {}) }),
    );
    if (flags.json) printJson(ctx.io, result);
    else printLines(ctx.io, revertLines(result, by));
    if (result.needs_confirm) {
      ctx.io.stderr.write(
        `lethe: --confirm: reverting to version ${result.revert_to} shortens a retention and makes ${plural(result.newly_expired_rows, 'row')} expired at once; nothing was saved, re-run with --confirm to apply\n`,
      );
      ctx.setExit(ExitCode.USAGE);
    } else ctx.setExit(ExitCode.OK);
  });
}

export function revertLines(r: PolicyRevertResult, by: string): string[] {
  if (r.unchanged) return [`The policies in force (version ${r.version}) are already those of version ${r.revert_to}; nothing changed.`];
  const lines = r.changes.map(
    (c) =>
      `  ${c.purpose}: ${c.from ?? '(no policy)'} -> ${c.to ?? '(no policy: its rows are never deleted)'}${c.shortening ? `; ${plural(c.newly_expired_rows, 'row')} (${plural(c.newly_expired_files, 'file')}) ${r.applied ? 'became' : 'would become'} expired at once` : ''}`,
  );
  if (!r.applied)
    return [
      `Reverting to version ${r.revert_to} (from version ${r.previous_version}) would change:`,
      ...lines,
      'Not saved: it shortens a retention; add --confirm to apply it.',
    ];
  return [
    `Reverted to the policies of version ${r.revert_to}: saved as policy version ${r.version} (was ${r.previous_version}) by ${by}.`,
    ...lines,
    'Recorded in audit_logs (action cleanup_policy_changed, revert_to).',
  ];
}

export function policiesLines(o: PoliciesOverview): string[] {
  const c = o.current;
  const lines = [`Retention policies in force: version ${c.version}, by ${c.created_by} at ${time(c.created_at)}${c.reason ? ` (${c.reason})` : ''}`];
  lines.push(
    ...table(
      ['purpose', 'retention'],
      Object.entries(c.policies).map(([p, r]) => [p, r]),
    ).map((l) => `  ${l}`),
  );
  lines.push('', 'Versions (newest first):');
  for (const v of o.versions) {
    const first = v === o.versions[o.versions.length - 1] && v.version === 1;
    const changes =
      v.changes.length === 0
        ? first
          ? 'first version'
          : 'no change'
        : v.changes.map((ch) => `${ch.purpose}: ${ch.from ?? '(none)'} -> ${ch.to ?? '(removed)'}`).join('; ');
    lines.push(`  v${v.version}  ${time(v.created_at)}  ${v.created_by}  ${changes}${v.reason ? `  (${v.reason})` : ''}`);
  }
  return lines;
}

export function changeLines(r: PolicyChangeResult, by: string): string[] {
  if (r.unchanged) return [`${r.purpose} is already ${r.to}; nothing changed (version ${r.version} stays in force).`];
  const impact = r.shortening
    ? `${plural(r.newly_expired_rows, 'row')} (${plural(r.newly_expired_files, 'file')}) ${r.applied ? 'became' : 'would become'} expired at once; the next run deletes them.`
    : 'A longer retention: nothing becomes expired by it.';
  if (!r.applied) return [`Shortening ${r.purpose} from ${r.from} to ${r.to}: ${impact}`, 'Not saved: add --confirm to apply it.'];
  return [
    `${r.purpose}: ${r.from} -> ${r.to}, saved as policy version ${r.version} (was ${r.previous_version}) by ${by}.`,
    impact,
    `Recorded in audit_logs (action cleanup_policy_changed); revert with \`lethe policies set ${JSON.stringify(r.purpose)} "${r.from}"\`.`,
  ];
}
