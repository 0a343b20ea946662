/**
 * `npm run bench -- <scenario> [--flags]` (see cli.ts). Ctrl-C stops the run at its next wait and
 * lets it stop what it started; a second Ctrl-C exits at once.
 */
import { runCli } from './cli';

const aborter = new AbortController();
const onSignal = (signal: NodeJS.Signals) => {
  if (aborter.signal.aborted) process.exit(130);
  process.stderr.write(`\n${signal}: stopping (again to exit at once)\n`);
  aborter.abort(new Error(`interrupted by ${signal}`));
};
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);

runCli(process.argv.slice(2), {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  signal: aborter.signal,
}).then(
  ({ exitCode }) => process.exit(exitCode),
  (err: unknown) => {
    process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
