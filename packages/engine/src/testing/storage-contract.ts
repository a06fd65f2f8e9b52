/**
 * The storage contract (STYLE "Ports and adapters"): one suite every StoragePort adapter passes.
 * Not a test file itself (vitest collects `*.test.ts` only): test/storage/<adapter>-contract.test.ts
 * call `storageContract` with a factory. It imports vitest, so only tests may import it.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { KeyOutcome, ObjectInfo, StoragePort } from '../ports.js';

/** One fresh, empty storage root and the means to put objects in and around it. */
export interface ContractSubject {
  readonly storage: StoragePort;
  /** Writes an object at `key` under the storage root. */
  put(key: string, body: string): Promise<void>;
  /** Writes an object just outside the root (a sibling directory or prefix), named `name`. */
  putOutside(name: string, body: string): Promise<void>;
  /** Whether the object outside the root named `name` still exists. */
  existsOutside(name: string): Promise<boolean>;
  /** Closes the storage and removes what the subject created. */
  dispose(): Promise<void>;
}

export interface ContractOptions {
  readonly name: string;
  readonly create: () => Promise<ContractSubject>;
  /**
   * Whether the adapter can tell "already absent" from "erased" (the filesystem can; S3 only in
   * erase-all mode on a versioned bucket, see storage/s3/s3-storage.ts). When false, a missing key may be
   * reported `erased`; the object must be gone either way.
   */
  readonly observesAbsence: boolean;
}

/** Keys every adapter must refuse without I/O, each able to name the object outside the root. */
export const UNSAFE_KEYS: readonly string[] = [
  '../outside/victim',
  'a/../../outside/victim',
  '/outside/victim',
  './a',
  'a//b',
  'a/',
  '',
  'a\u0000b',
  '..\\outside\\victim',
  'C:/outside/victim',
];

async function collect(list: AsyncIterable<ObjectInfo>): Promise<ObjectInfo[]> {
  const out: ObjectInfo[] = [];
  for await (const o of list) out.push(o);
  return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

export function storageContract(options: ContractOptions): void {
  const gone = options.observesAbsence ? ['absent'] : ['absent', 'erased'];

  describe(`storage contract: ${options.name}`, () => {
    let s: ContractSubject;
    beforeEach(async () => {
      s = await options.create();
    });
    afterEach(async () => {
      await s.dispose();
    });

    it('returns no outcomes for no keys', async () => {
      expect(await s.storage.deleteMany([])).toEqual([]);
    });

    it('returns one outcome per key, in input order', async () => {
      for (const k of ['a.pdf', 'dir/b.pdf', 'dir/sub/c.pdf']) await s.put(k, k);
      const keys = ['dir/sub/c.pdf', 'missing.pdf', 'a.pdf', '../outside/victim', 'dir/b.pdf'];
      const out: KeyOutcome[] = await s.storage.deleteMany(keys);
      expect(out.map((o) => o.key)).toEqual(keys);
      expect(out.map((o) => o.outcome)).toEqual(['erased', expect.toBeOneOf(gone), 'erased', 'refused', 'erased']);
      expect(await collect(s.storage.list())).toEqual([]);
    });

    it('reports erased, then absent on a second delete', async () => {
      await s.put('once.pdf', 'x');
      expect(await s.storage.deleteMany(['once.pdf'])).toEqual([{ key: 'once.pdf', outcome: 'erased' }]);
      expect(await s.storage.stat('once.pdf')).toBeNull();
      const again = await s.storage.deleteMany(['once.pdf']);
      expect(again).toHaveLength(1);
      expect(again[0]!.outcome).toBeOneOf(gone);
      expect(await s.storage.stat('once.pdf')).toBeNull();
    });

    it('refuses unsafe keys with a code and never touches what they name', async () => {
      await s.putOutside('victim', 'keep me');
      await s.put('a/b', 'inside');
      const out = await s.storage.deleteMany(UNSAFE_KEYS);
      expect(out.map((o) => o.key)).toEqual(UNSAFE_KEYS);
      for (const o of out) {
        expect(o.outcome, JSON.stringify(o.key)).toBe('refused');
        expect(o.code).toMatch(/^LETHE_E_KEY_/);
        expect(o.retryable).toBe(false);
      }
      expect(await s.existsOutside('victim')).toBe(true);
      expect((await s.storage.stat('a/b'))?.size).toBe(6);
      await expect(s.storage.stat('../outside/victim')).rejects.toMatchObject({ code: expect.stringMatching(/^LETHE_E_KEY_/) });
    });

    it('deletes a key named twice in one call once: one erased, the rest absent', async () => {
      await s.put('twice.pdf', 'x');
      const out = await s.storage.deleteMany(['twice.pdf', 'twice.pdf', 'twice.pdf']);
      expect(out.map((o) => o.key)).toEqual(['twice.pdf', 'twice.pdf', 'twice.pdf']);
      expect(out.map((o) => o.outcome).sort()).toEqual(['absent', 'absent', 'erased']);
      expect(await s.storage.stat('twice.pdf')).toBeNull();
    });

    it('lists what stat sees, relative to the root, without the reserved .lethe prefix', async () => {
      const files: Record<string, string> = {
        'x.pdf': '1',
        'd/one.pdf': '22',
        'd/two.pdf': '333',
        'dd/three.pdf': '4444',
        'dir with space/ümlaut 文件.pdf': '55555',
      };
      for (const [k, body] of Object.entries(files)) await s.put(k, body);
      await s.put('.lethe/state.json', '{}');
      const all = await collect(s.storage.list());
      expect(all.map((o) => o.key)).toEqual(Object.keys(files).sort());
      for (const o of all) {
        expect(o.size).toBe(files[o.key]!.length);
        const st = await s.storage.stat(o.key);
        expect(st).toMatchObject({ key: o.key, size: o.size });
        expect(Math.abs(st!.modifiedMs - o.modifiedMs)).toBeLessThan(2000);
      }
      expect((await collect(s.storage.list('d'))).map((o) => o.key)).toEqual(['d/one.pdf', 'd/two.pdf']);
      expect((await collect(s.storage.list('d/'))).map((o) => o.key)).toEqual(['d/one.pdf', 'd/two.pdf']);
      expect(await collect(s.storage.list('nothing-here'))).toEqual([]);
      expect(await s.storage.stat('d/none.pdf')).toBeNull();
      await s.storage.deleteMany(['d/one.pdf']);
      expect((await collect(s.storage.list('d'))).map((o) => o.key)).toEqual(['d/two.pdf']);
    });
  });
}
