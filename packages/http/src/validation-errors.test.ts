import { describe, expect, it } from 'vitest';
import { Ajv, type ErrorObject } from 'ajv';
import { HttpError } from './errors.js';
import { fields, flag, integer, text } from './request-schemas.js';
import { formatValidationErrors } from './validation-errors.js';

// The options app.ts gives fastify's ajv: no coercion, no removal, first error only, with values.
const ajv = new Ajv({ removeAdditional: false, coerceTypes: false, useDefaults: false, allErrors: false, verbose: true });
const body = ajv.compile(fields({ reason: text(10, { nonEmpty: true }), dryRun: flag(), limit: integer(1, 100, 10) }, ['reason']));
const query = ajv.compile(fields({ month: text(7, { pattern: '^\\d{4}-(0[1-9]|1[0-2])$', description: 'a month like "2025-11" (YYYY-MM)' }) }));

function message(validate: typeof body, value: unknown, dataVar = 'body'): string {
  expect(validate(value)).toBe(false);
  const error = formatValidationErrors(validate.errors as ErrorObject[], dataVar);
  expect(error).toBeInstanceOf(HttpError);
  expect(error.status).toBe(400);
  return error.message;
}

describe('formatValidationErrors', () => {
  it('accepts known, well-typed fields as they are (nothing coerced, nothing removed)', () => {
    expect(body({ reason: 'drill', dryRun: true, limit: 5 })).toBe(true);
    const value = { reason: 'x' };
    expect(body(value)).toBe(true);
    expect(value).toEqual({ reason: 'x' });
  });

  it("names a nested object's own fields (required, unknown) by their full path", () => {
    const nested = ajv.compile(fields({ target: fields({ kind: text(10), values: { type: 'array', items: text(10) } }, ['kind']) }, ['target']));
    expect(message(nested, { target: { kind: 'job', typo: 1 } })).toBe('body.target.typo: unknown field; expected kind, values');
    expect(message(nested, { target: {} })).toBe('body.target.kind: required');
    expect(message(nested, {})).toBe('body.target: required');
  });

  it('names the field and what was expected', () => {
    expect(message(body, { reason: 'x', dryrun: true })).toBe('body.dryrun: unknown field; expected reason, dryRun, limit');
    expect(message(body, {})).toBe('body.reason: required');
    expect(message(body, { reason: 'x', dryRun: 'true' })).toBe('body.dryRun: expected true or false, got "true"');
    expect(message(body, { reason: 'x', limit: 1.5 })).toBe('body.limit: expected an integer from 1 to 100, got 1.5');
    expect(message(body, { reason: 'x', limit: '5' })).toBe('body.limit: expected an integer from 1 to 100, got "5"');
    expect(message(body, { reason: 42 })).toBe('body.reason: expected a string, got number');
    expect(message(body, { reason: 'x'.repeat(11) })).toBe('body.reason: longer than 10 characters');
    expect(message(body, { reason: '' })).toBe('body.reason: must not be empty');
    expect(message(body, { reason: ' \t' })).toBe('body.reason: must not be empty');
    expect(message(body, { reason: 'a\u0000b' })).toBe('body.reason: must not contain NUL bytes');
    expect(message(body, [])).toBe('body: expected a JSON object, got an array');
    expect(message(body, null)).toBe('body: expected a JSON object, got null');
  });

  it('says query parameters are parameters, and uses the description as the expectation', () => {
    expect(message(query, { month: '2025-13' }, 'querystring')).toBe('query.month: expected a month like "2025-11" (YYYY-MM), got "2025-13"');
    expect(message(query, { sort: 'asc' }, 'querystring')).toBe('query.sort: unknown parameter; expected month');
  });

  it('is not fooled by inherited names', () => {
    expect(message(body, JSON.parse('{"reason":"x","__proto__":{"a":1}}'))).toMatch(/^body\.__proto__: unknown field/);
    expect(message(body, { reason: 'x', toString: 'y' })).toMatch(/^body\.toString: unknown field/);
  });
});
