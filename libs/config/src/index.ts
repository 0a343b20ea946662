export * from './schema';
export * from './apps';
export * from './dev-secret';
export * from './dev-stack';
