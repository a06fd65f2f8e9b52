import { createHash, createPrivateKey, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ConfigError } from './errors.js';

/**
 * Signed chain heads (docs/safety.md#tamper-evident-ledger). The chain alone shows an edit, but
 * anyone who can write the tables can also recompute every link after it; a head signed with a
 * key the database never sees cannot be recomputed. Ed25519 (node:crypto), over a fixed text that
 * names the run, the link's sequence number and its hash.
 */

export function chainHeadMessage(runId: string, seq: string, head: string): string {
  return `lethe-chain-head-v1|${runId}|${seq}|${head}`;
}

function pemOf(path: string, field: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError(`${field}: expected the path of a readable PEM file, got ${JSON.stringify(path)} (${(error as Error).message})`);
  }
}

/** The private key at `path`, checked to be Ed25519. */
export function loadSigningKey(path: string): KeyObject {
  const field = 'ledgerSigningKey (LETHE_LEDGER_SIGNING_KEY)';
  let key: KeyObject;
  try {
    key = createPrivateKey(pemOf(path, field));
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    throw new ConfigError(`${field}: expected an Ed25519 private key in PEM, got a file that is not one (${(error as Error).message})`);
  }
  if (key.asymmetricKeyType !== 'ed25519')
    throw new ConfigError(`${field}: expected an Ed25519 private key, got a ${key.asymmetricKeyType ?? 'non-asymmetric'} key`);
  return key;
}

/** The public key at `path` (a public key PEM, or the private key it belongs to). */
export function loadPublicKey(path: string, field = '--public-key'): KeyObject {
  let key: KeyObject;
  try {
    key = createPublicKey(pemOf(path, field));
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    throw new ConfigError(`${field}: expected an Ed25519 public key in PEM, got a file that is not one (${(error as Error).message})`);
  }
  if (key.asymmetricKeyType !== 'ed25519')
    throw new ConfigError(`${field}: expected an Ed25519 public key, got a ${key.asymmetricKeyType ?? 'non-asymmetric'} key`);
  return key;
}

/** Base64 Ed25519 signature of a run's chain head. */
export function signChainHead(key: KeyObject, runId: string, seq: string, head: string): string {
  return sign(null, Buffer.from(chainHeadMessage(runId, seq, head), 'utf8'), key).toString('base64');
}

export function verifyChainHead(key: KeyObject, runId: string, seq: string, head: string, signature: string): boolean {
  try {
    return verify(null, Buffer.from(chainHeadMessage(runId, seq, head), 'utf8'), key, Buffer.from(signature, 'base64'));
  } catch {
    return false;
  }
}

/**
 * A monthly report's signature (docs/safety.md#tamper-evident-ledger): Ed25519 over a fixed text
 * holding the SHA-256 of the exact bytes written (the HTML, PDF, JSON, CSV or text file), so the
 * file itself is what is checked, offline, with `lethe ledger verify --public-key K --report FILE`.
 */
export function reportMessage(content: string | Uint8Array): string {
  return `lethe-report-v1|${createHash('sha256').update(content).digest('hex')}`;
}

/** Base64 Ed25519 signature of a report file's bytes. */
export function signReport(key: KeyObject, content: string | Uint8Array): string {
  return sign(null, Buffer.from(reportMessage(content), 'utf8'), key).toString('base64');
}

export function verifyReport(key: KeyObject, content: string | Uint8Array, signature: string): boolean {
  try {
    return verify(null, Buffer.from(reportMessage(content), 'utf8'), key, Buffer.from(signature.trim(), 'base64'));
  } catch {
    return false;
  }
}
