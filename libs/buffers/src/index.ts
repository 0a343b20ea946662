export * from './spare-pool';
