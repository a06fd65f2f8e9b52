import { ErrorCodes, LetheError } from '@lethe/engine';

/**
 * Raw driver errors an operator cannot act on (`connect ECONNREFUSED 127.0.0.1:5432`, `42P01:
 * relation "lethe_control" does not exist`) turned into one line that says what to do, for every
 * command at once (reportError). Anything not recognised is returned as it was.
 */

/** Why a connection could not be made, by the socket error or SQLSTATE pg reports. */
const CONNECT_FAILURES: Readonly<Record<string, string>> = {
  ECONNREFUSED: 'connection refused',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host name lookup failed',
  ETIMEDOUT: 'timed out',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ECONNRESET: 'connection reset',
  '28P01': 'password authentication failed',
  '28000': 'authentication rejected',
  '3D000': 'the database does not exist',
  '57P03': 'the server is starting up or shutting down',
};

/** A relation only `lethe migrate` creates. */
const LETHE_RELATION = /relation "(?:[a-z_]+\.)?(lethe_[a-z_]+)" does not exist/;

function codeOf(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** The error and its causes (and an AggregateError's members), outermost first. */
function chain(error: unknown): unknown[] {
  const out: unknown[] = [];
  let e: unknown = error;
  for (let i = 0; e !== undefined && e !== null && i < 5; i += 1) {
    out.push(e);
    if (e instanceof AggregateError) out.push(...e.errors);
    e = (e as { cause?: unknown }).cause;
  }
  return out;
}

/** `host:port` of the configured URL (a socket path shows as the path), or of the failed socket. */
export function databaseAddress(databaseUrl: string | undefined, error: unknown): string {
  if (databaseUrl) {
    try {
      const u = new URL(databaseUrl);
      const socketHost = u.searchParams.get('host');
      if (u.hostname === '' && socketHost) return socketHost;
      return `${u.hostname || 'localhost'}:${u.port || '5432'}`;
    } catch {
      // The engine validates the URL; fall through to the socket's address.
    }
  }
  const withAddress = chain(error).find((e) => typeof (e as { address?: unknown })?.address === 'string') as { address: string; port?: number } | undefined;
  return withAddress ? `${withAddress.address}${withAddress.port === undefined ? '' : `:${withAddress.port}`}` : 'the configured address';
}

/**
 * A socket error is the database's only when it names the database's host or port: S3 behind a
 * refused endpoint fails with the same ECONNREFUSED and must not read "cannot connect to the database".
 */
function fromDatabase(e: unknown, databaseUrl: string | undefined): boolean {
  if (!databaseUrl) return true;
  let host: string;
  let port: number;
  try {
    const u = new URL(databaseUrl);
    host = u.hostname || 'localhost';
    port = Number(u.port || '5432');
  } catch {
    return true;
  }
  const s = e as { port?: unknown; hostname?: unknown };
  if (typeof s.port === 'number') return s.port === port;
  if (typeof s.hostname === 'string') return s.hostname === host;
  return true;
}

export function explainDatabaseError(error: unknown, databaseUrl: string | undefined): unknown {
  if (error instanceof LetheError) return error;
  for (const e of chain(error)) {
    const code = codeOf(e);
    const reason = code === undefined ? undefined : CONNECT_FAILURES[code];
    if (reason !== undefined && fromDatabase(e, databaseUrl)) {
      return new LetheError(
        ErrorCodes.DATABASE,
        `cannot connect to the database at ${databaseAddress(databaseUrl, error)} (${reason}): is PostgreSQL running and DATABASE_URL right?`,
        { cause: error },
      );
    }
    const relation = code === '42P01' && e instanceof Error ? LETHE_RELATION.exec(e.message)?.[1] : undefined;
    if (relation !== undefined) {
      return new LetheError(
        ErrorCodes.NOT_MIGRATED,
        `Lethe's tables are missing in this database (relation "${relation}" does not exist): run \`lethe migrate\` first`,
        { cause: error },
      );
    }
  }
  return error;
}
