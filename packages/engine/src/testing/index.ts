export { MemoryStorage } from './memory-storage.js';
export { FakeClock } from './fake-clock.js';
export { FaultInjectingStorage, seededRandom, type CrashFault, type FaultCode, type FaultPlan, type InjectedFault, type KeyFault } from './fault-injecting-storage.js';
