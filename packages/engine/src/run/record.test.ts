import { createRequire } from 'node:module';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { JobsTable } from '../db/jobs-table.js';
import { numberArray, OUTCOME_PARAMS, outcomeValues, textArray, writeOutcomesSql } from './record.js';

/** node-postgres's own parameter encoding, which the outcome writer's literals must equal. */
const { prepareValue } = createRequire(import.meta.url)('pg/lib/utils.js') as { prepareValue: (value: unknown) => unknown };

describe('array literals for the outcome statement', () => {
  it('writes text arrays exactly as node-postgres does, quotes, backslashes and nulls included', () => {
    const element = fc.oneof(fc.constant(null), fc.string(), fc.string({ unit: fc.constantFrom('"', '\\', ',', '{', '}', ' ', 'a', 'é', 'NULL') }));
    fc.assert(
      fc.property(fc.array(element, { maxLength: 30 }), (values) => {
        expect(textArray(values)).toBe(prepareValue(values));
      }),
    );
    expect(textArray(['a"b', 'c\\d', null, ''])).toBe('{"a\\"b","c\\\\d",NULL,""}');
  });

  it('writes float8 arrays that parse to the same numbers as node-postgres sends', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.double(), fc.integer(), fc.constant(null)), { maxLength: 30 }), (values) => {
        const ours = textOf(numberArray(values));
        const theirs = textOf(prepareValue(values) as string);
        expect(ours).toEqual(theirs);
      }),
    );
  });
});

describe('the outcome statement is built from one named parameter list', () => {
  const table = { table: 'jobs', id: 'id', idType: 'text', names: { fileKey: 'file_key' } } as unknown as JobsTable;

  it('uses every parameter of the list, and no other', () => {
    const sql = writeOutcomesSql(table);
    const used = new Set([...sql.matchAll(/\$(\d+)/g)].map((m) => Number(m[1])));
    expect([...used].sort((a, b) => a - b)).toEqual(OUTCOME_PARAMS.map((_, i) => i + 1));
  });

  it('casts each named parameter to its column type', () => {
    const sql = writeOutcomesSql(table);
    const at = (name: (typeof OUTCOME_PARAMS)[number]): string => `$${OUTCOME_PARAMS.indexOf(name) + 1}::`;
    for (const [name, cast] of [
      ['runId', 'uuid'],
      ['policyVersion', 'integer'],
      ['intentId', 'bigint'],
      ['createdMs', 'float8[]'],
      ['removable', 'text[]::text[]'],
    ] as const) {
      expect(sql).toContain(`${at(name)}${cast}`);
    }
  });

  it('sends the values in the list order', () => {
    const values = Object.fromEntries(OUTCOME_PARAMS.map((name) => [name, `v:${name}`])) as Record<(typeof OUTCOME_PARAMS)[number], unknown>;
    expect(outcomeValues(values)).toEqual(OUTCOME_PARAMS.map((name) => `v:${name}`));
  });
});

/** Elements of a flat array literal, unquoted (enough to compare number arrays). */
function textOf(literal: string): (string | null)[] {
  const inner = literal.slice(1, -1);
  if (inner === '') return [];
  return inner.split(',').map((e) => (e === 'NULL' ? null : e.replace(/^"|"$/g, '')));
}
