// `npm test` runs every project's tests in one Jest run.
module.exports = {
  // Per-project testTimeout is ignored in a multi-project run; set it here too.
  testTimeout: 30000,
  projects: [
    '<rootDir>/libs/types',
    '<rootDir>/libs/config',
    '<rootDir>/libs/logger',
    '<rootDir>/libs/buffers',
    '<rootDir>/libs/redis',
    '<rootDir>/libs/auth',
    '<rootDir>/libs/pubsub',
    '<rootDir>/libs/http',
    '<rootDir>/libs/stack',
    '<rootDir>/libs/testing',
    '<rootDir>/libs/client',
    '<rootDir>/tools/pubsub-emulator',
    '<rootDir>/tools/dev',
    '<rootDir>/tools/bench',
    '<rootDir>/tools/cli',
    '<rootDir>/tools/build',
    '<rootDir>/apps/gateway',
    '<rootDir>/apps/ingest',
    '<rootDir>/apps/exposure-consumer',
  ],
};
