import type { Command } from 'commander';
import type { CommandContext } from '../program.js';
import { registerHolds } from './holds.js';
import { registerLedger } from './ledger.js';
import { registerPrune } from './prune.js';
import { registerPurge } from './purge.js';
import { registerReplay } from './replay.js';
import { registerRestore } from './restore.js';
import { registerVerifyLedger } from './verify-ledger.js';

/** Safety and recovery (docs/safety.md): undo window (restore, purge), legal holds, ledger verification (storage and hash chain), evidence retention, replay after a database restore. */
export function registerSafety(program: Command, ctx: CommandContext): void {
  registerRestore(program, ctx);
  registerHolds(program, ctx);
  registerPurge(program, ctx);
  registerVerifyLedger(program, ctx);
  registerLedger(program, ctx);
  registerPrune(program, ctx);
  registerReplay(program, ctx);
}
