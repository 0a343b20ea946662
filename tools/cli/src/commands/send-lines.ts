/**
 * `herald send --file <path>` without recipients: bulk mode. The file (or stdin, `-`) holds JSON
 * lines, each one message body as POST /v1/messages takes it (recipients, payload, optional
 * ttlSeconds and idempotencyKey). They go through POST /v1/messages/batch in batches of at most
 * MAX_BATCH_MESSAGES lines (fewer when the lines pass BATCH_MAX_BYTES or the batch recipient
 * bound), and each line's result is printed on stdout as a JSON line, in the file's order:
 * `{"line":n,"id":"…"}` or `{"line":n,"error":{"code","message"}}`. A summary goes to stderr.
 */
import { MAX_RECIPIENTS_LIMIT } from '@herald/config';
import { MAX_BATCH_MESSAGES } from '@herald/types';
import type { Io } from '../command';
import { CliError, failure } from '../cli-error';
import { callApi, type Service } from '../http';

/** Bytes of lines per batch: well under ingest's default MAX_BATCH_BODY_BYTES (4 MB). */
export const BATCH_MAX_BYTES = 1024 * 1024;

type ItemResult = { id: string } | { error: { code: string; message: string } };

interface Line {
  line: number;
  body: unknown;
}

function recipientsOf(body: unknown): number {
  const userIds = (body as { userIds?: unknown } | null)?.userIds;
  return Array.isArray(userIds) ? userIds.length : 0;
}

/** The lines' bodies in batches, each within the count, byte and recipient bounds. */
function* batches(lines: { line: number; text: string; body: unknown }[]): Generator<Line[]> {
  let batch: Line[] = [];
  let bytes = 0;
  let recipients = 0;
  for (const { line, text, body } of lines) {
    const n = recipientsOf(body);
    const full =
      batch.length === MAX_BATCH_MESSAGES || bytes + text.length > BATCH_MAX_BYTES || recipients + n > MAX_RECIPIENTS_LIMIT;
    if (batch.length > 0 && full) {
      yield batch;
      [batch, bytes, recipients] = [[], 0, 0];
    }
    batch.push({ line, body });
    bytes += text.length;
    recipients += n;
  }
  if (batch.length > 0) yield batch;
}

export async function sendLines(text: string, source: string, service: Service, token: string, io: Io): Promise<void> {
  const numbered = text.split('\n').flatMap((raw, i) => (raw.trim() === '' ? [] : [{ line: i + 1, text: raw }]));
  if (numbered.length === 0) throw failure(`no message in ${source} (one JSON body per line)`);
  // Results are printed in the file's order, as far as every line up to them is known.
  const known = new Map<number, ItemResult>();
  let printed = 0;
  const flush = () => {
    for (; printed < numbered.length && known.has(numbered[printed].line); printed++) {
      const { line } = numbered[printed];
      io.stdout.write(`${JSON.stringify({ line, ...known.get(line) })}\n`);
    }
  };
  const parsed: { line: number; text: string; body: unknown }[] = [];
  for (const { line, text: raw } of numbered) {
    try {
      parsed.push({ line, text: raw, body: JSON.parse(raw) });
    } catch (err) {
      known.set(line, { error: { code: 'INVALID_JSON', message: `not JSON (${(err as Error).message})` } });
    }
  }
  let sent = 0;
  for (const batch of batches(parsed)) {
    let results: ItemResult[] | undefined;
    try {
      const res = await callApi<{ results?: ItemResult[] }>(service, 'v1/messages/batch', {
        method: 'POST',
        token,
        body: { messages: batch.map((l) => l.body) },
      });
      results = res.body?.results;
    } catch (err) {
      flush();
      const why = err instanceof CliError ? err.message : String(err);
      throw failure(`${why}; ${sent} line(s) were sent, the ${parsed.length - sent} from line ${batch[0].line} on were not`);
    }
    if (results?.length !== batch.length) throw failure(`ingest answered ${results?.length ?? 0} results for ${batch.length} lines`);
    batch.forEach((l, i) => known.set(l.line, results[i]));
    sent += batch.length;
    flush();
  }
  flush();
  const failed = numbered.filter(({ line }) => 'error' in (known.get(line) ?? {})).map(({ line }) => line);
  const total = numbered.length;
  io.stderr.write(`sent ${total - failed.length} of ${total} message(s) from ${source}`);
  if (failed.length > 0) {
    io.stderr.write(`; ${failed.length} failed (line ${failed.join(', ')})\n`);
    throw failure(`${failed.length} of ${total} message(s) not sent`);
  }
  io.stderr.write('\n');
}
