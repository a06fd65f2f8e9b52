import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ErrorCodes } from '../errors.js';
import {
  DEFAULT_POLICIES,
  parsePolicies,
  parseRetention,
  policiesFromJson,
  policiesToJson,
  policiesToStoredJson,
  retainedUnderOf,
  retentionToInterval,
} from './retention.js';

describe('parseRetention', () => {
  it('reads the runbook forms', () => {
    expect(parseRetention('24h')).toEqual({ amount: 24, unit: 'hour' });
    expect(parseRetention('30d')).toEqual({ amount: 30, unit: 'day' });
    expect(parseRetention('365d')).toEqual({ amount: 365, unit: 'day' });
    expect(parseRetention('1y')).toEqual({ amount: 1, unit: 'year' });
    expect(parseRetention('7 years')).toEqual({ amount: 7, unit: 'year' });
    expect(parseRetention('6 months')).toEqual({ amount: 6, unit: 'month' });
  });

  it.each([['-1d'], ['0d'], ['1.5d'], ['abc'], [''], ['10 fortnights'], ['1000y'], [null], [{}]])('refuses %j with a message naming the field', (input) => {
    expect(() => parseRetention(input, 'policy "Financial": retention')).toThrow(/policy "Financial": retention: must be/);
  });

  it('round-trips through the interval text for every valid duration', () => {
    const unit = fc.constantFrom('h', 'd', 'w', 'mo', 'y', 'hours', 'days', 'years');
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 99 }), unit, (n, u) => {
        const r = parseRetention(`${n}${u}`);
        expect(parseRetention(retentionToInterval(r))).toEqual(r);
      }),
    );
  });
});

describe('parsePolicies', () => {
  it('accepts the defaults and round-trips them through JSON', () => {
    expect(policiesFromJson(policiesToStoredJson(DEFAULT_POLICIES))).toEqual(DEFAULT_POLICIES);
    expect(policiesToJson(DEFAULT_POLICIES)).toEqual({
      'System Testing': '24 hours',
      General: '30 days',
      Financial: '1 year',
      Legal: '7 years',
      Medical: '10 years',
    });
  });

  it('reads a retention duty (docs/rights.md#retained-under) and stores it beside the retention', () => {
    const p = parsePolicies({ General: '30d', Financial: { retention: '1y', retainedUnder: ' Income-tax Act 1961 s.44AA ' } });
    expect(p.Financial).toEqual({ amount: 1, unit: 'year', retainedUnder: 'Income-tax Act 1961 s.44AA' });
    expect(policiesToStoredJson(p)).toEqual({ General: '30 days', Financial: { retention: '1 year', retainedUnder: 'Income-tax Act 1961 s.44AA' } });
    expect([...retainedUnderOf(p)]).toEqual([['Financial', 'Income-tax Act 1961 s.44AA']]);
    // Versions stored before retention duties existed hold plain text: read as before.
    expect(policiesFromJson({ Financial: '1 year' }).Financial).toEqual({ amount: 1, unit: 'year' });
    expect(() => parsePolicies({ Financial: { retention: '1y', retainedUnder: '' } })).toThrow(/policy "Financial": retainedUnder must name the statute/);
    expect(() => parsePolicies({ Financial: { retention: '1y', statute: 'x' } })).toThrow(/policy "Financial": unknown field "statute"/);
    expect(() => parsePolicies({ Financial: { retainedUnder: 'x' } })).toThrow(/policy "Financial": retention: must be a positive duration/);
  });

  it('refuses a misspelt purpose when the known purposes are given', () => {
    let code: string | undefined;
    try {
      parsePolicies({ Finanical: '1y' }, Object.keys(DEFAULT_POLICIES));
    } catch (error) {
      code = (error as { code?: string }).code;
      expect((error as Error).message).toMatch(/unknown purpose "Finanical"; expected one of/);
    }
    expect(code).toBe(ErrorCodes.POLICY_UNKNOWN);
  });

  it('names the purpose whose retention is bad', () => {
    expect(() => parsePolicies({ Financial: '-1d' })).toThrow(
      'policy "Financial": retention: must be a positive duration like "365d", "24h", "1y" or "6 months", got "-1d"',
    );
  });

  it('refuses an empty map and non-objects', () => {
    expect(() => parsePolicies({})).toThrow(/at least one purpose/);
    expect(() => parsePolicies([])).toThrow(/must be an object/);
  });
});
