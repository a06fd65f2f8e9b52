import { describe, expect, it } from 'vitest';
import { startInBackground } from './background.js';
import type { RunSummary } from './summary.js';

const summary = (runId: string) => ({ run_id: runId, status: 'completed' }) as unknown as RunSummary;

describe('startInBackground', () => {
  it('answers the id at the start, before the run ends, and reports the summary when it ends', async () => {
    let finish!: () => void;
    const { runId, ended } = startInBackground(async (onStart) => {
      onStart('r1');
      await new Promise<void>((resolve) => (finish = resolve));
      return summary('r1');
    });
    expect(await runId).toBe('r1');
    finish();
    expect(await ended).toEqual({ summary: summary('r1') });
  });

  it("answers the summary's id when the run ended without reporting a start", async () => {
    const { runId, ended } = startInBackground(async () => summary('r2'));
    expect(await runId).toBe('r2');
    expect(await ended).toEqual({ summary: summary('r2') });
  });

  it('rejects the id when the run fails before its start (the caller answers it)', async () => {
    const busy = new Error('another run is in progress');
    const { runId, ended } = startInBackground(async () => Promise.reject(busy));
    await expect(runId).rejects.toBe(busy);
    expect(await ended).toEqual({ error: busy, started: false });
  });

  it('keeps the id after the start and reports a later failure only through ended', async () => {
    const crash = new Error('lost the database');
    const { runId, ended } = startInBackground(async (onStart) => {
      onStart('r3');
      await Promise.resolve();
      throw crash;
    });
    expect(await runId).toBe('r3');
    expect(await ended).toEqual({ error: crash, started: true });
  });

  it('treats a starter that throws synchronously as a failure before the start', async () => {
    const bad = new Error('bad options');
    const { runId, ended } = startInBackground(() => {
      throw bad;
    });
    await expect(runId).rejects.toBe(bad);
    expect(await ended).toEqual({ error: bad, started: false });
  });
});
