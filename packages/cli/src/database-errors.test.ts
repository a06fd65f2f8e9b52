import { describe, expect, it } from 'vitest';
import { explainDatabaseError } from './database-errors.js';

const socketError = (code: string, port: number): Error =>
  Object.assign(new Error(`connect ${code} 127.0.0.1:${port}`), { code, address: '127.0.0.1', port, syscall: 'connect' });

describe('explainDatabaseError', () => {
  it('explains a refused database connection, naming host:port from the URL (never the password)', () => {
    const e = explainDatabaseError(socketError('ECONNREFUSED', 5433), 'postgres://u:secret@db.internal:5433/x') as Error & { code: string };
    expect(e.code).toBe('LETHE_E_DATABASE');
    expect(e.message).toBe('cannot connect to the database at db.internal:5433 (connection refused): is PostgreSQL running and DATABASE_URL right?');
  });

  it('leaves a refused connection to another port (an S3 endpoint, say) as it was', () => {
    const raw = socketError('ECONNREFUSED', 9000);
    expect(explainDatabaseError(raw, 'postgres://u@db:5432/x')).toBe(raw);
  });

  it('finds the cause inside an AggregateError (localhost resolving to ::1 and 127.0.0.1)', () => {
    const raw = Object.assign(new AggregateError([socketError('ECONNREFUSED', 5432), socketError('ECONNREFUSED', 5432)], ''), { code: 'ECONNREFUSED' });
    expect((explainDatabaseError(raw, 'postgres://u@localhost/x') as Error).message).toMatch(
      /^cannot connect to the database at localhost:5432 \(connection refused\)/,
    );
  });

  it('a missing lethe_ relation is LETHE_E_NOT_MIGRATED; another missing relation is left alone', () => {
    const missing = (rel: string): Error => Object.assign(new Error(`relation "${rel}" does not exist`), { code: '42P01' });
    expect((explainDatabaseError(missing('lethe_control'), undefined) as { code: string }).code).toBe('LETHE_E_NOT_MIGRATED');
    const jobs = missing('jobs');
    expect(explainDatabaseError(jobs, undefined)).toBe(jobs);
  });
});
