export { startEmulator, DEFAULT_HOST, type EmulatorOptions, type RunningEmulator } from './server';
export { EmulatorError, ErrorReason } from './errors';
