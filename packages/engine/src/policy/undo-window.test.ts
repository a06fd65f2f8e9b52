import { describe, expect, it } from 'vitest';
import { anyUndoWindow, NO_UNDO_WINDOW, parseUndoWindow, resolveUndoWindows, undoWindowFor } from './undo-window.js';

describe('undo window settings', () => {
  it('is off by default, 7 days when on, a duration otherwise', () => {
    expect(parseUndoWindow(undefined, 'undoWindow')).toBeNull();
    expect(parseUndoWindow('off', 'undoWindow')).toBeNull();
    expect(parseUndoWindow('0', 'undoWindow')).toBeNull();
    expect(parseUndoWindow('on', 'undoWindow')).toMatchObject({ interval: '7 days' });
    expect(parseUndoWindow(true, 'undoWindow')).toMatchObject({ interval: '7 days' });
    expect(parseUndoWindow('72h', 'undoWindow')).toMatchObject({ interval: '72 hours' });
    expect(anyUndoWindow(NO_UNDO_WINDOW)).toBe(false);
  });

  it('names the field and what was expected', () => {
    expect(() => parseUndoWindow('soon', 'undoWindow')).toThrow(/^undoWindow: must be a positive duration/);
    expect(() => parseUndoWindow('1y', 'undoWindows.Medical')).toThrow(/^undoWindows\.Medical: an undo window must be at most 90 days, got "1y"$/);
    expect(() => resolveUndoWindows(undefined, ['7d'])).toThrow(/^undoWindows: expected an object/);
  });

  it('per-purpose values override the global one, including "off"', () => {
    const w = resolveUndoWindows('7d', { Medical: '30d', 'System Testing': 'off' });
    expect(undoWindowFor(w, 'General')?.interval).toBe('7 days');
    expect(undoWindowFor(w, 'Medical')?.interval).toBe('30 days');
    expect(undoWindowFor(w, 'System Testing')).toBeNull();
    expect(anyUndoWindow(resolveUndoWindows(undefined, { Medical: '30d' }))).toBe(true);
  });
});
