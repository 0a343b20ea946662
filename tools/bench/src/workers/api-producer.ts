/**
 * The api-push scenario's producer: a process sending messages to ingest's HTTP API at an open-loop
 * rate (protocol.ts `openLoop`), each to one user round-robin, over keep-alive connections
 * (http-pool.ts), as a backend calling Herald would. Payload `{"t":<scheduled send time, epoch
 * ms>,"s":<the user's sequence number>}` as the other producers (workers/sender.ts).
 * - single: one `POST /v1/messages` per message (202 is done);
 * - batch: `POST /v1/messages/batch`, the messages due within `batchMs` of the first one (at most
 *   `batchSize`) in one request; each item is done or failed by its own result.
 * A run's reply also says how long ingest took to answer (`answerP50Ms`, `answerP99Ms`).
 */
import { build } from 'hdr-histogram-js';
import { latencyOf } from '../report';
import { HttpPool } from './http-pool';
import { nowMs, openLoop, serveRequests, type OpenLoopReply } from './protocol';

export type ApiProducerSetup = {
  type: 'setup'; ingestUrl: string; token: string; userIds: string[]; ttlSeconds: number;
  mode: 'single' | 'batch'; batchSize: number; batchMs: number; connections: number;
};
export type ApiProducerRequest = ApiProducerSetup | { type: 'run'; rate: number; seconds: number };

type Done = (err?: unknown) => void;
let send: ((at: number, done: Done) => void) | undefined;

/** POST `body` to `path`; resolves with the answer's text when its status is `expected`. */
async function post(pool: HttpPool, path: string, body: string, expected: number): Promise<string> {
  const { status, text } = await pool.post(path, body);
  if (status !== expected) throw new Error(`POST ${path} answered ${status}: ${text.slice(0, 300)}`);
  return text;
}

function setup(request: ApiProducerSetup): void {
  const { userIds, ttlSeconds } = request;
  const pool = new HttpPool(new URL(request.ingestUrl), request.connections, { authorization: `Bearer ${request.token}` });
  /** Next sequence number per user, and the next user; both carry over from run to run. */
  const seq = new Uint32Array(userIds.length);
  let next = -1;
  const item = (at: number) => {
    next = (next + 1) % userIds.length;
    return { userIds: [userIds[next]], payload: { t: at, s: seq[next]++ }, ttlSeconds };
  };
  if (request.mode === 'single') {
    send = (at, done) => void post(pool, '/v1/messages', JSON.stringify(item(at)), 202).then(() => done(), done);
    return;
  }
  let pending: Array<{ body: object; done: Done }> = [];
  let timer: NodeJS.Timeout | undefined;
  const flush = () => {
    clearTimeout(timer);
    timer = undefined;
    const batch = pending;
    pending = [];
    post(pool, '/v1/messages/batch', JSON.stringify({ messages: batch.map((m) => m.body) }), 200).then(
      (text) => {
        const { results } = JSON.parse(text) as { results: Array<{ id: string } | { error: { code: string; message: string } }> };
        batch.forEach((m, i) => {
          const result = results[i];
          m.done(result && 'id' in result ? undefined : new Error(result ? `${result.error.code}: ${result.error.message}` : 'no result'));
        });
      },
      (err: unknown) => batch.forEach((m) => m.done(err)),
    );
  };
  send = (at, done) => {
    pending.push({ body: item(at), done });
    if (pending.length >= request.batchSize) flush();
    else timer ??= setTimeout(flush, request.batchMs);
  };
}

serveRequests(async (request: ApiProducerRequest): Promise<OpenLoopReply | void> => {
  if (request.type === 'setup') return setup(request);
  const sendOne = send;
  if (!sendOne) throw new Error('run before setup');
  // In µs, as the clients record their arrivals (workers/clients.ts).
  const answers = build({ numberOfSignificantValueDigits: 3 });
  const reply = await openLoop(request.rate, request.seconds, (at, done) =>
    sendOne(at, (err) => {
      if (err === undefined) answers.recordValue(Math.max(0, Math.round((nowMs() - at) * 1000)));
      done(err);
    }),
  );
  const { p50Ms, p99Ms, count } = latencyOf(answers);
  return count === 0 ? reply : { ...reply, answerP50Ms: p50Ms, answerP99Ms: p99Ms };
});
