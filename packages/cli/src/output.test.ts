import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { ConfigError, ERROR_ANSWERS, ErrorCodes, LetheError, type ErrorCode } from '@lethe/engine';
import { ExitCode, reportError, UsageError, type Io } from './output.js';

function io(): Io & { out: () => string; err: () => string } {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (c: Buffer) => (out += c.toString()));
  stderr.on('data', (c: Buffer) => (err += c.toString()));
  return { stdout, stderr, env: {}, out: () => out, err: () => err };
}

describe('reportError: the exit code comes from the engine error table', () => {
  it.each(Object.entries(ERROR_ANSWERS))('%s exits %o', (code, answer) => {
    const streams = io();
    const exit = reportError(streams, new LetheError(code as ErrorCode, 'what went wrong'), true);
    expect(exit).toBe(answer.exitCode);
    expect(JSON.parse(streams.out())).toEqual({ error: { code, message: `${code}: what went wrong` } });
    expect(streams.err()).toBe(`lethe: ${code}: what went wrong\n`);
  });

  it('usage errors exit 2, whatever class carries the code', () => {
    expect(reportError(io(), new UsageError('--month: expected YYYY-MM, got "x"'), false)).toBe(ExitCode.USAGE);
    expect(reportError(io(), new ConfigError('purpose: unknown', ErrorCodes.POLICY_UNKNOWN), false)).toBe(ExitCode.USAGE);
    expect(reportError(io(), new LetheError(ErrorCodes.STORAGE_URL, 'storage: bad'), false)).toBe(ExitCode.USAGE);
    // `lethe hold ../x`: a key no run could erase, given as input.
    expect(reportError(io(), new ConfigError('file_key: ".." segments are not allowed', ErrorCodes.KEY_OUTSIDE_ROOT), false)).toBe(ExitCode.USAGE);
  });

  it('a finished worker group is not a usage error (exit 1)', () => {
    expect(reportError(io(), new LetheError(ErrorCodes.GROUP_FINISHED, 'group "g" already finished'), false)).toBe(ExitCode.FAILURES);
  });

  it('anything else exits 1 as LETHE_E_INTERNAL, or with its own code', () => {
    const a = io();
    expect(reportError(a, new Error('boom'), true)).toBe(ExitCode.FAILURES);
    expect(JSON.parse(a.out()).error.code).toBe('LETHE_E_INTERNAL');
    const b = io();
    expect(reportError(b, Object.assign(new Error('permission denied for table jobs'), { code: '42501' }), true)).toBe(ExitCode.FAILURES);
    expect(JSON.parse(b.out()).error.code).toBe('42501');
  });
});
