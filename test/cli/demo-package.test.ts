import { execFile } from 'node:child_process';
import { chmod, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { lethe } from './support/cli.js';

// The README's first command runs `pnpm demo` = the `lethe-demo` bin of @lethe/demo, which
// registers `demo` into the CLI; the runtime CLI alone points at it instead.
const DEMO_BIN = fileURLToPath(new URL('../../packages/demo/bin/lethe-demo.js', import.meta.url));

function demo(args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [DEMO_BIN, ...args],
      { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LETHE_LOG_LEVEL: 'warn' }, timeout: 120_000, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        resolve({ code: error ? (typeof error.code === 'number' ? error.code : 99) : 0, stdout, stderr });
      },
    );
  });
}

describe('the demo package', () => {
  const dirs: string[] = [];
  afterAll(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it('lethe-demo --json seeds an embedded PostgreSQL and files, runs Lethe and prints only the JSON summary', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'lethe-demo-'));
    dirs.push(dir);
    // As root the embedded server runs as a `postgres` user, which must reach the directory.
    await chmod(dir, 0o755);
    const r = await demo(['--json', '--dir', dir]);
    expect(r.stderr).not.toMatch(/Error:|\n\s+at /);
    const summary = JSON.parse(r.stdout) as { status: string; deleted_count: number; refused_count?: number; demo: { files_left: number } };
    expect(summary.status).toBe('completed');
    expect(summary.deleted_count).toBeGreaterThan(0);
    expect(summary.demo.files_left).toBeGreaterThan(0);
    // Documents left, not Lethe's own objects: the run wrote its erasure journal under files/.lethe/journal/.
    const files = join(dir, 'files');
    const journal = await readdir(join(files, '.lethe', 'journal'));
    expect(journal.length).toBeGreaterThan(0);
    const all = (await readdir(files, { recursive: true, withFileTypes: true })).filter((e) => e.isFile());
    const documents = all.filter((e) => !join(e.parentPath, e.name).startsWith(join(files, '.lethe') + '/'));
    expect(summary.demo.files_left).toBe(documents.length);
    expect(documents.length).toBeLessThan(all.length);
  }, 150_000);

  it('`lethe demo` without the demo package says where the demo is (exit 2, no stack trace)', async () => {
    const r = await lethe(['demo'], {});
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('pnpm demo');
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});
