/** undici's exports, as both lazy callers (webhook notices, processor notices) need them. */
export type Undici = typeof import('undici');

/**
 * undici, loaded on first use (docs/performance.md#start-up). It is a CommonJS package: in the
 * CLI's esbuild bundle a dynamic import of it resolves to `{ default: exports }`, without the named
 * exports Node's own loader adds, so take them from `default` when they are not at the top.
 */
export async function loadUndici(): Promise<Undici> {
  const m = (await import('undici')) as Undici & { default?: Undici };
  return typeof m.Agent === 'function' ? m : m.default!;
}
