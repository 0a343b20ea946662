/**
 * What the deployment-artifact tests know about the apps, all of it read from the config schema
 * (libs/config/src/*-config.ts), the source of truth for variable names, defaults, ports and the
 * shutdown deadline.
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import {
  consumerSchema,
  gatewaySchema,
  ingestSchema,
  loadConsumerConfig,
  loadGatewayConfig,
  loadIngestConfig,
  type Field,
} from '@herald/config';

export const ROOT = resolve(__dirname, '../../../..');

export type AppName = 'gateway' | 'ingest' | 'exposure-consumer';
export const APP_NAMES: AppName[] = ['gateway', 'ingest', 'exposure-consumer'];
export type Schema = Record<string, Field<unknown>>;
export const SCHEMAS: Record<AppName, Schema> = {
  gateway: gatewaySchema,
  ingest: ingestSchema,
  'exposure-consumer': consumerSchema,
};
type Env = Record<string, string | undefined>;
/** The apps' own config loaders: the schema plus the cross-field checks (auth secret). */
export const LOADERS: Record<AppName, (env: Env) => Readonly<Record<string, unknown>>> = {
  gateway: loadGatewayConfig,
  ingest: loadIngestConfig,
  'exposure-consumer': loadConsumerConfig,
};
/** Read by libraries or the runtime, not by the config schema. */
export const EXTRA_ENV = new Set(['METADATA_SERVER_DETECTION', 'NODE_ENV', 'NODE_OPTIONS']);

export function schemaDefault(app: AppName, name: string): unknown {
  return SCHEMAS[app][name].parse(undefined, name);
}
export const portOf = (app: AppName): number => schemaDefault(app, 'PORT') as number;
/** The admin port (/metrics, detailed /readyz) of an app whose config has ADMIN_PORT. */
export const adminPortOf = (app: AppName): number | undefined =>
  'ADMIN_PORT' in SCHEMAS[app] ? (schemaDefault(app, 'ADMIN_PORT') as number) : undefined;
export const shutdownMsOf = (app: AppName): number => schemaDefault(app, 'SHUTDOWN_TIMEOUT_MS') as number;
export const knownTo = (app: AppName, name: string): boolean => name in SCHEMAS[app] || EXTRA_ENV.has(name);
export const isApp = (name: string): name is AppName => (APP_NAMES as string[]).includes(name);

/** Parses one value with the app's schema; the error message names the variable, or undefined. */
export function valueProblem(app: AppName, name: string, value: string): string | undefined {
  const field = SCHEMAS[app][name];
  if (!field) return undefined;
  try {
    field.parse(value, name);
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

export const read = (rel: string): string => readFileSync(join(ROOT, rel), 'utf8');
export const clone = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;
