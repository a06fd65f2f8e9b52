import { ErrorCodes, LetheError, RunInProgressError, type Engine, type RunOptions, type RunSummary } from '@lethe/engine';
import { describe, expect, it } from 'vitest';
import { RunGate } from './run-gate.js';
import { recordingLogger } from './testing/recording-logger.js';

const summary = (status: RunSummary['status']): RunSummary =>
  ({ run_id: 'r1', status, deleted_count: 3, failed_count: 0, refused_count: 0, duration_seconds: 1, dry_run: false, error: null }) as unknown as RunSummary;

/** An engine whose run() is scripted; runs honour the abort signal as the real one does. */
function fakeEngine(script: (o: RunOptions) => Promise<RunSummary>): Engine {
  return { pool: {} as Engine['pool'], run: (o: RunOptions = {}) => script(o) } as unknown as Engine;
}

describe('RunGate', () => {
  it('logs the run with its id and its summary, and reports the summary', async () => {
    const seen: RunSummary[] = [];
    const logger = recordingLogger();
    const gate = new RunGate({
      engine: fakeEngine(async (o) => {
        o.onStart?.('r1');
        return summary('completed');
      }),
      logger,
      onSummary: (s) => seen.push(s),
    });
    const result = await gate.run({ trigger: 'schedule', lockWaitMs: 0 });
    expect(result.kind).toBe('finished');
    expect(seen).toHaveLength(1);
    const runLines = logger.lines.filter((l) => l.msg === 'daemon run started' || l.msg === 'run summary');
    expect(runLines).toHaveLength(2);
    for (const l of runLines) expect(l.fields.runId).toBe('r1');
    expect(runLines[1]!.fields).toMatchObject({ status: 'completed', deleted_count: 3, failed_count: 0 });
  });

  it('turns a held lock and a pause into skips with clear log lines', async () => {
    const logger = recordingLogger();
    const busy = new RunGate({
      engine: fakeEngine(async () => {
        throw new RunInProgressError();
      }),
      logger,
      onSummary: () => {},
    });
    expect(await busy.run({ trigger: 'schedule', lockWaitMs: 0 })).toMatchObject({ kind: 'skipped', reason: 'busy' });
    const paused = new RunGate({
      engine: fakeEngine(async () => {
        throw new LetheError(ErrorCodes.PAUSED, 'Lethe is paused');
      }),
      logger,
      onSummary: () => {},
    });
    expect(await paused.run({ trigger: 'schedule', lockWaitMs: 0 })).toMatchObject({ kind: 'skipped', reason: 'paused' });
    expect(logger.lines.map((l) => l.msg)).toEqual([
      'another run holds the run lock: this run is refused (overlap policy "refuse")',
      'paused: skipping the run',
    ]);
  });

  it('start() resolves with the run id at once and abort() reaches the run; drain waits for it', async () => {
    let finished = false;
    const gate = new RunGate({
      engine: fakeEngine(async (o) => {
        o.onStart?.('r2');
        await new Promise<void>((resolve) => o.signal!.addEventListener('abort', () => resolve(), { once: true }));
        finished = true;
        return summary('interrupted');
      }),
      logger: recordingLogger(),
      onSummary: () => {},
    });
    expect(await gate.start({ trigger: 'api', by: 'admin', lockWaitMs: 0 })).toBe('r2');
    expect(gate.running).toBe(1);
    gate.abort();
    await gate.drain();
    expect(finished).toBe(true);
    expect(gate.running).toBe(0);
    await expect(gate.start({ trigger: 'api', lockWaitMs: 0 })).rejects.toMatchObject({ code: ErrorCodes.ABORTED });
  });

  it('start() rejects with the engine error when the run cannot start', async () => {
    const gate = new RunGate({
      engine: fakeEngine(async () => {
        throw new RunInProgressError();
      }),
      logger: recordingLogger(),
      onSummary: () => {},
    });
    await expect(gate.start({ trigger: 'api', lockWaitMs: 0 })).rejects.toMatchObject({ code: ErrorCodes.RUN_IN_PROGRESS });
  });
});
