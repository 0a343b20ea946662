import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname } from 'node:path';
import { Client, Pool } from 'pg';
import { waitFor } from '@herald/stack';
import { startPostgres, type TestPostgres } from './postgres';

// The tests run in order on one embedded cluster: restart it, block its port, use it as a
// "DATABASE_URL" server, then stop it for good.
describe('startPostgres (embedded): stopServer/startServer', () => {
  let postgres: TestPostgres;
  let pool: Pool;
  const clients: Client[] = [];
  // Errors emitted by connections the server closed on stopServer(); without listeners they would
  // be unhandled 'error' events and kill the test process.
  const connectionErrors: Error[] = [];

  function client(): Client {
    const c = new Client({ connectionString: postgres.url });
    c.on('error', (err) => connectionErrors.push(err));
    clients.push(c);
    return c;
  }

  beforeAll(async () => {
    // `{}`: the embedded cluster even when the environment has DATABASE_URL.
    postgres = await startPostgres({});
    pool = new Pool({ connectionString: postgres.url, max: 2 });
    pool.on('error', (err) => connectionErrors.push(err));
  }, 60_000);

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
    await pool?.end().catch(() => undefined);
    await postgres?.stop();
  }, 30_000);

  test('keeps its data and URL across stopServer() and startServer(); queries fail while stopped', async () => {
    expect(postgres.restartable).toBe(true);
    const before = client();
    await before.connect();
    await before.query('CREATE TABLE notes (id int PRIMARY KEY, body text NOT NULL)');
    await before.query("INSERT INTO notes VALUES (1, 'kept')");
    // The pool holds an open idle connection when the server goes away.
    expect((await pool.query('SELECT count(*)::int AS n FROM notes')).rows).toEqual([{ n: 1 }]);
    expect(pool.idleCount).toBeGreaterThan(0);

    // Resolving is the check: a stop that needed SIGKILL (no clean exit within the helper's
    // 10 s grace) rejects, and so does a start that is not ready within 30 s. No timing here.
    await postgres.stopServer();

    await expect(before.query('SELECT 1')).rejects.toThrow();
    await expect(client().connect()).rejects.toThrow(/ECONNREFUSED/);
    await expect(pool.query('SELECT 1')).rejects.toThrow();
    await postgres.stopServer(); // already stopped: a no-op

    await postgres.startServer();
    await postgres.startServer(); // already running: a no-op

    const after = client();
    await after.connect();
    expect((await after.query('SELECT id, body FROM notes')).rows).toEqual([{ id: 1, body: 'kept' }]);

    // The pool made before the stop serves new queries once the server is back.
    const rows = await waitFor(
      async () => (await pool.query('SELECT body FROM notes WHERE id = 1')).rows,
      { timeoutMs: 10_000, what: 'the old pool to query the restarted server' },
    );
    expect(rows).toEqual([{ body: 'kept' }]);
    await pool.query("INSERT INTO notes VALUES (2, 'after restart')");
    expect((await after.query('SELECT count(*)::int AS n FROM notes')).rows).toEqual([{ n: 2 }]);
  }, 60_000);

  test('startServer() fails loudly when the port was taken meanwhile, and works once it is free', async () => {
    await postgres.stopServer();
    const squatter = createServer();
    await new Promise<void>((resolve, reject) => {
      squatter.once('error', reject);
      squatter.listen(Number(new URL(postgres.url).port), '127.0.0.1', resolve);
    });
    try {
      await expect(postgres.startServer()).rejects.toThrow(/did not start again on port \d+ \(was the port taken meanwhile\?\)/);
    } finally {
      await new Promise((resolve) => squatter.close(resolve));
    }
    await postgres.startServer();
    const c = client();
    await c.connect();
    expect((await c.query('SELECT count(*)::int AS n FROM notes')).rows).toEqual([{ n: 2 }]);
  }, 60_000);

  test('with DATABASE_URL the server cannot be restarted: restartable is false and both methods reject', async () => {
    const shared = await startPostgres({ DATABASE_URL: postgres.url });
    try {
      expect(shared.restartable).toBe(false);
      await expect(shared.stopServer()).rejects.toThrow(/stopServer\(\) needs the embedded Postgres/);
      await expect(shared.startServer()).rejects.toThrow(/startServer\(\) needs the embedded Postgres/);
      // The server still runs: its database answers.
      const c = new Client({ connectionString: shared.url });
      await c.connect();
      try {
        expect((await c.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
      } finally {
        await c.end();
      }
    } finally {
      await shared.stop();
    }
  }, 30_000);

  test('stop() after stopServer() removes the data; the server cannot be started again', async () => {
    const c = client();
    await c.connect();
    const { data_directory: dataDir } = (await c.query('SHOW data_directory')).rows[0] as { data_directory: string };
    await c.end();
    const dir = dirname(dataDir); // the temp dir around the cluster
    expect(existsSync(dataDir)).toBe(true);

    await postgres.stopServer();
    expect(existsSync(dataDir)).toBe(true); // data kept while stopped
    await postgres.stop();
    expect(existsSync(dir)).toBe(false);
    await postgres.stop(); // idempotent

    await expect(postgres.startServer()).rejects.toThrow(/stopped with stop\(\)/);
    await expect(postgres.stopServer()).rejects.toThrow(/stopped with stop\(\)/);
  }, 30_000);
});
