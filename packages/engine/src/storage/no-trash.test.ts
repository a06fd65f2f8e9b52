import { describe, expect, it } from 'vitest';
import { ErrorCodes } from '../errors.js';
import { noTrashOutcomes, noTrashRestore } from './no-trash.js';

describe('a store without a trash', () => {
  it('fails every key it is asked to trash, not retryably, and says the file was kept', () => {
    expect(noTrashOutcomes('memory://', ['a.pdf', 'b.pdf'])).toEqual([
      { key: 'a.pdf', outcome: 'failed', code: ErrorCodes.CONFIG, message: 'memory:// has no undo window (trash); the file was kept', retryable: false },
      { key: 'b.pdf', outcome: 'failed', code: ErrorCodes.CONFIG, message: 'memory:// has no undo window (trash); the file was kept', retryable: false },
    ]);
  });

  it('fails purges by trash location and restores with the same code', () => {
    expect(noTrashOutcomes('memory://', ['.lethe/trash/r/x'], 'purge')[0]).toMatchObject({
      key: '.lethe/trash/r/x',
      outcome: 'failed',
      code: ErrorCodes.CONFIG,
      message: expect.stringMatching(/has no trash to purge/),
    });
    expect(noTrashRestore('memory://')).toEqual({ outcome: 'failed', code: ErrorCodes.CONFIG, message: 'memory:// has no undo window (trash)' });
  });
});
