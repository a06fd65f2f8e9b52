import { SETTINGS } from '@lethe/engine';
import { describe, expect, it } from 'vitest';
import { settingHelp } from './setting-help.js';

describe('settingHelp', () => {
  it("derives a flag's help from the option spec: description, env var and default", () => {
    expect(settingHelp('batchSize')).toBe(`rows per batch (env LETHE_BATCH_SIZE, default ${SETTINGS.batchSize.default})`);
    expect(settingHelp('schedule')).toBe('cron expression, 5 fields or 6 with seconds first (env LETHE_SCHEDULE, default "0 2 * * *")');
    expect(settingHelp('deletesPerSecondPerPrefix')).toContain('default 0 for files, 3500 for S3');
    expect(settingHelp('config')).toBe('JSON config file (same keys) (env LETHE_CONFIG)');
  });

  it('lets a command say how its use differs', () => {
    expect(settingHelp('threads', { defaultText: 'default 1 for this command' })).toBe(
      `${SETTINGS.threads.description} (env LETHE_THREADS, default 1 for this command)`,
    );
    expect(settingHelp('storage', { about: 'storage URL for runs triggered over HTTP' })).toBe('storage URL for runs triggered over HTTP (env LETHE_STORAGE)');
    expect(settingHelp('timezone', { note: 'e.g. Asia/Kolkata' })).toBe(
      'IANA time zone the schedule is read in (env LETHE_TIMEZONE, default UTC); e.g. Asia/Kolkata',
    );
  });

  it('follows the spec when a default changes (nothing is written twice)', () => {
    for (const [name, spec] of Object.entries(SETTINGS)) {
      if (!('flag' in spec) || !('env' in spec)) continue;
      const help = settingHelp(name as keyof typeof SETTINGS);
      expect(help, name).toContain(`env ${spec.env}`);
      if ('default' in spec && typeof spec.default !== 'object') expect(help, name).toContain(String(spec.default));
    }
  });
});
