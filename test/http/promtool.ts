import { spawnSync } from 'node:child_process';

/** promtool (Debian package `prometheus`) when it is on PATH; the tests that need it skip otherwise. */
export const promtool: string | null = (() => {
  const r = spawnSync('promtool', ['--version'], { encoding: 'utf8' });
  return r.status === 0 ? 'promtool' : null;
})();

if (!promtool) console.warn('promtool is not on PATH (apt-get install prometheus): the promtool checks are skipped');

export function runPromtool(args: readonly string[], input?: string): { status: number | null; output: string } {
  const r = spawnSync(promtool ?? 'promtool', args, { encoding: 'utf8', ...(input === undefined ? {} : { input }) });
  return { status: r.status, output: `${r.stdout ?? ''}${r.stderr ?? ''}` };
}
