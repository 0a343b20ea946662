export * from './schema';
export * from './apps';
