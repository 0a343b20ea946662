/**
 * A running Herald stack for the SDK's tests: the apps as processes (the way `npm run dev` starts
 * them) on free ports and a private Redis, quiet logs, the test JWT secret; plus what a test does
 * to it: send messages through ingest, read a user's offline list in Redis, restart the gateway.
 */
import { closeRedis, createRedis, keys, readInbox, type HeraldRedis } from '@herald/redis';
import { signToken, startApp, startTestStack, type AppProcess, type Stack } from '@herald/testing';

export interface ClientStack {
  stack: Stack;
  /** The gateway now serving (the first one, or the one started by restartGateway). */
  gateway(): AppProcess;
  wsUrl(): string;
  /** POST /v1/messages to users (`extra`: more body members, e.g. replaceKey); resolves with the message id. */
  send(userIds: string[], payload: unknown, extra?: Record<string, unknown>): Promise<string>;
  /** POST /v1/messages to a category; resolves with the message id. */
  publish(category: string, payload: unknown, extra?: Record<string, unknown>): Promise<string>;
  /** PUT /v1/users/{userId}/categories. */
  setCategories(userId: string, categories: string[]): Promise<void>;
  /** The user's read position in a category's log, and the log's last entry. */
  position(userId: string, category: string): Promise<{ at: string | null; last: string | null }>;
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
  const producer = await signToken('sdk-test-producer', { scope: 'messages:write categories:write' });
  const redis: HeraldRedis = createRedis({ REDIS_URL: stack.env.REDIS_URL, REDIS_CLUSTER_NODES: undefined }, 'commands', 'sdk-test');
  let gateway = stack.apps.gateway;
  const replacements: AppProcess[] = [];
  const port = Number(new URL(gateway.url).port);
  async function post(message: Record<string, unknown>): Promise<string> {
    const res = await fetch(`${stack.apps.ingest.url}/v1/messages`, {
      method: 'POST',
      headers: { authorization: `Bearer ${producer}`, 'content-type': 'application/json' },
      body: JSON.stringify(message),
    });
    const body = (await res.json()) as { id?: string };
    if (res.status !== 202 || !body.id) throw new Error(`ingest answered ${res.status} ${JSON.stringify(body)}`);
    return body.id;
  }
  return {
    stack,
    gateway: () => gateway,
    wsUrl: () => `${gateway.url.replace(/^http/, 'ws')}/ws`,
    send: (userIds, payload, extra = {}) => post({ userIds, payload, ...extra }),
    publish: (category, payload, extra = {}) => post({ category, payload, ...extra }),
    async setCategories(userId, categories) {
      const res = await fetch(`${stack.apps.ingest.url}/v1/users/${userId}/categories`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${producer}`, 'content-type': 'application/json' },
        body: JSON.stringify({ categories }),
      });
      if (res.status !== 204) throw new Error(`ingest answered ${res.status} ${await res.text()}`);
    },
    async position(userId, category) {
      const at = await redis.hget(keys.categoryPositions(userId), category);
      const [last] = (await redis.xrevrange(keys.categoryLog(category), '+', '-', 'COUNT', 1)) as [string, string[]][];
      return { at, last: last?.[0] ?? null };
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
