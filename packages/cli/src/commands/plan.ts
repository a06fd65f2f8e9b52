import type { Command } from 'commander';
import { expiringWithin, planExpiries, PLAN_WINDOWS, type ExpiryPlan } from '@lethe/engine/operations';
import { durationInterval } from '../durations.js';
import { ExitCode, printJson, printLines } from '../output.js';
import type { CommandContext } from '../program.js';
import { atLeast, count, table, time } from '../render/format.js';
import { addConnectionOptions, withEngine, type ConnectionFlags } from '../session.js';

interface PlanFlags extends ConnectionFlags {
  readonly within?: string;
}

/** What will expire when, by purpose; with --within, the files for a notification job. */
export function registerPlan(program: Command, ctx: CommandContext): void {
  const command = program
    .command('plan')
    .summary('what expires when; --within for notices')
    .description('what will expire when, by purpose; with --within, the files expiring in that window as JSON lines (DPDP Rules 2025: notice before erasure)')
    .option('--within <duration>', 'list every file expiring within this window from now (e.g. 48h), one JSON object per line, soonest first')
    .option('--json', 'print the plan as JSON (without --within)');
  addConnectionOptions(command, { storage: false, batches: true }).action(async (flags: PlanFlags) => {
    const within = flags.within === undefined ? undefined : durationInterval('--within', flags.within);
    await withEngine(ctx, flags, async (engine) => {
      if (within !== undefined) {
        // JSON lines, streamed: memory holds one batch whatever the window holds.
        for await (const batch of expiringWithin(engine, { within, ...(ctx.signal ? { signal: ctx.signal } : {}) })) {
          ctx.io.stdout.write(batch.map((f) => `${JSON.stringify(f)}\n`).join(''));
        }
        return;
      }
      const plan = await planExpiries(engine);
      if (flags.json) printJson(ctx.io, plan);
      else printLines(ctx.io, planLines(plan));
    });
    ctx.setExit(ExitCode.OK);
  });
}

export function planLines(p: ExpiryPlan): string[] {
  const lines = [`Expiry plan at ${time(p.checked_at)} (policy version ${p.policy_version}); windows count rows not yet expired`];
  lines.push(
    ...table(
      ['purpose', 'retention', 'expired now', ...PLAN_WINDOWS.map((w) => `next ${w.label}`), 'next expiry'],
      p.purposes.map((x) => [x.purpose, x.retention, count(x.expired), ...PLAN_WINDOWS.map((w) => count(x.expiring[w.label])), time(x.next_expiry_at)]),
    ),
  );
  const backlog = p.purposes.filter((x) => x.expired > 0);
  if (backlog.length > 0) {
    lines.push(
      `Expired now (the next run deletes them): ${backlog.map((x) => `${x.purpose} ${count(x.expired)}, oldest expired ${time(x.oldest_expired_at)}`).join('; ')}`,
    );
  }
  for (const u of p.unreadable) {
    lines.push(
      `Never judged: ${atLeast(u.count, u.capped, 'row')} ${u.reason === 'unknown_purpose' ? `with no policy for purpose ${JSON.stringify(u.purpose)}` : `of purpose ${JSON.stringify(u.purpose)} with ${u.reason === 'infinite_created_at' ? 'an infinite' : 'no'} created_at`}`,
    );
  }
  lines.push('Files expiring soon, for notices: `lethe plan --within 48h` (JSON lines).');
  return lines;
}
