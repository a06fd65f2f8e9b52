import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ago, createCliFixture, type CliFixture } from '../cli/support/fixture.js';
import { spawnLethe, type LetheProcess } from '../daemon/daemon-process.js';
import { letheOnTty } from '../support/tty.js';

/**
 * Logs on stderr: human lines on a terminal, JSON lines (ISO-8601 `time`) otherwise or when asked
 * (`--log-format json`, LETHE_LOG_FORMAT=json), for the CLI and the daemon; `run --json` keeps
 * stdout JSON only whatever the log format.
 */
let f: CliFixture;
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const ESC = '\u001b[';
const processes: LetheProcess[] = [];

beforeAll(async () => {
  f = await createCliFixture('log_format');
});
afterEach(async () => {
  await Promise.all(processes.splice(0).map((p) => p.kill()));
});
afterAll(async () => {
  await f.close();
});

const jsonLines = (text: string): Record<string, unknown>[] =>
  text
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);

describe('log format', () => {
  it('off a terminal: JSON lines with an ISO time on stderr, and only the summary JSON on stdout', async () => {
    await f.insert([['j1', 'a/1.pdf', 'System Testing', ago('2 days')]]);
    await f.touch('a/1.pdf');
    const r = await f.run(['run', '--json'], { LETHE_LOG_LEVEL: 'info' });
    expect(r.code).toBe(0);
    expect(r.json<{ deleted_count: number }>().deleted_count).toBe(1);
    const logs = jsonLines(r.stderr);
    expect(logs.map((l) => l.msg)).toEqual(expect.arrayContaining(['run started', 'run finished']));
    for (const l of logs.filter((x) => 'level' in x)) expect(l.time).toMatch(ISO);
  });

  it('on a terminal: human lines, coloured unless NO_COLOR; --log-format json and LETHE_LOG_FORMAT=json ask for JSON', async () => {
    const pretty = await letheOnTty(['run'], { ...f.env, LETHE_LOG_LEVEL: 'info' });
    expect(pretty.code).toBe(0);
    expect(pretty.output).toMatch(/^\[\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{3}Z\] .*INFO.*: .*run started/m);
    expect(pretty.output).not.toContain('{"level"');
    expect(pretty.output).toContain(ESC);

    const plain = await letheOnTty(['run'], { ...f.env, LETHE_LOG_LEVEL: 'info', NO_COLOR: '1' });
    expect(plain.output).toMatch(/^\[.*Z\] INFO: run started/m);
    expect(plain.output).not.toContain(ESC);

    for (const asked of [
      await letheOnTty(['--log-format', 'json', 'run'], { ...f.env, LETHE_LOG_LEVEL: 'info' }),
      await letheOnTty(['run'], { ...f.env, LETHE_LOG_LEVEL: 'info', LETHE_LOG_FORMAT: 'json' }),
    ]) {
      const logs = jsonLines(asked.output).filter((l) => 'level' in l);
      expect(logs.map((l) => l.msg)).toContain('run started');
      for (const l of logs) expect(l.time).toMatch(ISO);
    }
  });

  it('--log-format pretty off a terminal; a bad format exits 2 naming the flag or the variable', async () => {
    const pretty = await f.run(['run', '--log-format', 'pretty'], { LETHE_LOG_LEVEL: 'info' });
    expect(pretty.stderr).toMatch(/^\[.*Z\] INFO: run started/m);
    expect(pretty.stderr).not.toContain(ESC);
    const badFlag = await f.run(['--log-format', 'xml', 'status']);
    expect(badFlag.code).toBe(2);
    expect(badFlag.stderr).toContain("option '--log-format <format>' argument 'xml' is invalid");
    const badEnv = await f.run(['status'], { LETHE_LOG_FORMAT: 'xml' });
    expect(badEnv.code).toBe(2);
    expect(badEnv.stderr).toContain('LETHE_LOG_FORMAT: expected one of auto, pretty, json, got "xml"');
  });

  it("the daemon's JSON logs carry ISO times", async () => {
    const d = spawnLethe(['daemon'], { ...f.env, LETHE_SCHEDULE: '0 2 * * *', LETHE_HTTP_PORT: '0' });
    processes.push(d);
    const started = await d.waitForLine('daemon started', (l) => l.msg === 'daemon started');
    expect(started.time).toMatch(ISO);
  });
});
