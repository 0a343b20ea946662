/**
 * A tiny typed schema for environment variables: each field says how to parse the string and
 * what its default is. Parsing happens once, at start; a bad value stops the process with an
 * error naming the variable.
 */
export class ConfigError extends Error {
  readonly code = 'CONFIG_INVALID';
  constructor(readonly variable: string, problem: string) {
    super(`Invalid configuration: ${variable} ${problem}`);
    this.name = 'ConfigError';
  }
}

export interface Field<T> {
  parse(raw: string | undefined, name: string): T;
}

type Env = Record<string, string | undefined>;

function present(raw: string | undefined): raw is string {
  return raw !== undefined && raw.trim() !== '';
}

export function str(defaultValue: string): Field<string> {
  return { parse: (raw) => (present(raw) ? raw.trim() : defaultValue) };
}

export function optionalStr(): Field<string | undefined> {
  return { parse: (raw) => (present(raw) ? raw.trim() : undefined) };
}

export function int(defaultValue: number, min: number, max: number = Number.MAX_SAFE_INTEGER): Field<number> {
  return {
    parse(raw, name) {
      if (!present(raw)) return defaultValue;
      const n = Number(raw.trim());
      if (!Number.isInteger(n) || n < min || n > max) {
        throw new ConfigError(name, `must be a whole number from ${min} to ${max}, got "${raw}"`);
      }
      return n;
    },
  };
}

export function oneOf<T extends string>(values: readonly T[], defaultValue: T): Field<T> {
  return {
    parse(raw, name) {
      if (!present(raw)) return defaultValue;
      const v = raw.trim() as T;
      if (!values.includes(v)) throw new ConfigError(name, `must be one of ${values.join(', ')}, got "${raw}"`);
      return v;
    },
  };
}

/** `true` or `false` (also 1/0, yes/no, on/off, any case). */
export function bool(defaultValue: boolean): Field<boolean> {
  const TRUE = ['true', '1', 'yes', 'on'];
  const FALSE = ['false', '0', 'no', 'off'];
  return {
    parse(raw, name) {
      if (!present(raw)) return defaultValue;
      const v = raw.trim().toLowerCase();
      if (TRUE.includes(v)) return true;
      if (FALSE.includes(v)) return false;
      throw new ConfigError(name, `must be true or false, got "${raw}"`);
    },
  };
}

export function url(defaultValue: string | undefined, protocols: string[]): Field<string | undefined> {
  return {
    parse(raw, name) {
      const v = present(raw) ? raw.trim() : defaultValue;
      if (v === undefined) return undefined;
      let parsed: URL;
      try {
        parsed = new URL(v);
      } catch {
        throw new ConfigError(name, `must be a URL, got "${v}"`);
      }
      if (!protocols.includes(parsed.protocol)) {
        throw new ConfigError(name, `must use ${protocols.join(' or ')}, got "${parsed.protocol}"`);
      }
      return v;
    },
  };
}

/** `host:port` pairs, comma-separated. */
export function hostPorts(): Field<{ host: string; port: number }[] | undefined> {
  return {
    parse(raw, name) {
      if (!present(raw)) return undefined;
      return raw.split(',').map((item) => {
        const m = /^\s*([^:\s]+):(\d{1,5})\s*$/.exec(item);
        if (!m || Number(m[2]) > 65535) throw new ConfigError(name, `must be host:port[,host:port…], got "${item}"`);
        return { host: m[1], port: Number(m[2]) };
      });
    },
  };
}

export type Schema = Record<string, Field<unknown>>;
export type Parsed<S extends Schema> = { readonly [K in keyof S]: S[K] extends Field<infer T> ? T : never };

export function parseEnv<S extends Schema>(schema: S, env: Env): Parsed<S> {
  const out: Record<string, unknown> = {};
  for (const [name, field] of Object.entries(schema)) out[name] = field.parse(env[name], name);
  return Object.freeze(out) as Parsed<S>;
}
