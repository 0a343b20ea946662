export * from './schema';
export * from './apps';
export * from './dev-secret';
export * from './known-secrets';
export * from './dev-stack';
