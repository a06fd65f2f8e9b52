/**
 * How S3 errors are read: one table says which are throttling, which are worth a retry, and
 * which are final. It serves whole-request errors (an SDK exception) and the per-key `Errors`
 * entries of a DeleteObjects response alike, so both follow the same rules.
 */

/** S3 and S3-compatible codes that mean "slow down": retried, and the send rate backs off. */
const THROTTLE_CODES = new Set([
  'SlowDown',
  'Throttling',
  'ThrottlingException',
  'RequestLimitExceeded',
  'RequestThrottled',
  'RequestThrottledException',
  'TooManyRequests',
  'TooManyRequestsException',
  'BandwidthLimitExceeded',
  'ProvisionedThroughputExceededException',
]);

/** Codes for a fault on the server's side that a later attempt may not meet. */
const TRANSIENT_CODES = new Set([
  'InternalError',
  'ServiceUnavailable',
  'RequestTimeout',
  'RequestTimeoutException',
  'TimeoutError',
  'OperationAborted',
  'ServerError',
]);

/** Node's network errors: the request may not have reached the store; it is safe to resend a delete. */
const NETWORK_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'ENOTFOUND', 'ECONNABORTED']);

export interface S3ErrorInfo {
  /** The store's error code (`NoSuchBucket`, `AccessDenied`, `SlowDown`) or Node's (`ECONNREFUSED`). */
  readonly code: string;
  readonly status: number | undefined;
  readonly message: string;
  readonly throttled: boolean;
  readonly retryable: boolean;
}

interface SdkErrorShape {
  readonly name?: unknown;
  readonly code?: unknown;
  readonly Code?: unknown;
  readonly message?: unknown;
  readonly $metadata?: { readonly httpStatusCode?: unknown };
  readonly $response?: { readonly statusCode?: unknown };
  readonly cause?: unknown;
}

function statusOf(e: SdkErrorShape): number | undefined {
  const status = e.$metadata?.httpStatusCode ?? e.$response?.statusCode;
  return typeof status === 'number' ? status : undefined;
}

/** Classifies one code/status pair (shared by request errors and per-key errors). */
export function classifyCode(code: string, status: number | undefined): { throttled: boolean; retryable: boolean } {
  const throttled = THROTTLE_CODES.has(code) || status === 429 || (status === 503 && code === 'SlowDown');
  const transient = TRANSIENT_CODES.has(code) || NETWORK_CODES.has(code) || (status !== undefined && status >= 500 && status !== 501);
  return { throttled, retryable: throttled || transient };
}

/** Reads whatever the SDK (or Node's HTTP stack) threw. */
export function classifyS3Error(error: unknown): S3ErrorInfo {
  const e = (typeof error === 'object' && error !== null ? error : {}) as SdkErrorShape;
  const cause = (typeof e.cause === 'object' && e.cause !== null ? e.cause : {}) as SdkErrorShape;
  const status = statusOf(e);
  const candidates = [e.Code, e.code, cause.code, e.name];
  let code = candidates.find((c): c is string => typeof c === 'string' && c !== '' && c !== 'Error' && c !== 'Unknown' && c !== 'UnknownError') ?? '';
  const raw = typeof e.message === 'string' && e.message !== '' ? e.message : String(error);
  if (code === '' && /region is missing/i.test(raw)) code = 'RegionMissing';
  if (code === '') code = status === undefined ? 'S3Error' : `HTTP${status}`;
  // The SDK's message for an unmodelled status is "UnknownError"; say the status instead.
  const message = raw === 'UnknownError' && status !== undefined ? `HTTP ${status}` : raw;
  return { code, status, message, ...classifyCode(code, status) };
}

/**
 * A hint for the operator, by code: what this usually means and what to check. `key` scope is a
 * per-key error inside a DeleteObjects response, where AccessDenied usually means Object Lock.
 */
export function adviceFor(code: string, scope: 'request' | 'key' = 'request'): string {
  if (scope === 'key' && code === 'AccessDenied') {
    return ' (the object is under a legal hold or an Object Lock retention, or the credentials lack s3:DeleteObject/s3:DeleteObjectVersion)';
  }
  switch (code) {
    case 'NoSuchBucket':
      return ' (the bucket does not exist at this endpoint: check the bucket name, region and endpoint)';
    case 'AccessDenied':
    case 'AllAccessDisabled':
      return ' (the credentials lack permission: Lethe needs s3:DeleteObject, s3:DeleteObjectVersion, s3:ListBucket, s3:ListBucketVersions and s3:GetBucketVersioning)';
    case 'InvalidAccessKeyId':
    case 'SignatureDoesNotMatch':
    case 'ExpiredToken':
    case 'CredentialsProviderError':
      return ' (check the credentials: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, the shared config profile or the instance role)';
    case 'RegionMissing':
      return ' (no region: set region= in the storage URL, AWS_REGION, or the shared config profile)';
    case 'PermanentRedirect':
    case 'AuthorizationHeaderMalformed':
      return ' (the bucket is in another region: set region= in the storage URL or AWS_REGION)';
    case 'ECONNREFUSED':
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return ' (the endpoint is not reachable: check endpoint= in the storage URL or AWS_ENDPOINT_URL_S3)';
    default:
      return '';
  }
}
