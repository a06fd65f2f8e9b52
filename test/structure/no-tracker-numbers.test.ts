import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { lethe } from '../cli/support/cli.js';

// Comments, test names, docs and help texts point at what a reader of the repository can follow:
// a docs section (docs/safety.md#legal-holds), a runbook id (OP-001, FM-002, EMERGENCY-001,
// REQ-001), or nothing. A tracker number ("issue 7", "(#12)") leads nowhere from here, and
// `lethe --help` never speaks of issues at all. The CLI half runs the built CLI: `pnpm run build`.

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SELF = fileURLToPath(import.meta.url);
/** "issue 7", "Issues 3 and 4", "issue-15", "issue #9", "(#12)". */
const TRACKER_NUMBER = /\bissues?[\s_-]*#?\d+|\(#\d+\)/i;
const SKIP_DIRS = new Set(['node_modules', 'dist', '.turbo', 'coverage']);

async function filesUnder(path: string): Promise<string[]> {
  const entries = await readdir(path, { withFileTypes: true }).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOTDIR') return null;
    throw e;
  });
  if (entries === null) return [path];
  const out: string[] = [];
  for (const entry of entries) {
    if (entry.isDirectory() && SKIP_DIRS.has(entry.name)) continue;
    if (entry.isDirectory()) out.push(...(await filesUnder(join(path, entry.name))));
    else if (entry.isFile()) out.push(join(path, entry.name));
  }
  return out;
}

/** packages/<name>/{src,bin}, bench, test, docs, README.md, deploy. */
async function scannedFiles(): Promise<string[]> {
  const roots = ['bench', 'test', 'docs', 'README.md', 'deploy'].map((p) => join(ROOT, p));
  for (const pkg of await readdir(join(ROOT, 'packages'), { withFileTypes: true })) {
    if (!pkg.isDirectory()) continue;
    for (const sub of ['src', 'bin']) roots.push(join(ROOT, 'packages', pkg.name, sub));
  }
  const files: string[] = [];
  for (const root of roots) {
    const found = await filesUnder(root).catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') return [];
      throw e;
    });
    files.push(...found.filter((f) => f !== SELF));
  }
  return files;
}

/** `file:line: text` for every line that names a tracker number. */
async function trackerReferences(files: readonly string[]): Promise<string[]> {
  const hits: string[] = [];
  for (const file of files) {
    const buffer = await readFile(file);
    if (buffer.includes(0)) continue; // binary
    buffer
      .toString('utf8')
      .split('\n')
      .forEach((line, i) => {
        if (TRACKER_NUMBER.test(line)) hits.push(`${relative(ROOT, file)}:${i + 1}: ${line.trim()}`);
      });
  }
  return hits;
}

/** Command names listed under "Commands:" in a help text (commander's layout), without `help`. */
function commandsOf(help: string): string[] {
  const section = help.split(/\nCommands:\n/)[1];
  if (section === undefined) return [];
  const names: string[] = [];
  for (const line of section.split('\n')) {
    const m = /^ {2}([a-z][\w-]*)/.exec(line);
    if (m && m[1] !== 'help') names.push(m[1]!);
  }
  return names;
}

describe('no tracker numbers', () => {
  it('the pattern catches the forms a tracker reference takes, and not ordinary words', () => {
    for (const s of ['see issue 7', 'Issue 9 (runbook FM-002)', 'issues 3 and 4', 'issue-15 work', 'issue #9', 'fixed (#12)']) {
      expect(TRACKER_NUMBER.test(s), s).toBe(true);
    }
    for (const s of ['investigating an issue.', 'issued 3 holds', 'tissue 5', 'FM-003', 'docs/safety.md#legal-holds', 'step 3 (#3a)']) {
      expect(TRACKER_NUMBER.test(s), s).toBe(false);
    }
  });

  it('appear in no source, bin, bench, test, docs, README or deploy file', async () => {
    const files = await scannedFiles();
    expect(files.some((f) => f.endsWith(join('packages', 'engine', 'src', 'engine.ts')))).toBe(true);
    expect(files.some((f) => f.endsWith(join('docs', 'safety.md')))).toBe(true);
    expect(files.some((f) => f.includes(join('packages', 'cli', 'bin')))).toBe(true);
    expect(files.some((f) => /[\\/](node_modules|dist)[\\/]/.test(f))).toBe(false);
    expect(await trackerReferences(files)).toEqual([]);
  });

  it('`lethe --help` and every `lethe <command> --help` never mention an issue', async () => {
    const seen: string[] = [];
    const offenders: string[] = [];
    let level: string[][] = [[]];
    while (level.length > 0) {
      const results: Awaited<ReturnType<typeof lethe>>[] = [];
      // A few at a time: the machine's cores are shared.
      for (let i = 0; i < level.length; i += 6) results.push(...(await Promise.all(level.slice(i, i + 6).map((path) => lethe([...path, '--help'], {})))));
      const next: string[][] = [];
      results.forEach((r, i) => {
        const path = level[i]!;
        const name = ['lethe', ...path, '--help'].join(' ');
        seen.push(name);
        expect(r.code, name).toBe(0);
        if (/issue/i.test(r.stdout + r.stderr)) offenders.push(`${name}:\n${r.stdout}${r.stderr}`);
        for (const sub of commandsOf(r.stdout)) next.push([...path, sub]);
      });
      level = next;
    }
    // The walk really reached the commands and their subcommands.
    expect(seen).toContain('lethe run --help');
    expect(seen).toContain('lethe restore --help');
    expect(seen).toContain('lethe policies revert --help');
    expect(seen.length).toBeGreaterThan(25);
    expect(offenders).toEqual([]);
  });
});
