import { describe, expect, it } from 'vitest';
import { lethe } from './support/cli.js';

/** Every command and every flag is documented in `--help`. */
const FLAGS: Record<string, readonly string[]> = {
  status: ['--json', '--database-url', 'Exit 0 when'],
  pause: ['--reason <text>', '--by <who>', '--json'],
  resume: ['--reason <text>', '--by <who>', '--json'],
  history: ['-n, --number <n>', '--all', '--json'],
  'runs show': ['<run-id>', 'prefix of it', '--json'],
  unhold: ['<file_key>', '--reason <text>', '--by <who>', '--json'],
  verify: ['--grace <duration>', '--show <n>', '--json', '--storage <url>', '--batch-size <n>', '--threads <n>'],
  lookup: ['<file_key>', '--json', '--storage <url>'],
  reconcile: [
    '--batch-size <n>',
    '--threads <n>',
    '--apply',
    '--min-age <duration>',
    '--max-orphan-share <percent>',
    '--prefix <prefix>',
    '--by <who>',
    '--json',
  ],
  report: [
    '--month <YYYY-MM>',
    '--format <format>',
    '"text", "json", "csv"',
    '"html"',
    '"pdf"',
    '--output <file>',
    'LETHE_CHROMIUM',
    '--grace <duration>',
    '--json',
  ],
  'policies show': ['--json'],
  'policies set': ['<purpose>', '<duration>', '--confirm', '--reason <text>', '--by <who>', '--json'],
  plan: ['--within <duration>', '--json', '--batch-size <n>'],
  run: [
    '--backlog',
    '--limit <n>',
    '--dry-run',
    '--json',
    '--database-url <url>',
    '--storage <url>',
    '--batch-size <n>',
    '--deletes-per-second <n>',
    '--threads <n>',
  ],
  migrate: ['--database-url <url>', '--json'],
  erasures: ['--batch-size <n>', '--database-url <url>'],
  doctor: ['--storage <url>', '--threads <n>'],
  serve: ['--database-url <url>', '--storage <url>', '--batch-size <n>', '--deletes-per-second <n>', '--threads <n>'],
  daemon: ['--database-url <url>', '--storage <url>', '--batch-size <n>', '--deletes-per-second <n>', '--threads <n>'],
};

describe('lethe --help', () => {
  it('lists every operator command', async () => {
    const r = await lethe(['--help'], {});
    expect(r.code).toBe(0);
    for (const name of ['status', 'pause', 'resume', 'history', 'runs', 'verify', 'lookup', 'reconcile', 'report', 'policies', 'plan', 'run']) {
      expect(r.stdout).toMatch(new RegExp(`\\n  ${name}\\b`));
    }
  });

  it('documents every flag of every command', async () => {
    const results = await Promise.all(Object.keys(FLAGS).map((cmd) => lethe([...cmd.split(' '), '--help'], {})));
    Object.keys(FLAGS).forEach((cmd, i) => {
      const r = results[i]!;
      expect(r.code, cmd).toBe(0);
      for (const flag of FLAGS[cmd]!) expect(r.stdout, `${cmd} --help documents ${flag}`).toContain(flag);
    });
  });

  it('exits 2 on an unknown command or option', async () => {
    const [command, option] = await Promise.all([lethe(['statuz'], {}), lethe(['status', '--jsn'], {})]);
    expect(command.code).toBe(2);
    expect(command.stderr).toContain("unknown command 'statuz'");
    expect(option.code).toBe(2);
    expect(option.stderr).toContain("unknown option '--jsn'");
  });
});
