export { MemoryStorage } from './memory-storage.js';
export { FakeClock } from './fake-clock.js';
