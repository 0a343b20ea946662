export * from './wait';
export * from './ports';
export * from './process';
export * from './redis-server';
export * from './tokens';
export * from './ws-client';
export * from './postgres';
export * from './pubsub';
