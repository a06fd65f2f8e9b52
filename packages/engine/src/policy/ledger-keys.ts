import { createHmac } from 'node:crypto';
import { ConfigError } from '../errors.js';

/**
 * Proof without personal data (docs/safety.md#proof-without-personal-data-hmac-keys): file keys often carry names or ids ("aadhaar/ravi.pdf").
 * With a secret configured, the ledger, the run summary and trash locations hold
 * `hmac-sha256:<hex>` instead of the key; anyone holding a key can still find its record (hash the
 * key the same way), but the ledger alone reveals no key. The secret must stay the same for lookups
 * of older rows to work; rotating it starts a new series.
 */
export const LEDGER_KEY_PREFIX = 'hmac-sha256:';

const MIN_SECRET_BYTES = 16;

export function validateLedgerKeySecret(secret: unknown): string | null {
  if (secret === undefined || secret === null) return null;
  if (typeof secret !== 'string' || Buffer.byteLength(secret, 'utf8') < MIN_SECRET_BYTES) {
    throw new ConfigError(
      `ledgerKeyHmacSecret (LETHE_LEDGER_KEY_SECRET): expected a secret of at least ${MIN_SECRET_BYTES} bytes, got ${typeof secret === 'string' ? `${Buffer.byteLength(secret, 'utf8')} bytes` : JSON.stringify(secret)}`,
    );
  }
  return secret;
}

/** The key as the ledger stores it: the key itself, or its keyed hash. */
export type LedgerKeyFn = (key: string) => string;

const plain: LedgerKeyFn = (key) => key;

export function ledgerKeyFunction(secret: string | null): LedgerKeyFn {
  if (secret === null) return plain;
  return (key) => LEDGER_KEY_PREFIX + createHmac('sha256', secret).update(key, 'utf8').digest('hex');
}

/** For callers (CLI, HTTP) that look a key up: hash it as the engine stored it. */
export function ledgerKeyFor(options: { readonly ledgerKeyHmacSecret: string | null }, key: string): string {
  return ledgerKeyFunction(options.ledgerKeyHmacSecret)(key);
}

/** The name a file gets in the trash: its key, or the hash's hex (no plain key in the trash path). */
export function trashNameFor(options: { readonly ledgerKeyHmacSecret: string | null }, key: string): string {
  const k = ledgerKeyFor(options, key);
  return k.startsWith(LEDGER_KEY_PREFIX) ? k.slice(LEDGER_KEY_PREFIX.length) : k;
}
