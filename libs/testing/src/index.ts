// The stack (private Redis, the Pub/Sub emulator, the apps as processes, ports, waitFor) lives in
// @herald/stack, shared with `npm run dev`; tests keep getting it from here.
export * from '@herald/stack';
export * from './tokens';
export * from './ws-client';
export * from './postgres';
export * from './metrics-text';
export * from './test-stack';
export * from './chromium';
export * from './contract-answer';
export * from './writes';
export * from './topic-events';
