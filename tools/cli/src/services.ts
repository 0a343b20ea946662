/** Where each service is: a flag, else the CLI's environment, else `npm run dev`'s dev.json, else the default. */
import type { Args } from './command';
import { settingOrigin, type CliConfig } from './config';
import { usageError } from './cli-error';
import type { Service } from './http';

function checkedUrl(flag: string, value: string, protocols: string[]): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw usageError(`--${flag} must be a URL, got "${value}"`);
  }
  if (!protocols.includes(url.protocol)) throw usageError(`--${flag} must use ${protocols.join(' or ')}, got "${value}"`);
  return value;
}

export function ingestService(args: Args, config: CliConfig): Service {
  const flag = args.string('ingest');
  return {
    name: 'ingest',
    baseUrl: flag ? checkedUrl('ingest', flag, ['http:', 'https:']) : (config.HERALD_INGEST_URL as string),
    setting: flag ? '--ingest' : settingOrigin(config, 'HERALD_INGEST_URL', '--ingest'),
  };
}

export function consumerService(args: Args, config: CliConfig): Service {
  const flag = args.string('consumer');
  return {
    name: 'exposure-consumer',
    baseUrl: flag ? checkedUrl('consumer', flag, ['http:', 'https:']) : (config.HERALD_CONSUMER_URL as string),
    setting: flag ? '--consumer' : settingOrigin(config, 'HERALD_CONSUMER_URL', '--consumer'),
  };
}

export function gatewayUrl(args: Args, config: CliConfig): string {
  const flag = args.string('gateway');
  return flag ? checkedUrl('gateway', flag, ['ws:', 'wss:']) : (config.HERALD_GATEWAY_URL as string);
}

export function redisUrl(args: Args, config: CliConfig): string | undefined {
  const flag = args.string('redis');
  return flag ? checkedUrl('redis', flag, ['redis:', 'rediss:']) : config.REDIS_URL;
}
