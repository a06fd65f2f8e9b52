import { ConfigError } from '../errors.js';
import { parseRetention, retentionApproxMs, retentionToInterval } from './retention.js';

/**
 * The undo window (docs/safety.md#undo-window-default-off, like GCS soft delete or DELF's restoration logs): erased files are
 * kept in the store's trash for a grace period, restorable, then purged. Off by default; "on" means
 * 7 days; a global value and per-purpose overrides (`{"Medical": "30d", "System Testing": "off"}`).
 */
export interface UndoWindow {
  /** Postgres interval text, e.g. `7 days`. */
  readonly interval: string;
  readonly approxMs: number;
}

export interface UndoWindows {
  readonly global: UndoWindow | null;
  readonly byPurpose: Readonly<Record<string, UndoWindow | null>>;
}

export const DEFAULT_UNDO_WINDOW = '7 days';

/**
 * A window is a recovery buffer, not a second retention: the report counts a file erased only
 * once purged, so a long window makes erasure late. 90 days is the ceiling.
 */
const MAX_WINDOW_MS = 90 * 86_400_000;

export function parseUndoWindow(value: unknown, field: string): UndoWindow | null {
  if (value === undefined || value === null || value === false) return null;
  const text = value === true ? 'on' : value;
  if (typeof text === 'string' && /^\s*(off|0|none)\s*$/i.test(text)) return null;
  const r = parseRetention(typeof text === 'string' && /^\s*on\s*$/i.test(text) ? DEFAULT_UNDO_WINDOW : text, field);
  const approxMs = retentionApproxMs(r);
  if (approxMs > MAX_WINDOW_MS) throw new ConfigError(`${field}: an undo window must be at most 90 days, got ${JSON.stringify(text)}`);
  return { interval: retentionToInterval(r), approxMs };
}

export function resolveUndoWindows(global: unknown, byPurpose: unknown): UndoWindows {
  if (byPurpose !== undefined && (byPurpose === null || typeof byPurpose !== 'object' || Array.isArray(byPurpose))) {
    throw new ConfigError(`undoWindows: expected an object of purpose -> window like {"Medical": "30d"}, got ${JSON.stringify(byPurpose)}`);
  }
  const per: Record<string, UndoWindow | null> = {};
  for (const [purpose, v] of Object.entries((byPurpose ?? {}) as Record<string, unknown>)) per[purpose] = parseUndoWindow(v, `undoWindows.${purpose}`);
  return Object.freeze({ global: parseUndoWindow(global, 'undoWindow'), byPurpose: Object.freeze(per) });
}

export const NO_UNDO_WINDOW: UndoWindows = Object.freeze({ global: null, byPurpose: Object.freeze({}) });

export function undoWindowFor(w: UndoWindows, purpose: string): UndoWindow | null {
  return Object.hasOwn(w.byPurpose, purpose) ? w.byPurpose[purpose]! : w.global;
}

export function anyUndoWindow(w: UndoWindows): boolean {
  return w.global !== null || Object.values(w.byPurpose).some((v) => v !== null);
}
