import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../errors.js';
import { templatePattern } from '../../operations/coverage.js';
import { parseTemplate, resolveDerived } from './declarations.js';
import { expandFor } from './objects.js';

const noUrl = (): void => {};
const values = (o: Record<string, string | null>) => new Map(Object.entries(o));

describe('derived declarations', () => {
  it('parses templates into literal parts and placeholders, and tells prefixes and shareable ones apart', () => {
    const t = parseTemplate('t', 'derived/{id}/', null);
    expect(t).toMatchObject({ parts: ['derived/', { column: 'id' }, '/'], columns: ['id'], prefix: true, shareable: false });
    expect(parseTemplate('t', 'blobs/{blob_sha}.bin', null)).toMatchObject({ prefix: false, shareable: true });
  });

  it('refuses templates that could name a place outside the root, or the same object for every job', () => {
    for (const bad of ['/abs/{id}', '../{id}', 'a/../{id}', '{id}//x', 'static.json', '.lethe/{id}', 'a\\{id}', '{bad-name}', 'a{']) {
      expect(() => parseTemplate('derived.objects[0].template', bad, null), bad).toThrow(ConfigError);
    }
  });

  it('expands with the row values and refuses an expansion that escapes, never deleting it', () => {
    const t = parseTemplate('t', 'thumbs/{blob}/{id}.png', null);
    expect(expandFor(t, values({ id: '7', blob: 'ab' }))).toEqual({ key: 'thumbs/ab/7.png' });
    expect(expandFor(t, values({ id: '7', blob: null }))).toBeNull();
    expect(expandFor(t, values({ id: '7', blob: '..' }))).toHaveProperty('problem');
    // One segment only: {blob} = "a/b" could reach into another job's objects.
    expect(expandFor(t, values({ id: '7', blob: 'a/b' }))).toHaveProperty('problem');
    const f = parseTemplate('t', '{file_key}.ocr.json', null);
    expect(expandFor(f, values({ file_key: 'docs/a.pdf' }))).toEqual({ key: 'docs/a.pdf.ocr.json' });
    expect(expandFor(f, values({ file_key: '/etc/passwd' }))).toHaveProperty('problem');
  });

  it('matches keys against a template for coverage', () => {
    expect(templatePattern(parseTemplate('t', '{file_key}.ocr.json', null)).test('a/b.pdf.ocr.json')).toBe(true);
    expect(templatePattern(parseTemplate('t', 'thumbs/{id}.png', null)).test('thumbs/1.png')).toBe(true);
    expect(templatePattern(parseTemplate('t', 'thumbs/{id}.png', null)).test('thumbs/1/2.png')).toBe(false);
    expect(templatePattern(parseTemplate('t', 'pages/{id}/', null)).test('pages/1/3.png')).toBe(true);
  });

  it('validates the whole section, naming each bad field', () => {
    expect(() => resolveDerived({ tables: [{ table: 'p', column: 'job_id', refersTo: 'x' as never }] }, noUrl)).toThrow(
      /derived\.tables\[0\]\.refersTo: expected "id" or "file_key"/,
    );
    expect(() => resolveDerived({ objects: [{ template: '{id}', extra: 1 } as never] }, noUrl)).toThrow(/derived\.objects\[0\]\.extra: unknown field/);
    expect(() => resolveDerived({ keep: [{ prefix: 'exports', reason: 'x' }] }, noUrl)).toThrow(
      /derived\.keep\[0\]\.prefix: expected a safe relative prefix ending in "\/"/,
    );
    expect(() => resolveDerived({ keep: [{ table: 'a', prefix: 'b/', reason: 'x' } as never] }, noUrl)).toThrow(/exactly one of "table" or "prefix"/);
    const d = resolveDerived({ tables: [{ table: 'ocr_pages', column: 'job_id' }], keep: [{ table: 'invoices', reason: 'tax law' }] }, noUrl);
    expect(d.tables).toEqual([{ table: 'ocr_pages', column: 'job_id', refersTo: 'id' }]);
    expect(d.keepTables.get('invoices')).toBe('tax law');
  });
});
