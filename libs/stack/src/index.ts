/**
 * @herald/stack: Herald on one machine, as processes. A private redis-server or Redis Cluster, the
 * Pub/Sub emulator, each app as a child process, the whole stack (`startStack`), free ports and
 * process stop helpers. `npm run dev` (tools/dev) and the build's start-time measurement run it;
 * the tests and benchmarks get it through @herald/testing, which adds what only tests need
 * (tokens signed with the test secret, the WebSocket test client, Postgres, `startTestStack`). It
 * depends on no test helper (tag `type:stack`, eslint.config.mjs).
 */
export * from './wait';
export * from './ports';
export * from './process';
export * from './redis-server';
export * from './redis-cluster';
export * from './pubsub';
export * from './app-process';
export * from './stack';
