export { createDaemon, DAEMON_SCHEMA_VERSION } from './daemon.js';
export type { Daemon, DaemonStarted } from './daemon.js';
export { DEFAULT_SCHEDULE, DEFAULT_TIMEZONE, resolveDaemonOptions } from './options.js';
export type { DaemonHttpOptions, DaemonOptions, OverlapPolicy, ResolvedDaemonOptions } from './options.js';
export { CronSchedule } from './schedule.js';
export { decideCatchUp } from './catch-up.js';
export type { CatchUpDecision, CatchUpFacts } from './catch-up.js';
export type { ShutdownReport } from './shutdown.js';
export type { HttpServiceFactory, HttpServicePort, HttpServiceRequest } from './ports.js';
