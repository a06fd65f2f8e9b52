/**
 * Maps `items` through `fn` with at most `limit` calls in flight (at least one), keeping the
 * results in the items' order. The one bounded-concurrency loop: the filesystem adapter's deletes,
 * trash moves and purges, the S3 adapter's per-key listings, trash copies and inspections, and
 * verify's stats use it (tests and benches through @lethe/engine/testing). A rejection from `fn`
 * rejects the whole map (callers turn their failures into outcomes inside `fn`, so one key's error
 * never hides another key's outcome).
 */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const run = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, run));
  return out;
}
