import type { Command } from 'commander';
import type { CommandContext } from '../program.js';
import { registerHistory } from './history.js';
import { registerLookup } from './lookup.js';
import { registerPause } from './pause.js';
import { registerPlan } from './plan.js';
import { registerPolicies } from './policies.js';
import { registerReconcile } from './reconcile.js';
import { registerReport } from './report.js';
import { registerRequests } from './requests.js';
import { registerResume } from './resume.js';
import { registerRuns } from './runs.js';
import { registerStatus } from './status.js';
import { registerVerify } from './verify.js';

/** The on-call commands, one per runbook operation (docs/runbook.md#commands-by-runbook-section), in the order `lethe --help` lists them. */
export function registerOperations(program: Command, ctx: CommandContext): void {
  registerStatus(program, ctx);
  registerPause(program, ctx);
  registerResume(program, ctx);
  registerHistory(program, ctx);
  registerRuns(program, ctx);
  registerVerify(program, ctx);
  registerLookup(program, ctx);
  registerReconcile(program, ctx);
  registerReport(program, ctx);
  registerPolicies(program, ctx);
  registerPlan(program, ctx);
  registerRequests(program, ctx);
}
