/**
 * What a benchmark scenario is: it declares its flags and columns, runs one round when asked and
 * returns rows; the runner (cli.ts) parses the flags, repeats the rounds, takes the medians,
 * prints the table and writes the JSON.
 */
import type { Flags, FlagSpecs } from './flags';

/** One line of results. `null` is "does not apply" (printed as a dash). */
export type Row = Record<string, string | number | boolean | null>;

/** A column of the printed table: the row key, its header (default: the key), decimals for numbers (default 0). */
export type Column = { key: string; label?: string; digits?: number };

/** Columns from `key` or `[key, label, digits]`. */
export const columns = (...specs: Array<string | [string, string, number?]>): Column[] =>
  specs.map((spec) => (typeof spec === 'string' ? { key: spec } : { key: spec[0], label: spec[1], digits: spec[2] }));

export interface ScenarioContext {
  flags: Flags;
  /** 1-based round number and the number of rounds. */
  round: number;
  rounds: number;
  /** One line of progress for the person watching (stderr); never part of the results. */
  progress(line: string): void;
  /** Record a parameter that the flags do not show (e.g. which emulator ran) in the JSON. */
  parameter(name: string, value: string | number | boolean): void;
  /** Aborted on Ctrl-C: stop at the next wait. */
  signal: AbortSignal;
}

export interface Scenario {
  name: string;
  description: string;
  flags: FlagSpecs;
  /**
   * Columns of the printed table, in order; rows may carry more keys (they all go to the JSON).
   * Row i of every round must describe the same case: the runner reports per case the median of
   * each number, whether every round held for a boolean, and the text.
   */
  columns: Column[];
  run(ctx: ScenarioContext): Promise<Row[]>;
}
