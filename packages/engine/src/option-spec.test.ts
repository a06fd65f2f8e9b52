import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ConfigError } from './errors.js';
import { CONFIG_FILE_SETTING, SETTINGS, defaultOf, type SettingName, type SettingSpec } from './option-spec.js';
import { resolveOptions, type EngineOptions } from './options.js';

const ALL = Object.entries(SETTINGS) as [SettingName, SettingSpec][];
const pool = {} as NonNullable<EngineOptions['pool']>;

describe('the settings table', () => {
  it('names each environment variable and flag once', () => {
    const envs = ALL.flatMap(([, s]) => (s.env ? [s.env] : []));
    expect(new Set(envs).size).toBe(envs.length);
    expect(envs).not.toContain(CONFIG_FILE_SETTING.env);
    for (const env of envs) expect(env).toMatch(/^(LETHE_[A-Z_]+|DATABASE_URL)$/);
    const flags = ALL.flatMap(([, s]) => (s.flag ? [s.flag] : []));
    expect(new Set(flags).size).toBe(flags.length);
    for (const flag of flags) expect(flag).toMatch(/^--[a-z][a-z-]*$/);
  });

  it.each(ALL)('%s: a description, and a default inside its bounds and values', (name, s) => {
    expect(s.description.length).toBeGreaterThan(5);
    if (s.kind === 'int') {
      expect(s.min, name).toBeTypeOf('number');
      expect(s.max!, name).toBeGreaterThan(s.min!);
      const defaults = typeof s.default === 'object' ? [s.default.file, s.default.s3] : s.default === undefined ? [] : [s.default];
      for (const d of defaults) {
        expect(Number.isInteger(d)).toBe(true);
        expect(d).toBeGreaterThanOrEqual(s.min!);
        expect(d).toBeLessThanOrEqual(s.max!);
      }
    }
    if (s.kind === 'share') expect(s.default).toSatisfy((d: unknown) => typeof d === 'number' && d > 0 && d <= 1);
    if (s.kind === 'enum') {
      expect(s.values!.length).toBeGreaterThan(1);
      if (s.default !== undefined) expect(s.values).toContain(s.default);
    }
    // Settings the CLI does not read are options of their resolver only: no env var, no flag.
    if (s.config === false) expect([s.env, s.flag]).toEqual([undefined, undefined]);
  });
});

/** The engine's integer and share options, as resolveOptions takes them. */
const ENGINE_NUMBERS = ALL.filter(([, s]) => s.owner === 'engine' && (s.kind === 'int' || s.kind === 'share'));

describe('resolveOptions follows the table', () => {
  it.each(ENGINE_NUMBERS)('%s: its default (files and S3)', (name) => {
    expect(resolveOptions({ pool })[name as keyof ReturnType<typeof resolveOptions>]).toBe(defaultOf(name, 'file'));
    expect(resolveOptions({ pool, storage: 's3://bucket/prefix' })[name as keyof ReturnType<typeof resolveOptions>]).toBe(defaultOf(name, 's3'));
  });

  it.each(ENGINE_NUMBERS.filter(([, s]) => s.kind === 'int'))('%s: accepts its bounds, refuses one past them, naming the field', (name, s) => {
    for (const ok of [s.min!, s.max!]) expect(resolveOptions({ pool, [name]: ok })[name as keyof ReturnType<typeof resolveOptions>]).toBe(ok);
    for (const bad of [s.min! - 1, s.max! + 1, 1.5]) {
      expect(() => resolveOptions({ pool, [name]: bad })).toThrow(ConfigError);
      expect(() => resolveOptions({ pool, [name]: bad })).toThrow(`${name}: must be an integer from ${s.min} to ${s.max}, got ${bad}`);
    }
  });
});

/** The rows of the first markdown table whose header starts with `header`. */
function tableRows(file: string, header: RegExp): string[][] {
  const text = readFileSync(fileURLToPath(new URL(`../../../${file}`, import.meta.url)), 'utf8').split('\n');
  const start = text.findIndex((l) => header.test(l));
  expect(start, `${file}: settings table`).toBeGreaterThanOrEqual(0);
  const rows: string[][] = [];
  for (const line of text.slice(start + 2)) {
    if (!line.startsWith('|')) break;
    rows.push(
      line
        .split('|')
        .slice(1, -1)
        .map((c) => c.trim()),
    );
  }
  expect(rows.length).toBeGreaterThan(3);
  return rows;
}

const codeSpans = (cell: string): string[] => [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1]!);
const byEnv = (env: string): [SettingName, SettingSpec] | undefined => ALL.find(([, s]) => s.env === env);

describe('README and the docs settings tables are in the table', () => {
  it.each(tableRows('README.md', /^\| setting \| env \| flag \| default \|/))('README: %s', (what, envCell, flagCell, defaultCell) => {
    const env = codeSpans(envCell!)[0]!;
    const flag = codeSpans(flagCell!)[0]!;
    if (env === CONFIG_FILE_SETTING.env) {
      expect(flag.replace('/', ', ')).toBe(CONFIG_FILE_SETTING.flag);
      return;
    }
    const found = byEnv(env);
    expect(found, `${what}: ${env} is in SETTINGS`).toBeDefined();
    const [, s] = found!;
    expect(s.flag, what).toBe(flag);
    // The cell starts with the default; a parenthesis after it may say why.
    if (typeof s.default === 'number') expect(defaultCell!.split(' (')[0]).toBe(String(s.default));
    else if (typeof s.default === 'object') {
      expect(defaultCell).toContain(`${s.default.s3} for S3`);
      expect(defaultCell).toContain(s.default.file === 0 ? 'none for files' : `${s.default.file} for files`);
    } else if (typeof s.default === 'string') expect(codeSpans(defaultCell!)[0], what).toBe(s.default);
    else if (/\brequired\b/.test(s.description)) expect(defaultCell).toMatch(/^required/);
    // No default and not required: the setting is off unless given.
    else expect(defaultCell).toMatch(/^none/);
  });

  it.each([
    ['docs/daemon.md', /^\| setting \| flag \| env \| default \|/],
    ['docs/http.md', /^\| setting \| flag \| env \| default \|/],
  ] as const)('%s: every env var and flag it names', (file, header) => {
    for (const [what, flagCell, envCell] of tableRows(file, header)) {
      for (const env of codeSpans(envCell!)
        .map((e) => e.replace(/=.*/, ''))
        .filter((e) => /^[A-Z_]+$/.test(e))) {
        expect(byEnv(env), `${file} ${what}: ${env}`).toBeDefined();
      }
      for (const flag of codeSpans(flagCell!))
        expect(
          ALL.some(([, s]) => s.flag === flag),
          `${file} ${what}: ${flag}`,
        ).toBe(true);
    }
  });
});
