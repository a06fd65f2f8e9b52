import { describe, expect, it } from 'vitest';
import { decodeBatch, type JournalEntry } from './entries.js';
import { JournalError, RunJournal } from './journal.js';
import type { JournalStore } from './store.js';

const RUN = '0b6f1c2e-3a4d-4e5f-8a9b-0c1d2e3f4a5b';

/** A store whose puts finish only when the test says (a barrier per put), failing when told to. */
function gatedStore(): JournalStore & { readonly written: Map<string, string>; readonly waiting: number; finish(error?: Error): Promise<void> } {
  const written = new Map<string, string>();
  const gates: Array<{ name: string; body: string; done: (error?: Error) => void }> = [];
  return {
    describe: 'gated',
    written,
    get waiting() {
      return gates.length;
    },
    put: (name, body) =>
      new Promise<void>((resolve, reject) => {
        gates.push({ name, body, done: (error) => (error ? reject(error) : (written.set(name, body), resolve())) });
      }),
    get: async (name) => written.get(name) ?? null,
    list: async function* () {
      yield* written.keys();
    },
    close: async () => {},
    async finish(error) {
      gates.shift()!.done(error);
      // Let the journal see the answer and start its next write.
      for (let i = 0; i < 5; i++) await Promise.resolve();
    },
  };
}

const entry = (id: string): JournalEntry => ({
  job_id: id,
  key: `k/${id}`,
  purpose: 'General',
  run_id: RUN,
  request_ref: null,
  erased_at: '2026-12-03T11:40:00.000Z',
  created_ms: 1,
});

describe('RunJournal: appends made while a write is in flight go out together', () => {
  it('three batches, two objects: the first alone, the two that came while it was written together', async () => {
    const store = gatedStore();
    const journal = new RunJournal(store, { runId: RUN, ledgerKey: (k) => k, now: () => Date.parse('2026-12-03T11:40:00Z') });
    const settled: string[] = [];
    const a = journal.append([entry('a1'), entry('a2')]).then(() => settled.push('a'));
    const b = journal.append([entry('b1')]).then(() => settled.push('b'));
    const c = journal.append([entry('c1')]).then(() => settled.push('c'));
    expect(store.waiting).toBe(1);
    await store.finish();
    expect(settled).toEqual(['a']);
    expect(store.waiting).toBe(1); // b and c, in one put
    await store.finish();
    await Promise.all([a, b, c]);
    expect(settled).toEqual(['a', 'b', 'c']);
    const objects = [...store.written.entries()]
      .sort(([x], [y]) => x.localeCompare(y))
      .map(([name, body]) => decodeBatch(name, body).entries.map((e) => e.job_id));
    expect(objects).toEqual([
      ['a1', 'a2'],
      ['b1', 'c1'],
    ]);
  });

  it('a failed write rejects every batch it carried with LETHE_E_JOURNAL, naming how many; later appends are tried again', async () => {
    const store = gatedStore();
    const journal = new RunJournal(store, { runId: RUN, ledgerKey: (k) => k, now: () => Date.now() });
    const first = journal.append([entry('a1')]);
    const b = journal.append([entry('b1')]);
    const c = journal.append([entry('c1'), entry('c2')]);
    await store.finish();
    await first;
    await store.finish(new Error('EIO: disk gone'));
    for (const p of [b, c]) {
      const error = await p.then(
        () => null,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(JournalError);
      expect((error as JournalError).code).toBe('LETHE_E_JOURNAL');
      expect((error as Error).message).toMatch(/EIO: disk gone; 3 erasures of 2 batches are committed in the ledger but not journaled/);
    }
    const later = journal.append([entry('d1')]);
    expect(store.waiting).toBe(1);
    await store.finish();
    await later;
    expect(store.written.size).toBe(2);
  });

  it('nothing to journal: no object', async () => {
    const store = gatedStore();
    const journal = new RunJournal(store, { runId: RUN, ledgerKey: (k) => k, now: () => Date.now() });
    await journal.append([]);
    expect(store.waiting).toBe(0);
  });
});
