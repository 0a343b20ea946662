/**
 * A stack for a test: the apps as processes on free ports, quiet logs, the test JWT secret, and
 * only the environment a process needs (never the machine's REDIS_URL or DATABASE_URL).
 */
import { freePort, startStack, type Stack, type StackOptions } from '@herald/stack';
import { TEST_JWT_SECRET } from './tokens';

export interface TestStack {
  stack: Stack;
  /** Every line the apps printed, prefixed with the app's name. */
  lines: string[];
}

export async function startTestStack(
  env: NodeJS.ProcessEnv,
  opts: Omit<StackOptions, 'env' | 'ports' | 'adminPort' | 'onLine'> = {},
): Promise<TestStack> {
  const lines: string[] = [];
  const stack = await startStack({
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      AUTH_JWT_SECRET: TEST_JWT_SECRET,
      ...env,
    },
    ports: { gateway: await freePort(), ingest: await freePort(), 'exposure-consumer': await freePort() },
    adminPort: await freePort(),
    onLine: (name, line) => lines.push(`[${name}] ${line}`),
    ...opts,
  });
  return { stack, lines };
}
