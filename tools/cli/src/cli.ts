/**
 * The command line, as a function of argv, environment and streams (so the binary is a thin
 * wrapper): find the command, parse its flags, run it, and turn every failure into one line on
 * stderr and an exit code.
 */
import { ConfigError } from '@herald/config';
import { COMMANDS } from './commands';
import { parseCommandArgs, type Io } from './command';
import { CliError, ExitCode } from './cli-error';
import { loadCliConfig } from './config';

export function mainHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return `Usage: herald <command> [options]    (npx herald … or npm run cli -- …)

The command-line tool for Herald: tokens for development, messages, live tails, offline lists,
categories, exposures and webhooks, against a running stack (npm run dev) or any deployment.

Commands:
${COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`).join('\n')}

herald <command> --help describes each. Settings come from flags, else the environment:
  HERALD_GATEWAY_URL (ws://127.0.0.1:8080/ws)   HERALD_INGEST_URL (http://127.0.0.1:8081)
  HERALD_CONSUMER_URL (http://127.0.0.1:8082)   HERALD_TOKEN (a producer's or analyst's token)
  HERALD_DEV_SECRET or AUTH_JWT_SECRET (the dev secret; tokens are minted with it when none is given)
  AUTH_ISSUER, AUTH_AUDIENCE (claims of minted tokens)   REDIS_URL or REDIS_CLUSTER_NODES (inbox)
else, while npm run dev runs in this checkout, the URLs, Redis and dev secret it left in
.herald/dev.json (HERALD_DEV_DIR), else the defaults above.

Exit codes: 0 done, 1 a service refused or failed (or could not be reached), 2 usage error,
3 not configured (no token and no dev secret, or a secret that is not a dev one).
`;
}

/** Runs one command line; resolves with the exit code. Never throws. */
export async function runCli(argv: string[], env: Record<string, string | undefined>, io: Io): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    const topic = name === 'help' ? rest[0] : undefined;
    const command = topic === undefined ? undefined : COMMANDS.find((c) => c.name === topic);
    if (topic !== undefined && !command) return fail(io, new CliError(ExitCode.USAGE, `no command "${topic}"; see herald --help`));
    io.stdout.write(command ? command.help : mainHelp());
    // Bare `herald` is a usage error that explains itself; asking for help is not.
    return name === undefined ? ExitCode.USAGE : ExitCode.OK;
  }
  const command = COMMANDS.find((c) => c.name === name);
  if (!command) {
    const names = COMMANDS.map((c) => c.name).join(', ');
    return fail(io, new CliError(ExitCode.USAGE, `unknown command "${name}"; the commands are ${names} (herald --help)`));
  }
  try {
    const args = parseCommandArgs(command, rest);
    if (args.flag('help')) {
      io.stdout.write(command.help);
      return ExitCode.OK;
    }
    let config;
    try {
      config = loadCliConfig(env, (line) => io.stderr.write(`herald: ${line}\n`));
    } catch (err) {
      if (err instanceof ConfigError) throw new CliError(ExitCode.NOT_CONFIGURED, err.message);
      throw err;
    }
    await command.run({ args, config, io });
    return ExitCode.OK;
  } catch (err) {
    return fail(io, err, command.name);
  }
}

function fail(io: Io, err: unknown, command?: string): number {
  const prefix = command ? `herald ${command}: ` : 'herald: ';
  if (err instanceof CliError) {
    io.stderr.write(`${err.message.startsWith('herald') ? '' : prefix}${err.message}\n`);
    return err.exitCode;
  }
  // A bug, not a user's mistake: keep the stack.
  io.stderr.write(`${prefix}unexpected error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  return ExitCode.FAILED;
}
