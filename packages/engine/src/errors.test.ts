import { describe, expect, it } from 'vitest';
import * as engine from './index.js';
import {
  ConfigError,
  ERROR_ANSWERS,
  ErrorCodes,
  LetheError,
  RETRYABLE_SQLSTATES,
  RunInProgressError,
  SchemaError,
  errorAnswer,
  errorBody,
  exitCodeOf,
  httpStatusOf,
  isRetryableSqlState,
  type ErrorCode,
} from './errors.js';

/** Table-driven, after undici's test/errors.js: every code, every exported error class. */
const CODES = Object.values(ErrorCodes);
const USAGE_CODES: readonly ErrorCode[] = [
  ErrorCodes.CONFIG,
  ErrorCodes.POLICY_INVALID,
  ErrorCodes.POLICY_UNKNOWN,
  ErrorCodes.STORAGE_URL,
  ErrorCodes.EVIDENCE_TOO_YOUNG,
];

describe('the error table', () => {
  it('has unique codes, each LETHE_E_ and upper snake case', () => {
    expect(new Set(CODES).size).toBe(CODES.length);
    for (const code of CODES) expect(code).toMatch(/^LETHE_E_[A-Z][A-Z_]*[A-Z]$/);
  });

  it('answers every code and nothing else', () => {
    expect(Object.keys(ERROR_ANSWERS).sort()).toEqual([...CODES].sort());
  });

  it.each(CODES)('%s: a 4xx/5xx status, exit 2 exactly for usage codes (400), exit 1 otherwise', (code) => {
    const a = ERROR_ANSWERS[code];
    expect(a.httpStatus).toBeGreaterThanOrEqual(400);
    expect(a.httpStatus).toBeLessThan(600);
    expect(a.exitCode).toBe(USAGE_CODES.includes(code) ? 2 : 1);
    if (a.exitCode === 2) expect(a.httpStatus).toBe(400);
    expect(httpStatusOf(code)).toBe(a.httpStatus);
    const error = new LetheError(code, 'm');
    expect(exitCodeOf(error)).toBe(a.exitCode);
    expect(errorBody(error)).toEqual({ status: a.httpStatus, body: { error: { code, message: 'm' } } });
  });

  it('statuses the HTTP routes answer today', () => {
    expect(httpStatusOf(ErrorCodes.PAUSED)).toBe(409);
    expect(httpStatusOf(ErrorCodes.RUN_IN_PROGRESS)).toBe(409);
    expect(httpStatusOf(ErrorCodes.BLAST_RADIUS)).toBe(409);
    expect(httpStatusOf(ErrorCodes.CONFLICT)).toBe(409);
    expect(httpStatusOf(ErrorCodes.GONE)).toBe(410);
    expect(httpStatusOf(ErrorCodes.NOT_FOUND)).toBe(404);
    expect(httpStatusOf(ErrorCodes.NOT_MIGRATED)).toBe(503);
    expect(httpStatusOf(ErrorCodes.SCHEMA)).toBe(503);
    expect(httpStatusOf(ErrorCodes.CONFIG)).toBe(400);
  });

  it('anything else is a 500 and exit 1, with a generic message over HTTP', () => {
    for (const e of [new Error('boom'), Object.assign(new Error('x'), { code: '42P01' }), 'text', null, undefined]) {
      expect(exitCodeOf(e)).toBe(1);
      expect(errorAnswer(e).httpStatus).toBe(500);
    }
    expect(httpStatusOf('LETHE_E_NO_SUCH_CODE')).toBe(500);
    expect(errorBody(new Error('secret detail'))).toEqual({
      status: 500,
      body: { error: { code: 'LETHE_E_INTERNAL', message: 'internal error; see the server log' } },
    });
  });

  it('maps by code: a usage code that crossed a thread boundary as data still exits 2', () => {
    expect(exitCodeOf(Object.assign(new Error('x'), { code: ErrorCodes.STORAGE_URL }))).toBe(2);
  });
});

/** One instance per exported error class; a new class without an entry here fails the test below. */
const INSTANCES: Record<string, LetheError[]> = {
  LetheError: CODES.map((code) => new LetheError(code, 'm')),
  ConfigError: [new ConfigError('m'), ...USAGE_CODES.map((code) => new ConfigError('m', code))],
  RunInProgressError: [new RunInProgressError()],
  SchemaError: [new SchemaError('m'), new SchemaError('m', ErrorCodes.NOT_MIGRATED)],
};

describe('every exported error class', () => {
  const classes = Object.entries(engine).filter(([, v]) => typeof v === 'function' && (v === LetheError || v.prototype instanceof LetheError));

  it('is listed here', () => {
    expect(classes.map(([name]) => name).sort()).toEqual(Object.keys(INSTANCES).sort());
  });

  it.each(Object.entries(INSTANCES))('%s maps through the table by its code', (name, errors) => {
    for (const e of errors) {
      expect(e).toBeInstanceOf(LetheError);
      expect(e.name).toBe(name);
      expect(errorAnswer(e)).toEqual(ERROR_ANSWERS[e.code]);
    }
  });

  it('ConfigError is a usage error (exit 2, HTTP 400) whatever its code: a bad key given as input', () => {
    for (const code of CODES) {
      const e = new ConfigError('m', code);
      expect(exitCodeOf(e)).toBe(2);
      expect(errorBody(e)).toEqual({ status: 400, body: { error: { code, message: 'm' } } });
    }
    // The same code from storage is a failure.
    expect(exitCodeOf(new LetheError(ErrorCodes.KEY_OUTSIDE_ROOT, 'm'))).toBe(1);
  });
});

describe('retryable SQLSTATEs', () => {
  it.each(Object.entries(RETRYABLE_SQLSTATES))('%s (%s) is retryable', (code, name) => {
    expect(code).toMatch(/^[0-9A-Z]{5}$/);
    expect(name).toMatch(/^[a-z_]+$/);
    expect(isRetryableSqlState(code)).toBe(true);
  });

  it('others are not', () => {
    for (const code of ['23505', '42P01', '42501', '22P02', undefined]) expect(isRetryableSqlState(code)).toBe(false);
  });
});
