/**
 * Redis connections, one per role (commands, subscriber, queue), single node or Cluster from the
 * same config. Herald's Lua scripts are defined on every connection made here.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Redis, { Cluster, type RedisOptions } from 'ioredis';
import type { RedisConfig } from '@herald/config';

export type RedisRole = 'commands' | 'subscriber' | 'queue';

/** The scripts in ./scripts, named `<name>-<numKeys>.lua`. */
const SCRIPT_FILES = ['deliver-1', 'remove-ids-1', 'replace-categories-1'] as const;

export interface HeraldScripts {
  deliver(inbox: string, id: string, cap: number, channel: string, note: string): Promise<number>;
  removeIds(inbox: string, ...ids: string[]): Promise<number>;
  replaceCategories(userCats: string, channel: string, note: string, ...categories: string[]): Promise<string[]>;
}

export type HeraldRedis = (Redis | Cluster) & HeraldScripts;

function camel(name: string): string {
  return name.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

function defineScripts(client: Redis | Cluster): HeraldRedis {
  for (const file of SCRIPT_FILES) {
    const [, name, numKeys] = /^(.*)-(\d+)$/.exec(file) ?? [];
    client.defineCommand(camel(name), {
      numberOfKeys: Number(numKeys),
      lua: readFileSync(join(__dirname, 'scripts', `${file}.lua`), 'utf8'),
    });
  }
  return client as HeraldRedis;
}

export function createRedis(config: RedisConfig, role: RedisRole, name = 'herald'): HeraldRedis {
  const options: RedisOptions = {
    connectionName: `${name}:${role}`,
    // A queue connection must retry forever (BullMQ requirement); commands fail fast-ish.
    maxRetriesPerRequest: role === 'commands' ? 3 : null,
    enableAutoPipelining: role === 'commands',
  };
  if (config.REDIS_CLUSTER_NODES) {
    return defineScripts(
      new Cluster(config.REDIS_CLUSTER_NODES, { redisOptions: options, enableAutoPipelining: role === 'commands' }),
    );
  }
  return defineScripts(new Redis(config.REDIS_URL ?? 'redis://127.0.0.1:6379', options));
}

/** Quit politely, disconnect if that fails; never throws. */
export async function closeRedis(client: Redis | Cluster): Promise<void> {
  try {
    await client.quit();
  } catch {
    client.disconnect();
  }
}
