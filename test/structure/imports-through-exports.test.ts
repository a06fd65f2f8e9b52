import { readdir, readFile } from 'node:fs/promises';
import { join, relative, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// Tests and benches use the packages as their users do: through the entries each package.json
// exports (`@lethe/engine`, `@lethe/engine/operations`, `@lethe/engine/testing`, ...), never by a
// relative path into packages/*/src or dist. A test that reaches past the exports tests a file the
// package does not publish, and keeps an internal from being moved or renamed.

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const PACKAGES = join(ROOT, 'packages');
const SKIP_DIRS = new Set(['node_modules', 'dist', '.turbo', 'coverage']);

async function sources(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (entry.isDirectory() && SKIP_DIRS.has(entry.name)) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await sources(path)));
    else if (/\.(ts|js|mjs)$/.test(entry.name)) out.push(path);
  }
  return out;
}

/** Static imports and re-exports (possibly spanning lines), side-effect imports, and `import('...')`. */
const PATTERNS = [/^\s*(?:import|export)\s[^;'"]*?\sfrom\s+['"]([^'"]+)['"]/gm, /^\s*import\s+['"]([^'"]+)['"]/gm, /\bimport\(\s*['"]([^'"]+)['"]\s*\)/g];

function specifiersOf(text: string): string[] {
  return PATTERNS.flatMap((p) => [...text.matchAll(p)].map((m) => m[1]!));
}

/** `@lethe/<name>` -> the subpaths its package.json exports ('.', './testing', ...). */
async function exportedEntries(): Promise<Map<string, Set<string>>> {
  const entries = new Map<string, Set<string>>();
  for (const pkg of await readdir(PACKAGES, { withFileTypes: true })) {
    if (!pkg.isDirectory()) continue;
    const manifest = JSON.parse(await readFile(join(PACKAGES, pkg.name, 'package.json'), 'utf8')) as { name: string; exports?: Record<string, unknown> };
    entries.set(manifest.name, new Set(Object.keys(manifest.exports ?? { '.': null })));
  }
  return entries;
}

/** Why `specifier` in `file` goes past a package's exports, or undefined when it does not. */
function violation(file: string, specifier: string, entries: Map<string, Set<string>>): string | undefined {
  if (specifier.startsWith('.')) {
    const target = relative(PACKAGES, resolve(dirname(file), specifier));
    return target.startsWith('..') ? undefined : `a relative path into packages/${target}`;
  }
  const m = /^(@lethe\/[^/]+)(\/.*)?$/.exec(specifier);
  if (!m) return undefined;
  const exported = entries.get(m[1]!);
  if (!exported) return `${m[1]} is not a workspace package`;
  const sub = m[2] === undefined ? '.' : `.${m[2]}`;
  return exported.has(sub) ? undefined : `${m[1]} does not export ${sub}`;
}

describe('tests and benches import packages through their exports', () => {
  it('the check refuses paths into packages and unexported subpaths, and accepts the exports', async () => {
    const entries = await exportedEntries();
    const file = join(ROOT, 'test', 'engine', 'x.test.ts');
    expect(violation(file, '../../packages/engine/src/run/index.js', entries)).toMatch(/relative path/);
    expect(violation(join(ROOT, 'bench', 'x.ts'), '../packages/engine/dist/index.js', entries)).toMatch(/relative path/);
    expect(violation(file, '@lethe/engine/src/run/index.js', entries)).toMatch(/does not export/);
    for (const ok of ['@lethe/engine', '@lethe/engine/testing', '@lethe/engine/operations', '../support/database.js', 'vitest']) {
      expect(violation(file, ok, entries), ok).toBeUndefined();
    }
  });

  it.each(['test', 'bench'])('%s/ reaches no package past its exports', async (dir) => {
    const entries = await exportedEntries();
    const files = (await sources(join(ROOT, dir))).filter((f) => f !== fileURLToPath(import.meta.url));
    expect(files.length).toBeGreaterThan(5);
    const offenders: string[] = [];
    for (const file of files) {
      for (const specifier of specifiersOf(await readFile(file, 'utf8'))) {
        const why = violation(file, specifier, entries);
        if (why) offenders.push(`${relative(ROOT, file)}: '${specifier}' (${why})`);
      }
    }
    expect(offenders).toEqual([]);
  });
});
