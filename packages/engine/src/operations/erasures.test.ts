import { describe, expect, it } from 'vitest';
import { erasureCsvLine, validateErasuresFilter, type Erasure } from './erasures.js';

const e = (over: Partial<Erasure>): Erasure => ({
  file_key: 'a.pdf',
  job_id: '1',
  purpose: 'General',
  outcome: 'erased',
  erased_at: '2025-11-30T02:00:15.000000Z',
  run_id: 'r',
  policy_version: 1,
  created_at: null,
  expires_at: null,
  ...over,
});

describe('erasures', () => {
  it('validate filters, naming the one that is wrong', () => {
    expect(validateErasuresFilter({ since: '2025-11-30' }).since).toBe('2025-11-30T00:00:00.000Z');
    expect(validateErasuresFilter({ since: '2025-11-30T02:00:00+05:30' }).since).toBe('2025-11-29T20:30:00.000Z');
    expect(() => validateErasuresFilter({ since: '30/11/2025' })).toThrow(/^since: expected a date like 2025-11-30/);
    expect(() => validateErasuresFilter({ runId: 'abc' })).toThrow(/^run: expected a run id/);
    expect(() => validateErasuresFilter({ policyVersion: 0 })).toThrow(/^policy version: expected a positive integer/);
  });

  it('write CSV as RFC 4180 says, and never a spreadsheet formula', () => {
    expect(erasureCsvLine(e({ file_key: 'a,"b".pdf' }))).toBe('"a,""b"".pdf",1,General,erased,2025-11-30T02:00:15.000000Z,r,1,,');
    expect(erasureCsvLine(e({ file_key: '=HYPERLINK("x")' }))).toMatch(/^"'=HYPERLINK\(""x""\)",/);
    expect(erasureCsvLine(e({ job_id: '-42' }))).toMatch(/^a\.pdf,-42,/);
    expect(erasureCsvLine(e({ job_row: { id: 1 } }), true)).toMatch(/,"\{""id"":1\}"$/);
  });
});
