import { execFile, spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/**
 * A real headless Chromium (Debian `chromium`) and poppler's `pdftotext` for the report and
 * status page tests. Absent locally: the tests that need them skip, saying why. Under CI=true
 * they must be there (.ci/run installs them): `needTools()` fails the test instead.
 */
function found(command: string, args: readonly string[]): string | null {
  const r = spawnSync(command, args, { encoding: 'utf8', timeout: 30_000 });
  return r.status === 0 ? command : null;
}

export const chromium: string | null = found(process.env.LETHE_CHROMIUM || 'chromium', ['--headless', '--no-sandbox', '--version']);
export const pdftotext: string | null = found('pdftotext', ['-v']);
const ci = process.env.CI === 'true';

/** True when the browser tests cannot run here and may be skipped (never under CI=true). */
export const skipBrowserTests = (chromium === null || pdftotext === null) && !ci;
if (skipBrowserTests) {
  console.warn(
    `${chromium === null ? 'chromium' : 'pdftotext'} is not installed (apt-get install chromium poppler-utils): the browser checks of the HTML report and status page are skipped; under CI=true they fail`,
  );
}

export function needTools(): { chromium: string; pdftotext: string } {
  if (chromium === null)
    throw new Error('chromium is not installed (apt-get install chromium; .ci/run installs it): the HTML pages cannot be checked in a browser');
  if (pdftotext === null) throw new Error('pdftotext is not installed (apt-get install poppler-utils; .ci/run installs it): the PDF report cannot be checked');
  return { chromium, pdftotext };
}

/** The repository's artifacts/ folder (gitignored): CI keeps the screenshots. */
export const ARTIFACTS = fileURLToPath(new URL('../../artifacts/', import.meta.url));

function run(command: string, args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { timeout: 90_000, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${command} ${args.join(' ')} failed: ${error.message}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

/**
 * Loads the page from a file in headless Chromium and returns the DOM it rendered; with
 * `screenshot`, also writes a PNG of it to artifacts/<screenshot>.
 */
export async function renderPage(html: string, screenshot?: string): Promise<string> {
  const browser = needTools().chromium;
  const dir = await mkdtemp(join(tmpdir(), 'lethe-browser-'));
  try {
    const page = join(dir, 'page.html');
    await writeFile(page, html);
    const base = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', `--user-data-dir=${join(dir, 'profile')}`];
    const dom = await run(browser, [...base, '--dump-dom', pathToFileURL(page).href]);
    if (screenshot !== undefined) {
      await mkdir(ARTIFACTS, { recursive: true });
      await run(browser, [...base, '--hide-scrollbars', '--window-size=1280,2200', `--screenshot=${join(ARTIFACTS, screenshot)}`, pathToFileURL(page).href]);
    }
    return dom;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The PDF's text, as pdftotext reads it (reading order, one line per text line). */
export function pdfText(pdfPath: string): Promise<string> {
  return run(needTools().pdftotext, [pdfPath, '-']);
}

const ENTITIES: Record<string, string> = { '&amp;': '&', '&lt;': '<', '&gt;': '>', '&quot;': '"', '&#39;': "'", '&nbsp;': '\u00a0' };
const decode = (s: string): string => s.replace(/&(amp|lt|gt|quot|#39|nbsp);/g, (e) => ENTITIES[e]!);

/** Every `data-field` value the page shows: path -> the text shown (entities decoded). */
export function fieldsShown(dom: string): Map<string, string> {
  const shown = new Map<string, string>();
  for (const m of dom.matchAll(/<span data-field="([^"]+)">([^<]*)<\/span>/g)) shown.set(decode(m[1]!), decode(m[2]!));
  return shown;
}

/** The value at a dotted path (`by_purpose.0.deleted`) of a JSON document. */
export function at(doc: unknown, path: string): unknown {
  return path.split('.').reduce<unknown>((v, k) => (v === null || v === undefined ? undefined : (v as Record<string, unknown>)[k]), doc);
}

/** How the pages print a JSON value: counts with separators, null as '-'. */
export const shownAs = (v: unknown): string => (v === null ? '-' : typeof v === 'number' ? v.toLocaleString('en-US') : String(v));

/** `src=`/`href=` (or CSS url()/@import) that would reach outside the page; `<script>` and `<link>`. */
export function externalReferences(html: string): string[] {
  const found: string[] = [];
  for (const m of html.matchAll(/\b(?:src|href|action|srcset|poster|data)\s*=\s*["']?\s*((?:[a-z][a-z0-9+.-]*:)?\/\/[^"'\s>]*)/gi)) found.push(m[0]);
  for (const m of html.matchAll(/url\(\s*["']?(?!data:)[^)]*\)|@import[^;]*;|<script\b|<link\b|<iframe\b|<img\b[^>]*src=["']?(?!data:)/gi)) found.push(m[0]);
  for (const m of html.matchAll(/https?:\/\/[^\s"'<>]*/gi)) found.push(m[0]);
  return found;
}
