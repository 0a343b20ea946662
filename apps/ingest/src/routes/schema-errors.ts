/**
 * Turns a schema validation failure into the Contract error a caller can act on. Schema
 * validation stays the single gate for bad input; this only picks the code: a bad user id is
 * INVALID_USER_ID and a bad category INVALID_CATEGORY wherever they appear, everything else
 * INVALID_BODY (body) or BAD_REQUEST (path, query, headers).
 */
import type { FastifySchemaValidationError, RouteShorthandOptions } from 'fastify';
import { ErrorCodes, HeraldError, type ErrorCode } from '@herald/types';

type SchemaErrorFormatter = NonNullable<RouteShorthandOptions['schemaErrorFormatter']>;
type DataVar = Parameters<SchemaErrorFormatter>[1];

export interface SchemaErrorRule {
  /** Where the value sits: 'body', 'params', … */
  in: DataVar;
  /** Matches the failing value's JSON pointer, e.g. /^\/userIds\/\d+$/. */
  path: RegExp;
  /** Only for this ajv keyword (any keyword when omitted). */
  keyword?: string;
  code: ErrorCode;
  /** Replaces the generated message (for failures whose ajv message reads poorly). */
  message?: string;
}

function where(dataVar: DataVar, error: FastifySchemaValidationError): string {
  return `${dataVar}${error.instancePath}`;
}

function describe(dataVar: DataVar, error: FastifySchemaValidationError): string {
  return `${where(dataVar, error)} ${error.message ?? 'is invalid'}`;
}

/**
 * A route's `schemaErrorFormatter`. Rules are tried in order against every reported error, so an
 * earlier rule wins; fastify's error handler passes the HeraldError through unchanged.
 */
export function schemaErrors(rules: SchemaErrorRule[]): SchemaErrorFormatter {
  return (errors, dataVar) => {
    for (const rule of rules) {
      if (rule.in !== dataVar) continue;
      const hit = errors.find((e) => rule.path.test(e.instancePath) && (!rule.keyword || rule.keyword === e.keyword));
      if (hit) return new HeraldError(rule.code, rule.message ?? `${where(dataVar, hit)}: ${ErrorCodes[rule.code].message}`);
    }
    const first = errors[0];
    const fallback: ErrorCode = dataVar === 'body' ? 'INVALID_BODY' : 'BAD_REQUEST';
    return new HeraldError(fallback, first ? describe(dataVar, first) : ErrorCodes[fallback].message);
  };
}
