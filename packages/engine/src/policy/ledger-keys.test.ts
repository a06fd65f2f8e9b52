import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ledgerKeyFor, ledgerKeyFunction, trashNameFor, validateLedgerKeySecret } from './ledger-keys.js';

describe('ledger keys', () => {
  const secret = 'sixteen-bytes-or-more';
  it('are the key itself without a secret, HMAC-SHA256 hex with one', () => {
    expect(ledgerKeyFor({ ledgerKeyHmacSecret: null }, 'a/b.pdf')).toBe('a/b.pdf');
    const h = createHmac('sha256', secret).update('a/b.pdf').digest('hex');
    expect(ledgerKeyFunction(secret)('a/b.pdf')).toBe(`hmac-sha256:${h}`);
    expect(trashNameFor({ ledgerKeyHmacSecret: secret }, 'a/b.pdf')).toBe(h);
    expect(trashNameFor({ ledgerKeyHmacSecret: null }, 'a/b.pdf')).toBe('a/b.pdf');
  });

  it('refuses a short secret, naming the setting and its variable', () => {
    expect(validateLedgerKeySecret(undefined)).toBeNull();
    expect(() => validateLedgerKeySecret('short')).toThrow(
      /^ledgerKeyHmacSecret \(LETHE_LEDGER_KEY_SECRET\): expected a secret of at least 16 bytes, got 5 bytes$/,
    );
  });
});
