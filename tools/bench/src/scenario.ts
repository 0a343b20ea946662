/**
 * What a benchmark scenario is: it declares its flags and columns, runs one round when asked and
 * returns rows; the runner (cli.ts) parses the flags, repeats the rounds, takes the medians,
 * prints the table and writes the JSON.
 */
import type { Flags, FlagSpecs } from './flags';

/** One line of results. `null` is "does not apply" (printed as a dash). */
export type Row = Record<string, string | number | boolean | null>;

/** A column of the printed table: the row key, its header (default: the key), decimals (default 0). */
export type Column = { key: string; label?: string; digits?: number };

/** Columns from `key` or `[key, label, digits]`. */
export const columns = (...specs: Array<string | [string, string, number?]>): Column[] =>
  specs.map((spec) => (typeof spec === 'string' ? { key: spec } : { key: spec[0], label: spec[1], digits: spec[2] }));

/** `round` is 1-based; `parameter` records a setting the flags do not show in the JSON; `signal` aborts on Ctrl-C. */
export interface ScenarioContext {
  flags: Flags;
  round: number;
  rounds: number;
  /** One line for the person watching (stderr); never part of the results. */
  progress(line: string): void;
  parameter(name: string, value: string | number | boolean): void;
  signal: AbortSignal;
}

export interface Scenario {
  name: string;
  description: string;
  flags: FlagSpecs;
  /** The printed table; rows may carry more keys (the JSON has them all). Row i of every round is the same case. */
  columns: Column[];
  run(ctx: ScenarioContext): Promise<Row[]>;
}
