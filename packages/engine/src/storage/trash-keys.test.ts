import { describe, expect, it } from 'vitest';
import { isReservedKey, parseTrashKey, trashKeyFor } from './trash-keys.js';

const RUN = '123e4567-e89b-42d3-a456-426614174000';

describe('trash locations', () => {
  it('are .lethe/trash/<run id>/<name>, parsed back, never normalised', () => {
    expect(trashKeyFor(RUN, 'a/b.pdf')).toBe(`.lethe/trash/${RUN}/a/b.pdf`);
    expect(parseTrashKey(`.lethe/trash/${RUN}/a/b.pdf`)).toEqual({ run: RUN, name: 'a/b.pdf' });
    for (const bad of ['a/b.pdf', `.lethe/trash/not-a-run/x`, `.lethe/trash/${RUN}/../../etc/passwd`, `.lethe/trash/${RUN}/`, `/.lethe/trash/${RUN}/x`]) {
      expect(parseTrashKey(bad), bad).toHaveProperty('code');
    }
  });

  it('reserve .lethe/ for Lethe', () => {
    expect(isReservedKey('.lethe/trash/x')).toBe(true);
    expect(isReservedKey('.lethe')).toBe(true);
    expect(isReservedKey('.lethe-not/x')).toBe(false);
    expect(isReservedKey('docs/.lethe/x')).toBe(false);
  });
});
