export * from './schema';
export type { AuthConfig, PubSubConfig, RedisConfig } from './shared-config';
export * from './gateway-config';
export * from './ingest-config';
export * from './consumer-config';
export * from './dev-secret';
export * from './known-secrets';
export * from './dev-stack';
export * from './webpush-config';
