/**
 * What a command is: its name, its help, the flags it takes, and what it does. Flags are parsed
 * with node:util parseArgs (strict: an unknown flag is a usage error), and `--help` works on all.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { CliConfig } from './config';
import { usageError } from './cli-error';

export type Options = NonNullable<ParseArgsConfig['options']>;

export interface Io {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
}

export interface CommandContext {
  args: Args;
  config: CliConfig;
  io: Io;
}

export interface Command {
  name: string;
  /** One line for `herald --help`. */
  summary: string;
  /** The whole `herald <name> --help` text. */
  help: string;
  options: Options;
  /** Resolves when done (exit 0); throws a CliError to fail. */
  run(ctx: CommandContext): Promise<void>;
}

/** Parsed flags and positionals, with typed getters that fail as usage errors. */
export class Args {
  constructor(
    readonly command: string,
    private readonly values: Record<string, string | boolean | (string | boolean)[] | undefined>,
    readonly positionals: string[],
  ) {}

  string(name: string): string | undefined {
    const v = this.values[name];
    return typeof v === 'string' ? v : undefined;
  }

  strings(name: string): string[] {
    const v = this.values[name];
    if (v === undefined) return [];
    return (Array.isArray(v) ? v : [v]).filter((x): x is string => typeof x === 'string');
  }

  flag(name: string): boolean {
    return this.values[name] === true;
  }

  /** A whole number flag within [min, max]. */
  int(name: string, min: number, max: number): number | undefined {
    const raw = this.string(name);
    if (raw === undefined) return undefined;
    const n = Number(raw);
    if (!/^\d+$/.test(raw) || n < min || n > max) {
      throw usageError(`--${name} must be a whole number from ${min} to ${max}, got "${raw}"`);
    }
    return n;
  }

  /** Exactly `names.length` positionals (named in the error). */
  positional(names: string[], { rest = false } = {}): string[] {
    if (this.positionals.length < names.length) {
      throw usageError(`herald ${this.command}: missing <${names[this.positionals.length]}>`);
    }
    if (!rest && this.positionals.length > names.length) {
      throw usageError(`herald ${this.command}: unexpected argument "${this.positionals[names.length]}"`);
    }
    return this.positionals;
  }
}

export const HELP_OPTION: Options = { help: { type: 'boolean', short: 'h' } };

export function parseCommandArgs(command: Command, argv: string[]): Args {
  try {
    const { values, positionals } = parseArgs({
      args: argv,
      options: { ...HELP_OPTION, ...command.options },
      allowPositionals: true,
      strict: true,
    });
    return new Args(command.name, values, positionals);
  } catch (err) {
    // parseArgs says which flag is unknown or lacks its value.
    throw usageError(`herald ${command.name}: ${(err as Error).message} (see herald ${command.name} --help)`);
  }
}
