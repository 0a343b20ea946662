// Shared Jest settings for every project: SWC transform (fast), real Node environment,
// ES-module-only packages (jose, cookie) compiled to CommonJS, @herald/* path aliases.
const path = require('node:path');

const root = __dirname;
const aliases = {
  types: 'libs/types',
  config: 'libs/config',
  logger: 'libs/logger',
  buffers: 'libs/buffers',
  redis: 'libs/redis',
  auth: 'libs/auth',
  pubsub: 'libs/pubsub',
  http: 'libs/http',
  stack: 'libs/stack',
  testing: 'libs/testing',
  'pubsub-emulator': 'tools/pubsub-emulator',
  client: 'libs/client',
};

module.exports = {
  testEnvironment: 'node',
  transform: {
    '^.+\\.(ts|js|mjs)$': [
      '@swc/jest',
      {
        jsc: { parser: { syntax: 'typescript' }, target: 'es2022' },
        module: { type: 'commonjs' },
      },
    ],
  },
  transformIgnorePatterns: ['/node_modules/(?!(jose|cookie)/)'],
  moduleNameMapper: {
    ...Object.fromEntries(
      Object.entries(aliases).map(([name, dir]) => [`^@herald/${name}$`, path.join(root, dir, 'src/index.ts')]),
    ),
  },
  testMatch: ['<rootDir>/**/*.spec.ts'],
  setupFiles: [path.join(root, 'jest.setup-env.js')],
  testTimeout: 30000,
};
