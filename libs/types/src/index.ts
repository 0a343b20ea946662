export * from './close-codes';
export * from './error-codes';
export * from './frames';
export * from './message';
export * from './contract';
export * from './exposure';
export * from './scopes';
export * from './identifiers';
