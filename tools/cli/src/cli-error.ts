/** How the CLI ends: one exit code per kind of outcome (docs/CLI.md lists them). */
export const ExitCode = {
  /** Done. */
  OK: 0,
  /** A service refused or failed the request, could not be reached, or closed the connection for good. */
  FAILED: 1,
  /** The command line is wrong: unknown command or flag, a missing or invalid argument. */
  USAGE: 2,
  /** Something the command needs is not configured: no token and no dev secret, or a secret that is not a dev one. */
  NOT_CONFIGURED: 3,
} as const;

export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** An error the CLI reports as one line on stderr (no stack) and exits with `exitCode`. */
export class CliError extends Error {
  constructor(
    readonly exitCode: ExitCode,
    message: string,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

export const usageError = (message: string) => new CliError(ExitCode.USAGE, message);
export const failure = (message: string) => new CliError(ExitCode.FAILED, message);
export const notConfigured = (message: string) => new CliError(ExitCode.NOT_CONFIGURED, message);
