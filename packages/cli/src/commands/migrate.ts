import type { Command } from 'commander';
import { createEngine } from '@lethe/engine';
import { engineOptions } from '../config.js';
import { ExitCode, printJson, printLines } from '../output.js';
import type { CommandContext } from '../program.js';
import { addConnectionOptions, connectionConfig, type ConnectionFlags } from '../session.js';

export function registerMigrate(program: Command, ctx: CommandContext): void {
  const command = program
    .command('migrate')
    .description("create or update Lethe's tables (idempotent), seed the default policies, and build the indexes it needs on jobs (CONCURRENTLY)")
    .option('--no-jobs-indexes', 'do not create the (purpose_code, created_at) and (file_key) indexes on the jobs table')
    .option(
      '--no-key-guard',
      'do not install the key guard trigger on jobs (a platform write at a key waits for a batch erasing it, then fails with 40001; docs/safety.md#shared-keys)',
    )
    .option('--json', 'print the result as JSON');
  addConnectionOptions(command, { storage: false }).action(async (opts: ConnectionFlags & { jobsIndexes: boolean; keyGuard: boolean }) => {
    const config = connectionConfig(ctx, opts);
    const engine = createEngine(engineOptions(config));
    try {
      const report = await engine.migrate({ createJobsIndexes: opts.jobsIndexes, installKeyGuard: opts.keyGuard });
      if (opts.json) printJson(ctx.io, report);
      else {
        printLines(ctx.io, [
          `schema at version ${report.schemaVersion}${report.applied.length ? ` (applied ${report.applied.join(', ')})` : ' (already current)'}`,
          report.policiesSeeded ? 'seeded the default retention policies as version 1' : 'retention policies already present',
          ...report.indexesCreated.map((i) => `created index ${i}`),
          ...(report.keyGuard === 'installed' ? ['installed the key guard trigger on the jobs table (docs/safety.md#shared-keys)'] : []),
          ...report.warnings.map((w) => `warning: ${w}`),
        ]);
      }
      ctx.setExit(ExitCode.OK);
    } finally {
      await engine.close();
    }
  });
}
