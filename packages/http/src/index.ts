export { createHttpService } from './service.js';
export { resolveHttpOptions } from './options.js';
export type { HttpService, HttpServiceOptions, Pool, ResolvedHttpOptions } from './options.js';
export { createBackgroundRuns } from './background-run.js';
export type { BackgroundRuns, BackgroundRunsOptions } from './background-run.js';
export { HttpError, HttpErrorCodes } from './errors.js';
export type { HttpErrorCode } from './errors.js';
export { AdminAuditActions, ADMIN_PREFIX } from './routes/admin-control.js';
export { BACKLOG_CAP } from './metrics.js';
