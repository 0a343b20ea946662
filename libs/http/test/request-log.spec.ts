/**
 * The request line (`onResponse`): written at debug, its URL's access token redacted; at info and
 * above nothing is written, and the line's fields are not even made.
 */
import { Writable } from 'node:stream';
import { createLogger } from '@herald/logger';
import { createHttpApp } from '../src';

async function linesAt(level: 'debug' | 'info'): Promise<Array<Record<string, unknown>>> {
  const lines: Array<Record<string, unknown>> = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  const http = await createHttpApp({ logger: createLogger({ app: 'request-log', level, destination }) });
  try {
    http.app.get('/hello', async () => ({ hello: true }));
    const res = await http.app.inject({ method: 'GET', url: '/hello?access_token=secret-value&x=1' });
    expect(res.statusCode).toBe(200);
    return lines.filter((line) => line.msg === 'request');
  } finally {
    await http.close();
  }
}

it('writes each request at debug, with its URL redacted', async () => {
  const [line, ...more] = await linesAt('debug');
  expect(more).toEqual([]);
  expect(line).toMatchObject({ method: 'GET', url: '/hello?access_token=[redacted]&x=1', status: 200 });
});

it('writes nothing for a request at info', async () => {
  expect(await linesAt('info')).toEqual([]);
});
