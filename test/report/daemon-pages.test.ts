import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngine } from '@lethe/engine';
import { createDaemon, type Daemon } from '@lethe/daemon';
import { createHttpService } from '@lethe/http';
import { createDaemonFixture, seedExpired, type DaemonFixture } from '../daemon/daemon-fixture.js';
import { call } from '../http/support.js';
import { externalReferences, fieldsShown, renderPage, skipBrowserTests } from './browser.js';

/** The daemon serves the status page and the report page itself, behind its read token (docs/runbook.md#status-page; the route tests are in status-page.test.ts). */
const TOKEN = 'daemon-pages-token';
let f: DaemonFixture;
let daemon: Daemon;
let base: string;

beforeAll(async () => {
  f = await createDaemonFixture('report_daemon_pages');
  await seedExpired(f, 3);
  const engine = createEngine({ databaseUrl: f.db.url, storage: `file://${f.root}`, threads: 1 });
  daemon = createDaemon({
    engine,
    schedule: '0 2 * * *',
    timezone: 'UTC',
    instanceId: 'pages-a',
    http: { port: 0, host: '127.0.0.1', adminToken: TOKEN, createService: createHttpService },
  });
  const started = await daemon.start();
  base = `http://127.0.0.1:${started.httpPort}`;
});

afterAll(async () => {
  await daemon?.stop('test over');
  await f?.cleanup();
});

describe("the daemon's pages", () => {
  it('answers / and /report with HTML only with the read token', async () => {
    expect((await call(base, '/')).status).toBe(401);
    expect((await call(base, '/report')).status).toBe(401);
    const page = await call(base, '/', { token: TOKEN });
    expect([page.status, page.headers['content-type']]).toEqual([200, 'text/html; charset=utf-8']);
    expect(externalReferences(page.text)).toEqual([]);
    const report = await call(base, '/report', { token: TOKEN });
    expect([report.status, report.headers['content-type']]).toEqual([200, 'text/html; charset=utf-8']);
    expect(report.text).toContain('Cleanup Service - Monthly Report');
  });

  it.skipIf(skipBrowserTests)('shows its own next run, a running scheduler, not paused, and the backlog it has not run yet', async () => {
    const dom = await renderPage((await call(base, '/', { token: TOKEN })).text, 'daemon-status-page.png');
    const shown = fieldsShown(dom);
    expect(shown.get('health.next_run')).toBe(daemon.nextRun());
    expect(shown.get('health.scheduler_running')).toBe('running');
    expect(shown.get('health.paused')).toBe('no');
    expect(shown.get('health.last_run')).toBe('never');
    expect(dom).toContain('<td class="n" data-backlog="System Testing">3</td>');
    expect(dom).toContain('No runs yet.');
  });
});
