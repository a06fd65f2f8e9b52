import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ago, createCliFixture, type CliFixture } from './support/fixture.js';

// A held file is HELD in `lethe lookup` (reason, who), and the human run summary names the held
// and shared files it kept, not only their counts.
let f: CliFixture;

beforeAll(async () => {
  f = await createCliFixture('held_shared');
  await f.insert([
    ['h-1', 'k/held.pdf', 'System Testing', ago('3 days')],
    ['s-old', 'k/shared.pdf', 'System Testing', ago('3 days')],
    ['s-live', 'k/shared.pdf', 'Legal', ago('1 day')],
    ['e-1', 'k/erased.pdf', 'System Testing', ago('3 days')],
  ]);
  for (const k of ['k/held.pdf', 'k/shared.pdf', 'k/erased.pdf']) await f.touch(k);
  const hold = await f.run(['hold', 'k/held.pdf', '--reason', 'INC-4711 litigation', '--by', 'legal@example.com']);
  expect(hold.code).toBe(0);
});

afterAll(async () => {
  await f.close();
});

describe('held and shared files', () => {
  it('lookup says HELD with the hold reason and who placed it', async () => {
    const r = await f.run(['lookup', 'k/held.pdf']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('k/held.pdf: HELD');
    expect(r.stdout).toContain('"INC-4711 litigation" by legal@example.com');
    const j = (await f.run(['lookup', 'k/held.pdf', '--json'])).json<{ state: string; holds: { reason: string; created_by: string }[] }>();
    expect(j.state).toBe('held');
    expect(j.holds).toMatchObject([{ reason: 'INC-4711 litigation', created_by: 'legal@example.com' }]);
  });

  it('the human run summary lists the held and the shared files it kept', async () => {
    const r = await f.run(['run']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Held: 1 row kept under a legal hold (`lethe holds`); files "k/held.pdf"');
    expect(r.stdout).toContain('Shared: 1 row kept: the file is shared with a live row; files "k/shared.pdf"');
    expect(await f.exists('k/held.pdf')).toBe(true);
    expect(await f.exists('k/erased.pdf')).toBe(false);
  });
});
