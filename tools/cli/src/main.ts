/** `herald` (tools/cli/bin/herald.js runs this with tsx): the command line on the real process. */
import { runCli } from './cli';

runCli(process.argv.slice(2), process.env, { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin }).then(
  (code) => {
    // Let stdout drain (a pipe may be slow), then exit even if a library left a handle open.
    process.exitCode = code;
    process.stdout.write('', () => process.exit(code));
  },
);
