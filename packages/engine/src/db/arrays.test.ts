import { createRequire } from 'node:module';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { numberArray, textArray } from './arrays.js';

/** node-postgres's own parameter encoding, which these literals must equal. */
const { prepareValue } = createRequire(import.meta.url)('pg/lib/utils.js') as { prepareValue: (value: unknown) => unknown };

describe('SQL array literals', () => {
  it('writes text arrays exactly as node-postgres does, quotes, backslashes and nulls included', () => {
    const element = fc.oneof(fc.constant(null), fc.string(), fc.string({ unit: fc.constantFrom('"', '\\', ',', '{', '}', ' ', 'a', 'é', 'NULL') }));
    fc.assert(
      fc.property(fc.array(element, { maxLength: 30 }), (values) => {
        expect(textArray(values)).toBe(prepareValue(values));
      }),
    );
    expect(textArray(['a"b', 'c\\d', null, ''])).toBe('{"a\\"b","c\\\\d",NULL,""}');
  });

  it('writes float8 arrays that parse to the same numbers as node-postgres sends; NaN and infinities as NULL (unknown)', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.double(), fc.integer(), fc.constant(null)), { maxLength: 30 }), (values) => {
        const ours = textOf(numberArray(values));
        // A non-finite value (a row with no policy or no usable created_at) is recorded as unknown,
        // where node-postgres would send 'NaN' or 'Infinity'.
        const theirs = textOf(prepareValue(values.map((v) => (v === null || Number.isFinite(v) ? v : null))) as string);
        expect(ours).toEqual(theirs);
      }),
    );
    expect(numberArray([1.5, Number.NaN, Number.NEGATIVE_INFINITY, null, -0, 3])).toBe('{1.5,NULL,NULL,NULL,0,3}');
  });
});

/** Elements of a flat array literal, unquoted (enough to compare number arrays). */
function textOf(literal: string): (string | null)[] {
  const inner = literal.slice(1, -1);
  if (inner === '') return [];
  return inner.split(',').map((e) => (e === 'NULL' ? null : e.replace(/^"|"$/g, '')));
}
