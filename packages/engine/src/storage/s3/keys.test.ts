import { posix } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fitsDeleteObjectsXml, fromObjectKey, listPrefix, toObjectKey } from './keys.js';

describe('toObjectKey', () => {
  it('applies the prefix to safe keys', () => {
    expect(toObjectKey('tenant/docs/', 'a/b.pdf')).toEqual({ objectKey: 'tenant/docs/a/b.pdf' });
    expect(toObjectKey('', 'a.pdf')).toEqual({ objectKey: 'a.pdf' });
  });

  it.each(['../x', 'a/../../x', '/x', './x', 'a//b', '', 'a\\..\\x'])('refuses %j before any prefix is applied', (key) => {
    const r = toObjectKey('p/', key);
    expect('problem' in r && r.problem.code).toMatch(/^LETHE_E_KEY_/);
  });

  it('refuses keys that fit alone but not with the prefix under the 1024-byte limit', () => {
    const r = toObjectKey('p'.repeat(100) + '/', 'k'.repeat(1000));
    expect('problem' in r && r.problem.code).toBe('LETHE_E_KEY_INVALID');
  });

  it('never yields an object key outside the prefix, even after normalisation', () => {
    const segment = fc.oneof(fc.constantFrom('..', '.', '', 'a', '...', '%2e%2e'), fc.string({ maxLength: 4 }));
    fc.assert(
      fc.property(fc.array(segment, { minLength: 1, maxLength: 6 }), fc.constantFrom('', 'p/', 'a/b/'), (segments, prefix) => {
        const r = toObjectKey(prefix, segments.join('/'));
        if ('objectKey' in r) {
          expect(r.objectKey.startsWith(prefix)).toBe(true);
          expect(posix.normalize(r.objectKey).startsWith(prefix)).toBe(true);
        }
      }),
      { numRuns: 2000 },
    );
  });
});

describe('fromObjectKey and listPrefix', () => {
  it('reports keys relative to the prefix, skipping .lethe/ and folder placeholders', () => {
    expect(fromObjectKey('p/', 'p/a/b.pdf')).toBe('a/b.pdf');
    expect(fromObjectKey('p/', 'p/.lethe/state')).toBeNull();
    expect(fromObjectKey('p/', 'p/folder/')).toBeNull();
    expect(fromObjectKey('p/', 'q/a')).toBeNull();
  });

  it('lists a sub-prefix as a directory, and refuses unsafe ones', () => {
    expect(listPrefix('p/', '')).toBe('p/');
    expect(listPrefix('p/', 'a')).toBe('p/a/');
    expect(listPrefix('p/', 'a/')).toBe('p/a/');
    expect(listPrefix('p/', '../')).toBeNull();
  });
});

describe('fitsDeleteObjectsXml', () => {
  it.each([
    ['plain/key.pdf', true],
    ['ümlaut 文件.pdf', true],
    ['tab\tok', true],
    ['line\nbreak', false],
    ['cr\r', false],
    ['ctl\u0001', false],
    ['nel\u0085', false],
    ['lone\uD800', false],
  ])('%j -> %s', (key, fits) => {
    expect(fitsDeleteObjectsXml(key)).toBe(fits);
  });
});
