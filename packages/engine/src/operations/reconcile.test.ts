import { describe, expect, it } from 'vitest';
import { reconcileRefusal } from './reconcile.js';

const side = (checked: number, orphans: number) => ({
  checked,
  skipped: 0,
  looked_at: checked,
  orphans,
  share: checked === 0 ? 0 : orphans / checked,
  samples: [],
  held: 0,
  held_samples: [],
});

describe('reconcileRefusal (DESIGN "Reconcile is guarded")', () => {
  it('lets a small share through, up to and including the limit', () => {
    expect(reconcileRefusal({ files: side(100, 5), rows: side(100, 0) }, 0.05)).toBeNull();
    expect(reconcileRefusal({ files: side(0, 0), rows: side(0, 0) }, 0.05)).toBeNull();
  });

  it('refuses an empty mount: every row looks orphaned', () => {
    const reason = reconcileRefusal({ files: side(0, 0), rows: side(1000, 1000) }, 0.05);
    expect(reason).toMatch(/^more than 5% look orphaned/);
    expect(reason).toContain('1000 of 1000 rows (100%) have no file: is the storage mounted');
    expect(reason).not.toContain('files (');
  });

  it('refuses a wrong prefix: every file looks orphaned, and names both sides when both are off', () => {
    const reason = reconcileRefusal({ files: side(200, 200), rows: side(10, 1) }, 0.05)!;
    expect(reason).toContain('200 of 200 files (100%) have no row and no ledger entry');
    expect(reason).toContain('1 of 10 rows (10%) have no file');
    expect(reason).toContain('--max-orphan-share');
  });
});
