import { execFile } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { LetheError, ErrorCodes } from '@lethe/engine';
import { UsageError } from '../output.js';

/**
 * `lethe report --format pdf`: the HTML report printed by a headless Chromium (docs/runbook.md#compliance-reporting).
 * The browser is LETHE_CHROMIUM when set, else the first of these names on PATH. It loads the page
 * from a temporary file; the page fetches nothing (its Content-Security-Policy forbids it).
 */
const BROWSER_NAMES = ['chromium', 'chromium-browser', 'google-chrome', 'google-chrome-stable'];
const PRINT_TIMEOUT_MS = 90_000;

export function findChromium(env: NodeJS.ProcessEnv): string {
  const configured = env.LETHE_CHROMIUM;
  if (configured !== undefined && configured !== '') {
    if (!executable(configured))
      throw new UsageError(`LETHE_CHROMIUM: expected the path of a Chromium or Chrome executable, got ${JSON.stringify(configured)} (not an executable file)`);
    return configured;
  }
  for (const dir of (env.PATH ?? '').split(delimiter).filter(Boolean)) {
    for (const name of BROWSER_NAMES) if (executable(join(dir, name))) return join(dir, name);
  }
  throw new UsageError(
    '--format pdf: needs a headless Chromium to print the report, and none was found (LETHE_CHROMIUM is not set; no chromium, chromium-browser or google-chrome on PATH): install one (Debian: apt-get install chromium) or set LETHE_CHROMIUM, or use --format html and print that',
  );
}

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Prints `html` to PDF bytes with the browser; a failure says what the browser printed. */
export async function printPdf(browser: string, html: string): Promise<Buffer> {
  const dir = await mkdtemp(join(tmpdir(), 'lethe-report-pdf-'));
  try {
    const page = join(dir, 'report.html');
    const pdf = join(dir, 'report.pdf');
    await writeFile(page, html);
    const args = [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--no-first-run',
      '--no-pdf-header-footer',
      `--user-data-dir=${join(dir, 'profile')}`,
      `--print-to-pdf=${pdf}`,
      pathToFileURL(page).href,
    ];
    await new Promise<void>((resolve, reject) => {
      execFile(browser, args, { timeout: PRINT_TIMEOUT_MS, maxBuffer: 16 * 1024 * 1024 }, (error, _stdout, stderr) => {
        if (error)
          reject(
            new LetheError(
              ErrorCodes.CONFIG,
              `--format pdf: ${browser} could not print the report (${error.message.split('\n')[0]}): ${stderr.trim().split('\n').slice(-3).join(' | ')}`,
            ),
          );
        else resolve();
      });
    });
    return await readFile(pdf).catch(() => {
      throw new LetheError(ErrorCodes.CONFIG, `--format pdf: ${browser} exited without writing a PDF`);
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
