import { styleText } from 'node:util';

/**
 * Colour for states in human output (health, compliance, failures): only on a terminal, never
 * with NO_COLOR set (https://no-color.org), and forced by FORCE_COLOR (tests, `less -R`). The
 * decision is made once, in the runtime (program.ts), from the stream and the environment;
 * node:util styleText (Node >= 20.12) draws it. JSON output never goes through here.
 */
export function colourEnabled(stream: { isTTY?: boolean }, env: Readonly<Record<string, string | undefined>>): boolean {
  if (env.NO_COLOR) return false;
  const force = env.FORCE_COLOR;
  if (force !== undefined && force !== '') return force !== '0' && force !== 'false';
  return stream.isTTY === true;
}

type Style = Parameters<typeof styleText>[0];

export interface Palette {
  readonly enabled: boolean;
  readonly good: (text: string) => string;
  readonly warn: (text: string) => string;
  readonly bad: (text: string) => string;
  readonly dim: (text: string) => string;
  /** Colours a known state word: healthy/COMPLIANT/alive green, degraded/stopped yellow, unhealthy/NON-COMPLIANT/failed/STALE red. */
  readonly state: (text: string) => string;
}

const GOOD = new Set(['healthy', 'compliant', 'alive', 'completed', 'ok', 'pass']);
const WARN = new Set(['degraded', 'stopped', 'paused', 'interrupted', 'warn', 'completed (degraded)']);
const BAD = new Set(['unhealthy', 'non-compliant', 'failed', 'stale', 'fail', 'not running']);

export function createPalette(enabled: boolean): Palette {
  // validateStream: false: whether to colour is decided above, not by styleText's own stdout check.
  const paint =
    (style: Style) =>
    (text: string): string =>
      enabled ? styleText(style, text, { validateStream: false }) : text;
  const good = paint('green');
  const warn = paint('yellow');
  const bad = paint(['red', 'bold']);
  const dim = paint('dim');
  const state = (text: string): string => {
    const key = text.trim().toLowerCase();
    const word = key.split(/[\s(]/)[0] ?? key;
    if (GOOD.has(key) || (GOOD.has(word) && !WARN.has(key))) return good(text);
    if (WARN.has(key) || WARN.has(word)) return warn(text);
    if (BAD.has(key) || BAD.has(word)) return bad(text);
    return text;
  };
  return { enabled, good, warn, bad, dim, state };
}
