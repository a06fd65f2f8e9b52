import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// Every pooled connection Lethe takes goes through db/pool.ts's `checkOut`: it attaches the error
// listener (without one, a connection that dies while checked out is an uncaught exception that
// kills the process) and destroys a broken connection on release. A bare `pool.connect()`
// elsewhere in a package's source would skip both.

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CHECKOUT = join('packages', 'engine', 'src', 'db', 'pool.ts');
/** `pool.connect(`, `this.#pool.connect(`, `deps.pool.connect(`, `db.pool.connect(`: a pool's checkout, not a pg.Client's own connect. */
const BARE_CHECKOUT = /\b#?\w*pool\s*\.\s*connect\s*\(/i;

async function sources(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await sources(path)));
    else if (/\.ts$/.test(entry.name) && !/\.test\.ts$/.test(entry.name)) out.push(path);
  }
  return out;
}

describe('one checkout helper', () => {
  it('the pattern catches a pool checkout in its usual spellings, not a client connect', () => {
    for (const s of ['await pool.connect()', 'this.#pool.connect()', 'deps.pool.connect()', 'engine.pool .connect()', 'readPool.connect()'])
      expect(BARE_CHECKOUT.test(s), s).toBe(true);
    for (const s of ['await client.connect()', 'new pg.Client(url).connect()', 'checkOut(pool)']) expect(BARE_CHECKOUT.test(s), s).toBe(false);
  });

  it('no package source outside db/pool.ts calls pool.connect()', async () => {
    const offenders: string[] = [];
    let scanned = 0;
    for (const pkg of await readdir(join(ROOT, 'packages'), { withFileTypes: true })) {
      if (!pkg.isDirectory()) continue;
      const src = join(ROOT, 'packages', pkg.name, 'src');
      for (const file of await sources(src).catch(() => [])) {
        scanned++;
        const rel = relative(ROOT, file);
        if (rel === CHECKOUT) continue;
        (await readFile(file, 'utf8')).split('\n').forEach((line, i) => {
          if (BARE_CHECKOUT.test(line)) offenders.push(`${rel}:${i + 1}: ${line.trim()}`);
        });
      }
    }
    expect(scanned).toBeGreaterThan(50);
    expect(offenders).toEqual([]);
  });

  it('db/pool.ts itself checks out in one place', async () => {
    const text = await readFile(join(ROOT, CHECKOUT), 'utf8');
    expect(text.split('\n').filter((line) => BARE_CHECKOUT.test(line))).toHaveLength(1);
  });
});
