export { TdsEmulator } from './server';
export type { TdsFault, TdsLogged, TdsEmulatorOptions, AttlogInsert } from './server';
