import { readdir, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { createEngine } from '@lethe/engine';
import { startEmbeddedPostgres } from '../demo/embedded-postgres.js';
import { seedDemo } from '../demo/seed.js';
import { ExitCode, printJson, printLines } from '../output.js';
import type { CommandContext } from '../program.js';
import { humanSummary, positiveInt } from './run.js';

async function countFiles(dir: string): Promise<number> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).length;
}

export function registerDemo(program: Command, ctx: CommandContext): void {
  program
    .command('demo')
    .description('start an embedded PostgreSQL, seed jobs and files for every purpose, run Lethe on them and print the summary')
    .option('--dir <path>', 'where the demo keeps its database and files', '.lethe/demo')
    .option('--scale <n>', 'multiply the seeded rows (progress shows on larger runs)', '1')
    .option('--json', 'print only the JSON summary on stdout')
    .action(async (flags: { dir: string; scale: string; json?: boolean }) => {
      const scale = positiveInt('--scale', flags.scale);
      const dir = resolve(flags.dir);
      const filesDir = join(dir, 'files');
      const say = (line: string): void => {
        if (!flags.json) ctx.io.stdout.write(`${line}\n`);
      };
      await rm(filesDir, { recursive: true, force: true });
      say(`Starting an embedded PostgreSQL under ${join(dir, 'postgres')} ...`);
      const db = await startEmbeddedPostgres(dir, (l) => ctx.io.stderr.write(`${l}\n`));
      try {
        const seeded = await seedDemo(db.url, filesDir, scale);
        say(`Seeded ${seeded.rows} jobs rows (${seeded.expired} expired) and ${seeded.files} files under ${filesDir}`);
        const engine = createEngine({ databaseUrl: db.url, storage: `file://${filesDir}`, logger: ctx.logger({}), host: 'demo' });
        try {
          await engine.migrate();
          const summary = await engine.run({ trigger: 'demo', ...(ctx.signal ? { signal: ctx.signal } : {}) });
          const left = await countFiles(filesDir);
          if (flags.json) printJson(ctx.io, { ...summary, demo: { database_dir: db.dataDir, files_dir: filesDir, files_left: left } });
          else {
            printLines(ctx.io, humanSummary(summary));
            say(`${left} files remain under ${filesDir} (unexpired, unknown purpose, or refused).`);
            say(`The audit row is in audit_logs (action = 'cleanup_expired_jobs'); the per-file ledger in lethe_ledger.`);
          }
          ctx.setExit(summary.status === 'completed' && summary.failed_count === 0 ? ExitCode.OK : ExitCode.FAILURES);
        } finally {
          await engine.close();
        }
      } finally {
        await db.stop();
      }
    });
}
