import type { Command } from 'commander';
import type { CommandContext } from '../program.js';
import { registerDoctor } from './doctor.js';
import { registerErasures } from './erasures.js';

/** The on-call's incident tools (runbook FM-002, FM-003): preflight (`doctor`) and who was affected (`erasures`). */
export function registerIncident(program: Command, ctx: CommandContext): void {
  registerDoctor(program, ctx);
  registerErasures(program, ctx);
}
