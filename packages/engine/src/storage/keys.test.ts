import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkKey, isInside } from './keys.js';

describe('checkKey', () => {
  it.each([
    ['', 'LETHE_E_KEY_INVALID'],
    ['a\0b', 'LETHE_E_KEY_INVALID'],
    ['/etc/passwd', 'LETHE_E_KEY_OUTSIDE_ROOT'],
    ['../x', 'LETHE_E_KEY_OUTSIDE_ROOT'],
    ['a/../../x', 'LETHE_E_KEY_OUTSIDE_ROOT'],
    ['a/./b', 'LETHE_E_KEY_OUTSIDE_ROOT'],
    ['..', 'LETHE_E_KEY_OUTSIDE_ROOT'],
    ['a\\..\\b', 'LETHE_E_KEY_OUTSIDE_ROOT'],
    ['C:/x', 'LETHE_E_KEY_OUTSIDE_ROOT'],
    ['a//b', 'LETHE_E_KEY_INVALID'],
    ['a/', 'LETHE_E_KEY_INVALID'],
    ['x'.repeat(1025), 'LETHE_E_KEY_INVALID'],
  ])('refuses %j', (key, code) => {
    expect(checkKey(key)?.code).toBe(code);
  });

  it.each(['a.pdf', 'a/b/c.pdf', '2025/11/30/ümlaut 文件.pdf', '..hidden/x', 'a/..b', '.config'])('accepts %j', (key) => {
    expect(checkKey(key)).toBeNull();
  });

  it('never accepts a key whose normalised form leaves the root', () => {
    const segment = fc.oneof(fc.constantFrom('..', '.', '', 'a', 'b', '...'), fc.string({ maxLength: 4 }));
    fc.assert(
      fc.property(fc.array(segment, { minLength: 1, maxLength: 6 }), fc.boolean(), (segments, absolute) => {
        const key = (absolute ? '/' : '') + segments.join('/');
        if (checkKey(key) !== null) return;
        // Accepted keys must stay inside: resolve them against a root by hand.
        const stack: string[] = [];
        for (const s of key.split('/')) {
          if (s === '..') stack.pop();
          else if (s !== '.' && s !== '') stack.push(s);
        }
        expect(key.startsWith('/')).toBe(false);
        expect(key.split('/')).not.toContain('..');
        expect(stack.length).toBe(key.split('/').length);
      }),
    );
  });
});

describe('isInside', () => {
  it('takes the root and paths under it, never a sibling that shares its prefix', () => {
    expect(isInside('/data', '/data')).toBe(true);
    expect(isInside('/data', '/data/a/b.pdf')).toBe(true);
    expect(isInside('/data/', '/data/a')).toBe(true);
    expect(isInside('/data', '/data2/a')).toBe(false);
    expect(isInside('/data', '/dat')).toBe(false);
    expect(isInside('/data/a', '/data')).toBe(false);
  });
});
