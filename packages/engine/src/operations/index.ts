export * from './history.js';
export * from './health.js';
export * from './schedulers.js';
export * from './plan.js';
export * from './verify.js';
export * from './lookup.js';
export * from './report.js';
