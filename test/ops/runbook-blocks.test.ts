import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ago, createCliFixture, type CliFixture } from '../cli/support/fixture.js';
import { spawnLethe, type LetheProcess } from '../daemon/daemon-process.js';

/**
 * Every ```bash block of docs/runbook.md, run command by command as an operator would type it,
 * with the built `lethe` on PATH, against a real daemon (`lethe daemon`) and a real database and
 * storage root, so the runbook cannot drift from the CLI. Each command must exit as documented
 * (0 unless EXIT_CODES says otherwise, with the runbook's reason). Blocks that cannot run here are
 * in BLOCKS with the reason; commands that cannot run inside a runnable block are in SKIPPED_COMMANDS.
 * A block that is not classified fails the test, as does a classified block that is gone.
 */
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const RUNBOOK = join(ROOT, 'docs/runbook.md');

interface Block {
  /** `<heading> #<n>`: the n-th bash block under that heading (1-based). */
  readonly id: string;
  readonly line: number;
  readonly text: string;
}

/** The fenced ```bash blocks, each named by the heading it sits under. */
function bashBlocks(markdown: string): Block[] {
  const lines = markdown.split('\n');
  const blocks: Block[] = [];
  let heading = '(top)';
  const perHeading = new Map<string, number>();
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i]!;
    if (/^#{1,6} /.test(l)) heading = l.replace(/^#+ /, '').trim();
    if (/^```/.test(l)) {
      const end = lines.findIndex((x, j) => j > i && /^```\s*$/.test(x));
      if (end === -1) throw new Error(`docs/runbook.md:${i + 1}: a fence that never closes`);
      if (/^```bash\s*$/.test(l)) {
        const n = (perHeading.get(heading) ?? 0) + 1;
        perHeading.set(heading, n);
        blocks.push({ id: `${heading} #${n}`, line: i + 1, text: lines.slice(i + 1, end).join('\n') });
      }
      i = end;
    }
  }
  return blocks;
}

/** Commands of a block: continuations joined, comment-only and blank lines dropped. */
function commands(block: string): string[] {
  return block
    .replace(/\\\n\s*/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
}

type Classification = { readonly run: true } | { readonly skip: string };

/** Every bash block of the runbook, classified. A new block fails the exhaustiveness test until it is added here. */
const BLOCKS: Readonly<Record<string, Classification>> = {
  'OP-001: Manual cleanup trigger #1': { run: true },
  'OP-002: Check next scheduled run #1': { run: true },
  'OP-003: Pause / resume #1': { run: true },
  'OP-004: View cleanup history #1': { run: true },
  'OP-005: Verify file deletion #1': { run: true },
  'OP-006: Change a retention policy (new) #1': { run: true },
  'OP-007: What expires when, and notices before erasure (new) #1': { run: true },
  // The request procedures need a principal column on jobs and configured processors, which this
  // fixture's jobs table and daemon do not have; test/cli/erase.test.ts runs the same commands
  // (erase --principal, --dry-run, requests, show --reply, --overdue) on a table that has them.
  'REQ-001: Take an erasure request (new) #1': { skip: 'needs a principal column (user_id): test/cli/erase.test.ts runs these commands' },
  'REQ-001: Take an erasure request (new) #2': { skip: 'curl only: test/http/docs-curl.test.ts runs every curl line of the runbook against a live service' },
  'REQ-002: Follow up a request, reply to the data principal (new) #2': {
    skip: 'curl only: test/http/docs-curl.test.ts runs every curl line of the runbook against a live service',
  },
  'REQ-002: Follow up a request, reply to the data principal (new) #1': {
    skip: 'needs a stored request and a configured processor: test/cli/erase.test.ts and test/engine/erasure-processors.test.ts',
  },
  'REQ-003: An erasure request is overdue (new) #1': {
    skip: 'needs an overdue request: test/cli/erase.test.ts (requests --overdue) and test/ops/erasure-alerts.test.ts',
  },
  'FM-001: Cleanup job not running #1': { run: true },
  'FM-002: High failure rate #1': { run: true },
  'FM-003: Accidental deletion (wrong retention policy) #1': { run: true },
  'FM-004: Cleanup consuming too much CPU / memory #1': { run: true },
  'FM-005: Storage–DB inconsistency #1': { run: true },
  'EMERGENCY-001: Stop all deletions immediately #1': { run: true },
  'EMERGENCY-001: Stop all deletions immediately #2': {
    skip: 'curl only: test/http/docs-curl.test.ts runs every curl line of the runbook against a live service',
  },
  'EMERGENCY-002: Recover accidentally deleted files #1': { run: true },
  'EMERGENCY-003: Roll back a deployment #1': { run: true },
  'EMERGENCY-004: After a database restore #1': {
    skip: 'needs a database restored from a dump taken before erasures: test/cli/replay.test.ts runs lethe replay (--dry-run, --since) that way',
  },
  'Monthly report (for the DPDP compliance officer) #1': { run: true },
  'Monthly report (for the DPDP compliance officer) #2': {
    skip: 'curl only: test/http/docs-curl.test.ts runs every curl line of the runbook against a live service',
  },
};

/** Commands inside runnable blocks that cannot run here, matched by their start, with the reason. */
const SKIPPED_COMMANDS: readonly { readonly prefix: string; readonly reason: string }[] = [
  { prefix: 'kubectl ', reason: 'no Kubernetes cluster here: test/ops/runbook-k8s.test.ts checks every kubectl command against deploy/kubernetes' },
  { prefix: 'curl ', reason: 'test/http/docs-curl.test.ts runs every curl line of the runbook against a live service' },
  { prefix: 'echo "Lethe PAUSED by $(whoami): INC-4711" | mail ', reason: 'sends mail to the team: no mail transport here, and not Lethe' },
  {
    prefix: 'lethe restore <file_key> --from s3://backup-bucket/',
    reason: 'needs the backup bucket; restoring from an S3 backup is tested in test/ops/restore-backup-s3-settings.test.ts',
  },
  {
    prefix: 'lethe restore <file_key> --from /mnt/backups/',
    reason: 'the file was restored from the undo trash by the step before; restoring from a directory backup is tested in test/ops/restore-backup.test.ts',
  },
];

/** Commands documented to exit non-zero in the state their block leaves, keyed by block id and command start. */
const EXIT_CODES: readonly { readonly block: string; readonly prefix: string; readonly code: number; readonly reason: string }[] = [
  {
    block: 'OP-006: Change a retention policy (new) #1',
    prefix: 'lethe policies set General 14d --reason "DPO-12"   #',
    code: 2,
    reason: 'a shortening without --confirm saves nothing and exits 2 (OP-006 "Expected output")',
  },
  { block: 'EMERGENCY-001: Stop all deletions immediately #1', prefix: 'lethe status', code: 1, reason: 'paused is degraded: OP-002 exits 1 unless healthy' },
  { block: 'EMERGENCY-003: Roll back a deployment #1', prefix: 'lethe status', code: 1, reason: 'paused is degraded: OP-002 exits 1 unless healthy' },
];

const BLOCKS_FOUND = bashBlocks(readFileSync(RUNBOOK, 'utf8'));

let f: CliFixture;
let daemon: LetheProcess | null = null;
let cwd: string;
let env: Record<string, string>;
const RESTORED_KEY = 'r/restore-me.pdf';
const LOOKUP_KEY = 'uploads/2025/11/invoice-991.pdf';

beforeAll(async () => {
  f = await createCliFixture('runbook_blocks');
  // Expired rows for the runs to erase (into the undo trash), one of them to restore (EMERGENCY-002),
  // and the live file FM-003 looks up.
  const expired = Array.from({ length: 20 }, (_, i) => [`e-${i}`, `e/${i}.pdf`, 'System Testing', ago('3 days')] as const);
  await f.insert([...expired, ['restore-me', RESTORED_KEY, 'System Testing', ago('3 days')], ['invoice-991', LOOKUP_KEY, 'General', ago('1 day')]]);
  for (const [, key] of expired) await f.touch(key);
  await f.touch(RESTORED_KEY);
  await f.touch(LOOKUP_KEY);
  cwd = await mkdtemp(join(tmpdir(), 'lethe-runbook-blocks-'));
  env = {
    ...f.env,
    LETHE_UNDO_WINDOW: '7d',
    LETHE_LOG_LEVEL: 'warn',
    HOME: cwd,
    PATH: `${join(ROOT, 'node_modules/.bin')}${delimiter}${process.env.PATH ?? '/usr/bin:/bin'}`,
  };
  daemon = spawnLethe(['daemon'], { ...env, LETHE_SCHEDULE: '0 2 * * *', LETHE_HTTP_PORT: '0', LETHE_LOG_LEVEL: 'info' });
  await daemon.waitForLine('daemon started', (l) => l.msg === 'daemon started');
});

afterAll(async () => {
  await daemon?.kill();
  await f?.close();
  if (cwd) await rm(cwd, { recursive: true, force: true });
});

function sh(command: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile('bash', ['-o', 'pipefail', '-c', command], { env, cwd, timeout: 60_000 }, (error, stdout, stderr) =>
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr }),
    );
  });
}

/** The runbook's placeholders, filled in from the database as an operator would. */
async function fill(command: string): Promise<string> {
  if (!command.includes('<')) return command;
  const run = await f.db.pool.query<{ id: string }>(`SELECT id FROM lethe_runs WHERE NOT dry_run ORDER BY started_at DESC LIMIT 1`);
  const policy = await f.db.pool.query<{ v: number }>(`SELECT max(version)::int AS v FROM lethe_policy_versions`).catch(() => ({ rows: [{ v: 1 }] }));
  const values: Record<string, string> = {
    '<run id>': run.rows[0]?.id ?? 'no-run-yet',
    '<file_key>': RESTORED_KEY,
    '<reported file_key>': LOOKUP_KEY,
    '<N>': String(policy.rows[0]?.v ?? 1),
  };
  let out = command;
  for (const [k, v] of Object.entries(values)) out = out.replaceAll(k, v);
  const left = /<[a-z][a-z _-]*>/i.exec(out.replace(/\s[<>]\s|>\s*\S+\.csv/g, ' '));
  if (left) throw new Error(`unknown runbook placeholder ${left[0]} in: ${command} (add it to fill())`);
  return out;
}

/** Each block starts from what the runbook assumes: not paused, no run in flight. */
async function settle(): Promise<void> {
  const { rows } = await f.db.pool.query<{ paused: boolean }>('SELECT paused FROM lethe_control');
  if (rows[0]?.paused) expect((await sh('lethe resume --reason "runbook test: next block"')).code).toBe(0);
}

describe('docs/runbook.md bash blocks', () => {
  it('are all classified (run, or skipped with a reason), and every classified block still exists', () => {
    const found = BLOCKS_FOUND.map((b) => b.id);
    expect(found.length).toBeGreaterThanOrEqual(15);
    const unclassified = found.filter((id) => !(id in BLOCKS));
    expect(unclassified, 'new ```bash blocks in docs/runbook.md: add each to BLOCKS (run, or skip with a reason)').toEqual([]);
    expect(
      Object.keys(BLOCKS).filter((id) => !found.includes(id)),
      'blocks in BLOCKS that the runbook no longer has',
    ).toEqual([]);
    for (const s of SKIPPED_COMMANDS) {
      expect(
        BLOCKS_FOUND.some((b) => commands(b.text).some((c) => c.startsWith(s.prefix))),
        `skipped command still in the runbook: ${s.prefix}`,
      ).toBe(true);
    }
  });

  for (const block of BLOCKS_FOUND) {
    const c = BLOCKS[block.id];
    if (c === undefined || 'skip' in c) {
      // Deliberate: a block classified `skip` is listed with its reason (BLOCKS above) so the report
      // shows it; an unclassified one is shown here and fails the exhaustiveness test above.
      it.skip(`${block.id} (line ${block.line}): ${c && 'skip' in c ? c.skip : 'unclassified'}`, () => {});
      continue;
    }
    it(`${block.id} (line ${block.line})`, async () => {
      await settle();
      const ran: string[] = [];
      for (const command of commands(block.text)) {
        if (SKIPPED_COMMANDS.some((s) => command.startsWith(s.prefix))) continue;
        const expected = EXIT_CODES.find((e) => e.block === block.id && command.startsWith(e.prefix))?.code ?? 0;
        const r = await sh(await fill(command));
        expect(r.code, `docs/runbook.md:${block.line} \`${command}\`\nstdout: ${r.stdout.slice(0, 1500)}\nstderr: ${r.stderr.slice(0, 1500)}`).toBe(expected);
        ran.push(command);
      }
      expect(ran.length, 'a runnable block runs at least one command').toBeGreaterThan(0);
    });
  }
});
