/**
 * What a request costs a Node server before Herald's own work (issue 15's ingest target): the
 * api-push producer (workers/api-producer.ts: open loop, one message a request or batches of
 * them, keep-alive connections) against a bare node:http server, Fastify, Fastify with the two
 * Redis writes a stored message needs at least (workers/http-floor.ts), and Herald's ingest, one
 * after the other on the same rig, at the same rates. CPU per message of the server, Redis and the
 * producer; no gateway, no clients (ingest stores the messages for users who are offline).
 */
import { cpuPct, cpuUsPer } from '../procs';
import { Rig, userIdsFor } from '../rig';
import { columns, type Row, type Scenario } from '../scenario';
import type { ApiProducerSetup } from '../workers/api-producer';
import type { FloorKind } from '../workers/http-floor';

const SERVERS = ['http', 'fastify', 'fastify-redis', 'ingest'] as const;
const MESSAGE_TTL_SECONDS = 600;

export const apiFloor: Scenario = {
  name: 'api-floor',
  description:
    'CPU per message (POST /v1/messages, or /v1/messages/batch with --mode batch) of a bare node:http server, Fastify, Fastify + two Redis writes a message, and Herald ingest, driven by the api-push producer at each --rates',
  flags: {
    rates: { kind: 'ints', default: '500,1000,5000', min: 1, max: 100_000, description: 'messages per second (batch mode: gathered into batches), one measurement each' },
    servers: { kind: 'words', default: SERVERS.join(','), choices: SERVERS, description: 'the servers measured, in this order' },
    seconds: { kind: 'int', default: '10', min: 1, max: 600, description: 'seconds of sending measured at each rate' },
    warmup: { kind: 'int', default: '15', min: 0, max: 60, description: 'seconds of sending at the first rate before measuring, per server: long enough for V8 to have compiled the hot code (README.md)' },
    users: { kind: 'int', default: '5000', min: 1, max: 250_000, description: 'users the messages go to, round-robin' },
    connections: { kind: 'int', default: '64', min: 1, max: 4096, description: "the producer's keep-alive connections at most" },
    mode: { kind: 'words', default: 'single', choices: ['single', 'batch'], description: "the producer's requests: one message each, or POST /v1/messages/batch" },
    'batch-size': { kind: 'int', default: '100', min: 1, max: 500, description: 'batch mode: messages per request at most' },
    'batch-ms': { kind: 'int', default: '20', min: 1, max: 10_000, description: 'batch mode: how long a batch waits for more messages after its first' },
  },
  columns: columns(
    'server', 'mode', 'rate', 'sent', 'failed', ['serverUs', 'server µs/msg', 1], ['xHttp', '×http', 2], ['redisUs', 'Redis µs', 1],
    ['emulatorUs', 'emulator µs', 1], ['loadUs', 'producer µs', 1], ['machineCpuPct', 'machine CPU %'], ['producerLagMs', 'producer lag ms', 1],
  ),
  run: (ctx) =>
    Rig.run(ctx, async (rig, runTag) => {
      const { flags, progress } = ctx;
      const [seconds, warmup] = [flags.int('seconds'), flags.int('warmup')];
      const rates = flags.ints('rates');
      const userIds = userIdsFor(`floor-${runTag}-`, flags.int('users'));
      const connections = flags.int('connections');
      const mode = flags.words('mode')[0] as 'single' | 'batch';
      const servers = flags.words('servers') as Array<(typeof SERVERS)[number]>;
      const batches = mode === 'batch' ? { batchSize: flags.int('batch-size'), batchMs: flags.int('batch-ms') } : { batchSize: 1, batchMs: 1 };
      const rows: Row[] = [];
      for (const server of servers) {
        // Ingest stays up with the rig; a floor server stops once measured (idle, it would cost nothing anyway).
        const { pid, url, stop } = server === 'ingest' ? { ...(await rig.ingest()), stop: async () => undefined } : await startFloor(rig, server);
        const setup: ApiProducerSetup = {
          type: 'setup', ingestUrl: url, token: rig.producerToken, userIds, ttlSeconds: MESSAGE_TTL_SECONDS,
          mode, ...batches, connections,
        };
        const producer = await rig.startSender(`${server} producer`, setup, 'api-producer');
        if (warmup > 0) await producer.run(rates[0], warmup);
        for (const rate of rates) {
          progress(`${server}: ${rate}/s for ${seconds} s`);
          const window = rig.cpuWindow({ server: [pid], load: [producer.pid] });
          const sent = await producer.run(rate, seconds);
          const cpu = window.stop();
          const per = (group: string) => cpuUsPer(cpu.groups[group], sent.done);
          const serverUs = per('server');
          const http = server === 'http' ? serverUs : rows.find((row) => row.server === 'http' && row.rate === rate)?.serverUs;
          rows.push({
            server, mode, rate, seconds, sent: sent.done, failed: sent.failed, serverUs,
            xHttp: typeof http === 'number' && serverUs !== null ? serverUs / http : null,
            redisUs: per('redis'), emulatorUs: per('emulator'), loadUs: per('load'),
            machineCpuPct: cpuPct(cpu.machine, cpu), producerLagMs: sent.maxLagMs,
          });
          progress(`${server} at ${rate}/s: ${serverUs?.toFixed(1) ?? '-'} µs of server CPU per message`);
        }
        await producer.stop();
        await stop();
      }
      return rows;
    }),
};

async function startFloor(rig: Rig, kind: FloorKind): Promise<{ pid: number; url: string; stop(): Promise<unknown> }> {
  const server = rig.fork('http-floor', `${kind} floor`);
  const port = await server.request<number>({ type: 'listen', kind, redisUrl: rig.redis.url });
  return { pid: server.pid, url: `http://127.0.0.1:${port}`, stop: () => server.stop() };
}
