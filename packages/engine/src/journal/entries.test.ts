import { describe, expect, it } from 'vitest';
import { decodeBatch, encodeBatch, isJournalName, journalName, journalNameTime, JOURNAL_FORMAT } from './entries.js';

const RUN = '0b6f1c2e-3a4d-4e5f-8a9b-0c1d2e3f4a5b';

describe('journal entries', () => {
  it('names sort by time and give the time back', () => {
    const a = journalName(Date.parse('2026-12-03T11:40:00.123Z'), RUN, 1);
    const b = journalName(Date.parse('2026-12-03T11:40:01.000Z'), RUN, 2);
    expect(a).toBe(`20261203T114000123Z-${RUN}-000001.json`);
    expect(isJournalName(a)).toBe(true);
    expect([b, a].sort()).toEqual([a, b]);
    expect(journalNameTime(a)).toBe(Date.parse('2026-12-03T11:40:00.123Z'));
    expect(isJournalName('notes.txt')).toBe(false);
  });

  it('round-trips a batch exactly (created_ms keeps its fraction) and refuses a malformed one', () => {
    const batch = {
      format: JOURNAL_FORMAT,
      run_id: RUN,
      written_at: '2026-12-03T11:40:00.123Z',
      entries: [
        {
          job_id: 'j1',
          key: 'hmac-sha256:ab',
          purpose: 'General',
          run_id: RUN,
          request_ref: null,
          erased_at: '2026-12-03T11:40:00.100Z',
          created_ms: 1733220000123.456,
        },
      ],
    } as const;
    expect(decodeBatch('x.json', encodeBatch(batch))).toEqual(batch);
    expect(() => decodeBatch('x.json', '{')).toThrow(/journal object x.json: not valid JSON/);
    expect(() => decodeBatch('x.json', JSON.stringify({ ...batch, entries: [{ job_id: 'j' }] }))).toThrow(/an entry lacks/);
    expect(() => decodeBatch('x.json', JSON.stringify({ ...batch, format: 'other' }))).toThrow(/expected format/);
  });
});
