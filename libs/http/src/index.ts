export * from './app';
export * from './errors';
export * from './auth';
export * from './lifecycle';
export * from './timeout';
export * from './outbound';
