export * from './history.js';
export * from './health.js';
export * from './schedulers.js';
