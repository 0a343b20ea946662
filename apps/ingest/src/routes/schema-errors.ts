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

/**
 * The error for a validation failure: the first rule that matches (rules are tried in order, so
 * an earlier rule wins), else INVALID_BODY (body) or BAD_REQUEST (path, query, headers). `label`
 * names the value in the message (default: `dataVar`, e.g. `body/userIds/0`).
 */
export function schemaError(
  rules: SchemaErrorRule[],
  errors: FastifySchemaValidationError[],
  dataVar: DataVar,
  label: string = dataVar,
): HeraldError {
  for (const rule of rules) {
    if (rule.in !== dataVar) continue;
    const hit = errors.find((e) => rule.path.test(e.instancePath) && (!rule.keyword || rule.keyword === e.keyword));
    if (hit) return new HeraldError(rule.code, rule.message ?? `${label}${hit.instancePath}: ${ErrorCodes[rule.code].message}`);
  }
  const first = errors[0];
  const fallback: ErrorCode = dataVar === 'body' ? 'INVALID_BODY' : 'BAD_REQUEST';
  return new HeraldError(fallback, first ? `${label}${first.instancePath} ${first.message ?? 'is invalid'}` : ErrorCodes[fallback].message);
}

/** A route's `schemaErrorFormatter`; fastify's error handler passes the HeraldError through unchanged. */
export function schemaErrors(rules: SchemaErrorRule[]): SchemaErrorFormatter {
  return (errors, dataVar) => schemaError(rules, errors, dataVar);
}
