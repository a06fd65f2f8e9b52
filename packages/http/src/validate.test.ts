import { describe, expect, it } from 'vitest';
import { HttpError } from './errors.js';
import { checkBody, checkQuery, type Fields } from './validate.js';

const fields: Fields = {
  reason: { type: 'string', required: true, maxLength: 10 },
  dryRun: { type: 'boolean' },
  limit: { type: 'integer', min: 1, max: 100 },
};

function message(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(HttpError);
    expect((error as HttpError).status).toBe(400);
    return (error as Error).message;
  }
  throw new Error('expected a 400');
}

describe('checkBody', () => {
  it('keeps known, well-typed fields', () => {
    expect(checkBody({ reason: 'drill', dryRun: true, limit: 5 }, fields)).toEqual({ reason: 'drill', dryRun: true, limit: 5 });
    expect(checkBody({ reason: 'x' }, fields)).toEqual({ reason: 'x' });
  });

  it('names the field and what was expected', () => {
    expect(message(() => checkBody({ reason: 'x', dryrun: true }, fields))).toMatch(/^body\.dryrun: unknown field; expected reason, dryRun, limit$/);
    expect(message(() => checkBody({}, fields))).toBe('body.reason: required');
    expect(message(() => checkBody({ reason: 'x', dryRun: 'true' }, fields))).toMatch(/body\.dryRun: expected true or false/);
    expect(message(() => checkBody({ reason: 'x', limit: 1.5 }, fields))).toMatch(/body\.limit: expected an integer from 1 to 100/);
    expect(message(() => checkBody({ reason: 'x'.repeat(11) }, fields))).toMatch(/longer than 10/);
    expect(message(() => checkBody({ reason: ' ' }, fields))).toMatch(/must not be empty/);
  });

  it('is not fooled by inherited names', () => {
    expect(message(() => checkBody(JSON.parse('{"reason":"x","__proto__":{"a":1}}'), fields))).toMatch(/__proto__: unknown field/);
    expect(message(() => checkBody({ reason: 'x', toString: 'y' }, fields))).toMatch(/toString: unknown field/);
  });
});

describe('checkQuery', () => {
  it('converts and bounds values, refuses unknown and repeated names', () => {
    expect(checkQuery(new URLSearchParams('reason=a&limit=10&dryRun=false'), fields)).toEqual({ reason: 'a', limit: 10, dryRun: false });
    expect(message(() => checkQuery(new URLSearchParams('reason=a&limit=1e3'), fields))).toMatch(/query\.limit/);
    expect(message(() => checkQuery(new URLSearchParams('reason=a&reason=b'), fields))).toMatch(/more than once/);
    expect(message(() => checkQuery(new URLSearchParams('reason=a&x=1'), fields))).toMatch(/query\.x: unknown parameter/);
  });
});
