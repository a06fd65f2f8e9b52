import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { createEngine } from '@lethe/engine';
import { startEmbeddedPostgres } from './embedded-postgres.js';
import { fileDemoStorage, s3DemoStorage } from './demo-storage.js';
import { seedDemo } from './seed.js';
import { ExitCode, humanSummary, positiveInt, printJson, printLines, type CommandContext } from '@lethe/cli';

export function registerDemo(program: Command, ctx: CommandContext): void {
  program
    .command('demo')
    .description('start an embedded PostgreSQL, seed jobs and files for every purpose, run Lethe on them and print the summary')
    .option('--dir <path>', 'where the demo keeps its database and files', '.lethe/demo')
    .option('--scale <n>', 'multiply the seeded rows (progress shows on larger runs)', '1')
    .option('--json', 'print only the JSON summary on stdout')
    .option(
      '--storage <s3-url>',
      'S3 mode: seed and clean a bucket on a local S3 server, e.g. s3://demo/docs?endpoint=http://127.0.0.1:5000&forcePathStyle=true&region=us-east-1 (env LETHE_DEMO_STORAGE)',
    )
    .action(async (flags: { dir: string; scale: string; json?: boolean; storage?: string }) => {
      const scale = positiveInt('--scale', flags.scale);
      const dir = resolve(flags.dir);
      const filesDir = join(dir, 'files');
      const say = (line: string): void => {
        if (!flags.json) ctx.io.stdout.write(`${line}\n`);
      };
      const s3Url = flags.storage ?? (ctx.io.env.LETHE_DEMO_STORAGE || undefined);
      const storage = s3Url ? await s3DemoStorage(s3Url) : await fileDemoStorage(filesDir);
      say(`Starting an embedded PostgreSQL under ${join(dir, 'postgres')} ...`);
      const db = await startEmbeddedPostgres(dir, (l) => ctx.io.stderr.write(`${l}\n`));
      try {
        const seeded = await seedDemo(db.url, storage.sink, scale);
        say(`Seeded ${seeded.rows} jobs rows (${seeded.expired} expired) and ${seeded.files} documents in ${storage.describe}`);
        const engine = createEngine({ databaseUrl: db.url, storage: storage.url, logger: ctx.logger({}), host: 'demo' });
        try {
          await engine.migrate();
          const summary = await engine.run({ trigger: 'demo', ...(ctx.signal ? { signal: ctx.signal } : {}) });
          const left = await storage.count();
          if (flags.json) printJson(ctx.io, { ...summary, demo: { database_dir: db.dataDir, storage: storage.describe, files_left: left } });
          else {
            printLines(ctx.io, humanSummary(summary, ctx.paint));
            say(`${left} documents remain in ${storage.describe} (unexpired, unknown purpose, or refused).`);
            say(`The audit row is in audit_logs (action = 'cleanup_expired_jobs'); the per-file ledger in lethe_ledger.`);
          }
          ctx.setExit(summary.status === 'completed' && summary.failed_count === 0 ? ExitCode.OK : ExitCode.FAILURES);
        } finally {
          await engine.close();
        }
      } finally {
        await db.stop();
        await storage.close();
      }
    });
}
