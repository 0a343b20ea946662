/**
 * The HTTP app every service starts from: Contract error bodies, `/healthz`, `/readyz` (503 while
 * starting or draining, or when a dependency check fails), `/metrics` (Prometheus) and, for
 * services with an API, OpenAPI docs at `/docs`.
 *
 * With `admin` set (the gateway, whose port faces the internet), `/metrics` and the names and
 * errors of failing readiness checks are served only by a second server on the admin port, as
 * Centrifugo does: the public port keeps `/healthz` and a `/readyz` that answers its status only.
 */
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { Registry, collectDefaultMetrics } from 'prom-client';

import Ajv from 'ajv';
import addFormats from 'ajv-formats';
import type { Logger } from '@herald/logger';
import { redactUrl } from '@herald/logger';
import { clientErrorHandler, installErrorHandling, toHeraldError } from './errors';
import { runAll } from './lifecycle';

/**
 * How often the event-loop delay histogram behind `nodejs_eventloop_lag_*` samples, in ms.
 * prom-client's default is 10: a timer waking the process 100 times a second, which cost an idle
 * process ~5 ms of CPU a second on a 2-core VM, against ~1 at 100 (docs/BENCHMARKS.md, "The
 * event-loop histogram's timer"). A stall of 100 ms or more is still seen in full, and the stall
 * alert's bound (p99 over 0.2 s) is twice that.
 */
const EVENT_LOOP_SAMPLE_MS = 100;

/** Default metrics left out (see createHttpApp). */
const EXPENSIVE_DEFAULT_METRICS = [
  'nodejs_active_handles',
  'nodejs_active_handles_total',
  'nodejs_active_resources',
  'nodejs_active_resources_total',
  'nodejs_active_requests',
  'nodejs_active_requests_total',
  // Lists /proc/self/fd on each scrape: ~60 ms of CPU (and event-loop block) per scrape at 20k sockets.
  'process_open_fds',
];

/** Longest path parameter; user ids are up to 128 characters, percent-encoding can triple that. */
const MAX_PARAM_LENGTH = 512;

/**
 * Bodies are validated strictly (a string is not a number, a string is not an array); query
 * strings and path parameters are text by nature and are coerced to the schema's types.
 */
function validators() {
  const make = (coerceTypes: false | 'array') => {
    const ajv = new Ajv({ coerceTypes, useDefaults: true, removeAdditional: false, allErrors: false, strict: false });
    addFormats(ajv);
    return ajv;
  };
  const body = make(false);
  const text = make('array');
  return ({ schema, httpPart }: { schema: object; httpPart?: string }) =>
    (httpPart === 'body' ? body : text).compile(schema);
}

export type ReadinessCheck = () => Promise<void>;

export interface HttpAppOptions {
  logger: Logger;
  /** Largest request body, in bytes. */
  bodyLimit?: number;
  /** Title and version for the OpenAPI document; omit for services without an API. */
  api?: { title: string; version: string; description?: string };
  /** Dependency checks run by /readyz; each throws when its dependency is down. */
  readinessChecks?: Record<string, ReadinessCheck>;
  /**
   * A request head (a WebSocket upgrade request too) must arrive whole within this (slowloris
   * guard; HTTP_HEADERS_TIMEOUT_MS). The whole request gets three times as long. @default 10000
   */
  headersTimeoutMs?: number;
  /**
   * Serve `/metrics` and the detailed `/readyz` on a separate admin server (listened on with
   * `adminPort`) instead of the public one. @default false
   */
  admin?: boolean;
}

export interface ListenOptions {
  host: string;
  port: number;
  /** The admin server's port (0: a free one); required when the app was built with `admin`. */
  adminPort?: number;
}

export interface HttpApp {
  /** The public server: the app's routes (and the WebSocket upgrade) go here. */
  app: FastifyInstance;
  /** The admin server (`/healthz`, `/readyz` naming failed checks, `/metrics`) when built with `admin`. */
  admin?: FastifyInstance;
  metrics: Registry;
  /** Ready means: started and not draining. /readyz also runs the dependency checks. */
  setReady(ready: boolean): void;
  /** Listen on both servers; resolves with their base URLs. */
  listen(opts: ListenOptions): Promise<{ url: string; adminUrl?: string }>;
  /** Close both servers (idempotent: Fastify's close is). */
  close(): Promise<void>;
}

/** Fastify with Herald's timeouts, limits, error bodies and request logging. */
function createServer(opts: HttpAppOptions): FastifyInstance {
  const headersTimeout = opts.headersTimeoutMs ?? 10_000;
  const app = Fastify({
    loggerInstance: opts.logger as FastifyBaseLogger,
    // Node checks these timeouts every connectionsCheckingInterval; a socket that sends nothing
    // or trickles its head is closed within about headersTimeout + that interval.
    http: { headersTimeout, connectionsCheckingInterval: Math.min(1000, headersTimeout) },
    requestTimeout: headersTimeout * 3,
    clientErrorHandler,
    bodyLimit: opts.bodyLimit ?? 1024 * 1024,
    logController: new LogController({ disableRequestLogging: true }),
    return503OnClosing: true,
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    frameworkErrors: (err, _request, reply) => {
      const herald = toHeraldError(err);
      void (reply as FastifyReply).status(herald.status).send(herald.toBody());
    },
  });
  app.setValidatorCompiler(validators());
  installErrorHandling(app);
  app.addHook('onResponse', async (request, reply) => {
    // The line's fields are made only when it is written (a debug line, off by default). The
    // request's logger is a child of `opts.logger`, a pino Logger.
    if ((request.log as Logger).isLevelEnabled('debug')) request.log.debug({ method: request.method, url: redactUrl(request.url), status: reply.statusCode }, 'request');
  });
  return app;
}

/** Runs every check; the names and messages of the ones that threw. */
async function failedChecks(checks: Record<string, ReadinessCheck>): Promise<Record<string, string>> {
  const failed: Record<string, string> = {};
  await Promise.all(
    Object.entries(checks).map(async ([name, check]) => {
      try {
        await check();
      } catch (err) {
        failed[name] = (err as Error).message;
      }
    }),
  );
  return failed;
}

export async function createHttpApp(opts: HttpAppOptions): Promise<HttpApp> {
  const app = createServer(opts);
  const admin = opts.admin ? createServer({ ...opts, bodyLimit: 1024 }) : undefined;

  const metrics = new Registry();
  collectDefaultMetrics({ register: metrics, eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS });
  // These walk every libuv handle, or every open file, on each scrape: a gateway holding 20k
  // sockets paid for a 20k-entry list per scrape. Connections are counted by the apps' own gauges.
  for (const name of EXPENSIVE_DEFAULT_METRICS) metrics.removeSingleMetric(name);

  let ready = false;
  const checks = opts.readinessChecks ?? {};

  if (opts.api) {
    await app.register(swagger, {
      openapi: {
        info: { title: opts.api.title, version: opts.api.version, description: opts.api.description },
        components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } } },
      },
    });
    await app.register(swaggerUi, { routePrefix: '/docs' });
  }

  /** `detailed`: name the failed checks and their errors (never on a public port with an admin one). */
  const readiness = (detailed: boolean) => async (request: FastifyRequest, reply: FastifyReply) => {
    if (!ready) return reply.status(503).send({ status: 'not ready' });
    const failed = await failedChecks(checks);
    if (Object.keys(failed).length > 0) {
      request.log.warn({ failed }, 'readiness check failed');
      return reply.status(503).send(detailed ? { status: 'not ready', failed } : { status: 'not ready' });
    }
    return { status: 'ready' };
  };
  const serveMetrics = async (_request: FastifyRequest, reply: FastifyReply) => {
    void reply.header('content-type', metrics.contentType);
    return metrics.metrics();
  };

  for (const server of admin ? [app, admin] : [app]) {
    server.get('/healthz', { schema: { hide: true } }, async () => ({ status: 'ok' }));
  }
  app.get('/readyz', { schema: { hide: true } }, readiness(!admin));
  (admin ?? app).get('/metrics', { schema: { hide: true } }, serveMetrics);
  admin?.get('/readyz', readiness(true));

  return {
    app,
    admin,
    metrics,
    setReady: (value) => void (ready = value),
    async listen({ host, port, adminPort }) {
      if (admin && adminPort === undefined) throw new Error('this app serves an admin port: listen needs adminPort');
      const url = await app.listen({ host, port });
      const adminUrl = admin ? await admin.listen({ host, port: adminPort }) : undefined;
      return { url, adminUrl };
    },
    async close() {
      await runAll([() => app.close(), () => admin?.close()]);
    },
  };
}
