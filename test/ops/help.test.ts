import { describe, expect, it } from 'vitest';
import { lethe } from '../cli/support/cli.js';

/** The on-call commands and flags (docs/runbook.md#commands-by-runbook-section) are documented in `--help`, as every other command's are. */
const FLAGS: Record<string, readonly string[]> = {
  doctor: ['--json', '--max-clock-skew <duration>', '--storage <url>', '--database-url <url>'],
  erasures: ['--run <id>', '--policy-version <n>', '--since <date>', '--format <format>', '"jsonl"', '"csv"', '--include-row'],
  pause: ['--wait', '--timeout <duration>', '--reason <text>'],
  status: ['LETHE_STALE_AFTER_MS', '--json'],
  'policies history': ['-n, --number <n>', '--json'],
  'policies revert': ['<version>', '--confirm', '--reason <text>', '--by <who>', '--json'],
  restore: ['--from <backup>', '--hold <reason>'],
};

describe('lethe --help (on-call operations)', () => {
  it('lists doctor and erasures and documents every new flag', async () => {
    const [root, ...results] = await Promise.all([lethe(['--help'], {}), ...Object.keys(FLAGS).map((cmd) => lethe([...cmd.split(' '), '--help'], {}))]);
    expect(root.stdout).toMatch(/\n {2}doctor\b/);
    expect(root.stdout).toMatch(/\n {2}erasures\b/);
    Object.keys(FLAGS).forEach((cmd, i) => {
      const r = results[i]!;
      expect(r.code, cmd).toBe(0);
      for (const flag of FLAGS[cmd]!) expect(r.stdout.replace(/\s+/g, ' '), `${cmd} --help documents ${flag}`).toContain(flag);
    });
  });
});
