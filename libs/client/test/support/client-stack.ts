/**
 * A running Herald stack for the SDK's tests: the apps as processes (the way `npm run dev` starts
 * them) on free ports and a private Redis, quiet logs, the test JWT secret; plus what a test does
 * to it: send messages through ingest, read a user's offline list in Redis, restart the gateway.
 */
import { closeRedis, createRedis, readInbox, type HeraldRedis } from '@herald/redis';
import { signToken, startApp, startTestStack, type AppProcess, type Stack } from '@herald/testing';

export interface ClientStack {
  stack: Stack;
  /** The gateway now serving (the first one, or the one started by restartGateway). */
  gateway(): AppProcess;
  wsUrl(): string;
  /** POST /v1/messages to users; resolves with the message id. */
  send(userIds: string[], payload: unknown): Promise<string>;
  /** PATCH (update, with a body) or DELETE (recall) /v1/messages/{id} as the same producer; resolves with the status. */
  change(method: 'PATCH' | 'DELETE', id: string, body?: object): Promise<number>;
  inbox(userId: string): Promise<string[]>;
  /** SIGTERM the gateway (its clients get 1012), then start a new one on the same port. */
  stopGateway(): Promise<void>;
  startGateway(): Promise<void>;
  stop(): Promise<void>;
}

export async function startClientStack(env: NodeJS.ProcessEnv = {}): Promise<ClientStack> {
  const { stack, lines } = await startTestStack(env, { withoutConsumer: true });
  const producer = await signToken('sdk-test-producer', { scope: 'messages:write' });
  const redis: HeraldRedis = createRedis({ REDIS_URL: stack.env.REDIS_URL, REDIS_CLUSTER_NODES: undefined }, 'commands', 'sdk-test');
  let gateway = stack.apps.gateway;
  const replacements: AppProcess[] = [];
  const port = Number(new URL(gateway.url).port);
  return {
    stack,
    gateway: () => gateway,
    wsUrl: () => `${gateway.url.replace(/^http/, 'ws')}/ws`,
    async send(userIds, payload) {
      const res = await fetch(`${stack.apps.ingest.url}/v1/messages`, {
        method: 'POST',
        headers: { authorization: `Bearer ${producer}`, 'content-type': 'application/json' },
        body: JSON.stringify({ userIds, payload }),
      });
      const body = (await res.json()) as { id?: string };
      if (res.status !== 202 || !body.id) throw new Error(`ingest answered ${res.status} ${JSON.stringify(body)}`);
      return body.id;
    },
    async change(method, id, body) {
      const res = await fetch(`${stack.apps.ingest.url}/v1/messages/${id}`, {
        method,
        headers: { authorization: `Bearer ${producer}`, ...(body ? { 'content-type': 'application/json' } : {}) },
        body: body ? JSON.stringify(body) : undefined,
      });
      await res.arrayBuffer();
      return res.status;
    },
    inbox: (userId) => readInbox(redis, userId),
    async stopGateway() {
      const code = await gateway.stop();
      if (code !== 0) throw new Error(`the gateway exited with ${code}:\n${lines.slice(-20).join('\n')}`);
    },
    async startGateway() {
      gateway = await startApp({ name: 'gateway', port, env: stack.env, onLine: (name, line) => lines.push(`[${name}] ${line}`) });
      replacements.push(gateway);
    },
    async stop() {
      await closeRedis(redis);
      for (const app of replacements) await app.stop();
      await stack.stop();
    },
  };
}
