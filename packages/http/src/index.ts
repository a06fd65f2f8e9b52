export { createHttpService } from './service.js';
export { resolveHttpOptions } from './options.js';
export type { HttpService, HttpServiceOptions, Pool, ResolvedHttpOptions } from './options.js';
export { HttpError, HttpErrorCodes } from './errors.js';
export type { HttpErrorCode } from './errors.js';
