import { execFileSync } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// The what-if engine variants of docs/performance.md#peers-what-if are patches that take a
// safety rule out of a bench-only copy of the engine (bench/profile/build-engine-variant.sh).
// They must keep applying to today's source (a patch that no longer applies would leave the
// documented figures without a way to reproduce them), and each marks every change it makes, so
// that none can be taken for, or pasted as, a real change.

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const VARIANTS = join(ROOT, 'bench', 'profile', 'variants');
const MARK = 'BENCH VARIANT';

const patches = (await readdir(VARIANTS)).filter((f) => f.endsWith('.patch')).sort();

describe('bench what-if variants', () => {
  it('there are variants to check', () => {
    expect(patches).toEqual(['no-ledger.patch', 'no-recheck.patch']);
  });

  it.each(patches)('%s applies to packages/engine/src as it is now', (name) => {
    // --check: nothing is written; a patch that does not apply exits non-zero and fails the test.
    expect(() =>
      execFileSync('git', ['apply', '--check', '-p1', '--directory=packages/engine/src', join(VARIANTS, name)], { cwd: ROOT, stdio: 'pipe' }),
    ).not.toThrow();
  });

  it.each(patches)('%s marks each hunk it adds as a bench variant', async (name) => {
    const text = await readFile(join(VARIANTS, name), 'utf8');
    const hunks = text.split(/^@@ /m).slice(1);
    expect(hunks.length).toBeGreaterThan(0);
    for (const hunk of hunks) {
      const added = hunk.split('\n').filter((l) => l.startsWith('+') && !l.startsWith('+++'));
      if (added.length > 0) expect(added.join('\n'), `a hunk of ${name}`).toContain(MARK);
    }
  });
});
