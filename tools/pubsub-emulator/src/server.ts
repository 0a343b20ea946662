import * as grpc from '@grpc/grpc-js';
import { EmulatorError, ErrorReason } from './errors';
import { loadPubSubServices, type PubSubServices } from './protos';
import { publisherService } from './publisher-service';
import { Broker } from './state';
import { subscriberService } from './subscriber-service';

export const DEFAULT_HOST = '127.0.0.1';
/** How long stop() lets in-flight calls finish before cutting them off. */
const GRACEFUL_SHUTDOWN_MS = 2_000;
/** Cloud Pub/Sub accepts publish requests up to 10 MB; leave headroom over grpc-js's 4 MB default. */
const MAX_MESSAGE_BYTES = 20 * 1024 * 1024;

export interface EmulatorOptions {
  /** Interface to bind; default 127.0.0.1. */
  host?: string;
  /** Port to bind; 0 (default) picks a free one. */
  port?: number;
}

export interface RunningEmulator {
  host: string;
  port: number;
  /** `host:port`, ready for PUBSUB_EMULATOR_HOST-style configuration. */
  address: string;
  /** Ends open streams with UNAVAILABLE (clients retry) and closes the server. Idempotent. */
  stop(): Promise<void>;
}

let cachedServices: PubSubServices | undefined;

function hostForAddress(host: string): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}

/** Starts an in-memory Cloud Pub/Sub emulator speaking the real gRPC API. */
export async function startEmulator(options: EmulatorOptions = {}): Promise<RunningEmulator> {
  const host = options.host ?? DEFAULT_HOST;
  cachedServices ??= loadPubSubServices();
  const broker = new Broker();
  const server = new grpc.Server({
    'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
    'grpc.max_send_message_length': MAX_MESSAGE_BYTES,
  });
  server.addService(cachedServices.publisher, publisherService(broker));
  server.addService(cachedServices.subscriber, subscriberService(broker));

  let port: number;
  try {
    port = await new Promise<number>((resolve, reject) => {
      server.bindAsync(`${hostForAddress(host)}:${options.port ?? 0}`, grpc.ServerCredentials.createInsecure(), (err, bound) =>
        err ? reject(err) : resolve(bound),
      );
    });
  } catch (err) {
    broker.close(new EmulatorError(ErrorReason.ShuttingDown, 'emulator failed to start'));
    server.forceShutdown();
    throw err;
  }

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopping ??= new Promise<void>((resolve) => {
      broker.close(new EmulatorError(ErrorReason.ShuttingDown, 'emulator is shutting down'));
      const force = setTimeout(() => server.forceShutdown(), GRACEFUL_SHUTDOWN_MS);
      server.tryShutdown(() => {
        clearTimeout(force);
        resolve();
      });
    }));

  return { host, port, address: `${hostForAddress(host)}:${port}`, stop };
}
