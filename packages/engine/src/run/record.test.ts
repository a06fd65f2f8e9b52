import { describe, expect, it } from 'vitest';
import type { JobsTable } from '../db/jobs-table.js';
import { OUTCOME_PARAMS, outcomeValues, writeOutcomesSql } from './record.js';

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
