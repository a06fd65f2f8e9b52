import { describe, expect, it } from 'vitest';
import { ConfigError, SETTINGS, type SettingSpec } from '@lethe/engine';
import { engineOptions, FIELDS, resolveConfig } from './config.js';

const SPECS = SETTINGS as Readonly<Record<string, SettingSpec>>;
const INTS = Object.entries(FIELDS).filter(([, f]) => f.kind === 'int');

describe('the CLI config reader is derived from the engine settings table', () => {
  it('reads every setting the CLI may configure, and no other', () => {
    expect(Object.keys(FIELDS).sort()).toEqual(
      Object.keys(SPECS)
        .filter((k) => SPECS[k]!.config !== false)
        .sort(),
    );
  });

  it.each(INTS)('%s: the same bounds and env var as the engine table; refuses one past them from env', (name, field) => {
    const spec = SPECS[name]!;
    expect([field.min, field.max, field.env]).toEqual([spec.min, spec.max, spec.env]);
    expect(resolveConfig({ flags: {}, env: { [field.env!]: String(field.max) } })).toEqual({ [name]: field.max });
    for (const bad of [field.min! - 1, field.max! + 1]) {
      expect(() => resolveConfig({ flags: {}, env: { [field.env!]: String(bad) } })).toThrow(ConfigError);
      expect(() => resolveConfig({ flags: {}, env: { [field.env!]: String(bad) } })).toThrow(
        `${name} (env ${field.env}): expected an integer from ${field.min} to ${field.max}, got "${bad}"`,
      );
    }
  });

  it('passes the engine-owned settings on to the engine, and only those', () => {
    const config = resolveConfig({ flags: {}, env: { LETHE_BATCH_SIZE: '10', LETHE_HEARTBEAT_MS: '500', LETHE_STALE_AFTER_MS: '5000', LETHE_HTTP_PORT: '1' } });
    const o = engineOptions(config) as Record<string, unknown>;
    expect([o.batchSize, o.heartbeatMs, o.staleAfterMs, o.httpPort]).toEqual([10, 500, undefined, undefined]);
  });
});
