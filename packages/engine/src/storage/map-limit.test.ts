import { describe, expect, it } from 'vitest';
import { mapLimit } from './map-limit.js';

describe('mapLimit', () => {
  it('keeps the items order and passes each index', async () => {
    const out = await mapLimit(['a', 'b', 'c', 'd', 'e'], 2, async (x, i) => {
      // Later items finish first: the order of results must still be the items' order.
      for (let n = 0; n < 5 - i; n++) await Promise.resolve();
      return `${x}${i}`;
    });
    expect(out).toEqual(['a0', 'b1', 'c2', 'd3', 'e4']);
  });

  it('never has more than `limit` calls in flight, and uses all of them', async () => {
    let active = 0;
    let most = 0;
    const gates: Array<() => void> = [];
    const done = mapLimit(
      Array.from({ length: 10 }, (_, i) => i),
      3,
      async (x) => {
        active++;
        most = Math.max(most, active);
        await new Promise<void>((resolve) => gates.push(resolve));
        active--;
        return x * 2;
      },
    );
    // Release the gates one by one as calls arrive; each release lets one more call start.
    for (let released = 0; released < 10; released++) {
      while (gates.length === 0) await Promise.resolve();
      expect(active).toBeLessThanOrEqual(3);
      gates.shift()!();
    }
    expect(await done).toEqual([0, 2, 4, 6, 8, 10, 12, 14, 16, 18]);
    expect(most).toBe(3);
  });

  it('maps nothing to nothing, and a limit below 1 still makes progress', async () => {
    expect(await mapLimit([], 4, async (x: number) => x)).toEqual([]);
    expect(await mapLimit([1, 2], 0, async (x) => x + 1)).toEqual([2, 3]);
  });

  it('rejects when a call rejects', async () => {
    await expect(
      mapLimit([1, 2, 3], 2, async (x) => {
        if (x === 2) throw new Error('boom');
        return x;
      }),
    ).rejects.toThrow('boom');
  });
});
