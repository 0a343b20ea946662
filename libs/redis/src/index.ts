export * from './keys';
export * from './client';
export * from './message-codec';
export * from './notification';
export * from './inbox';
export * from './messages';
export * from './categories';
export * from './idempotency';
