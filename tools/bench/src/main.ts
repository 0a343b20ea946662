/** `npm run bench -- <scenario> [--flags]` (cli.ts). Ctrl-C stops the run at its next wait; a second one exits at once. */
import { runCli } from './cli';

const aborter = new AbortController();
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (aborter.signal.aborted) process.exit(130);
    process.stderr.write(`\n${signal}: stopping (again to exit at once)\n`);
    aborter.abort(new Error(`interrupted by ${signal}`));
  });
}
const io = { stdout: (text: string) => process.stdout.write(text), stderr: (text: string) => process.stderr.write(text), signal: aborter.signal };
runCli(process.argv.slice(2), io).then(
  ({ exitCode }) => process.exit(exitCode),
  (err: unknown) => {
    process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
