/**
 * Command-line flags: `--name value` or `--name=value`, declared per scenario with a kind and a
 * default (as typed on the command line), checked once before anything starts, with an error that
 * names the flag. `min`/`max` bound an `int` and each of `ints` (default 0 and unbounded);
 * `choices` are the words a `words` flag allows.
 */
export interface FlagSpec {
  kind: 'int' | 'ints' | 'words';
  default: string;
  description: string;
  min?: number;
  max?: number;
  choices?: readonly string[];
}

export type FlagSpecs = Record<string, FlagSpec>;

export class FlagError extends Error {
  readonly code = 'BENCH_BAD_FLAG';
}

type Value = number | number[] | string[];

export class Flags {
  private constructor(private readonly values: Readonly<Record<string, Value>>) {}

  static parse(specs: FlagSpecs, args: readonly string[]): Flags {
    const given = new Map<string, string>();
    for (let i = 0; i < args.length; i++) {
      const arg = args[i];
      if (!arg.startsWith('--')) throw new FlagError(`unexpected argument "${arg}": flags look like --name value`);
      const eq = arg.indexOf('=');
      const name = eq > 0 ? arg.slice(2, eq) : arg.slice(2);
      if (!(name in specs)) {
        throw new FlagError(`unknown flag --${name}; this scenario takes ${Object.keys(specs).map((n) => `--${n}`).join(', ')}`);
      }
      const value = eq > 0 ? arg.slice(eq + 1) : args[++i];
      if (value === undefined) throw new FlagError(`--${name} needs a value`);
      given.set(name, value);
    }
    const values: Record<string, Value> = {};
    for (const [name, spec] of Object.entries(specs)) values[name] = parseValue(name, spec, given.get(name) ?? spec.default);
    return new Flags(Object.freeze(values));
  }

  int = (name: string): number => this.get(name, 'number') as number;
  ints = (name: string): number[] => this.get(name, 'object') as number[];
  words = (name: string): string[] => this.get(name, 'object') as string[];

  toJSON(): Record<string, Value> {
    return { ...this.values };
  }

  private get(name: string, type: 'number' | 'object'): Value {
    const value = this.values[name];
    if (typeof value !== type) throw new Error(`flag --${name} is not declared as ${type === 'number' ? 'int' : 'a list'}`);
    return value;
  }
}

function parseValue(name: string, spec: FlagSpec, raw: string): Value {
  const [min, max] = [spec.min ?? 0, spec.max ?? Number.MAX_SAFE_INTEGER];
  const int = (text: string): number => {
    const n = /^\d+(_\d+)*$/.test(text) ? Number(text.replace(/_/g, '')) : NaN;
    if (Number.isSafeInteger(n) && n >= min && n <= max) return n;
    throw new FlagError(`--${name} takes whole numbers from ${min}${spec.max === undefined ? ' up' : ` to ${max}`}, got "${text}"`);
  };
  if (spec.kind === 'int') return int(raw);
  const list = raw.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
  if (list.length === 0) throw new FlagError(`--${name} needs at least one ${spec.kind === 'ints' ? 'number' : `of ${spec.choices?.join(', ')}`} (comma-separated)`);
  if (spec.kind === 'ints') return list.map(int);
  const wrong = list.find((word) => spec.choices && !spec.choices.includes(word));
  if (wrong !== undefined) throw new FlagError(`--${name} takes ${spec.choices?.join(', ')} (comma-separated), got "${wrong}"`);
  return list;
}
