import { EmulatorError, ErrorReason } from './errors';

/**
 * Resource-id rule shared by topics and subscriptions (same as Cloud Pub/Sub):
 * starts with a letter, 3-255 characters from a restricted set, not `goog*`.
 */
const RESOURCE_ID = /^[A-Za-z][A-Za-z0-9\-_.~+%]{2,254}$/;
const RESERVED_PREFIX = /^goog/i;
const PROJECT_ID = /^[^/\s]+$/;

export type ResourceKind = 'topics' | 'subscriptions';

export interface ParsedName {
  project: string;
  id: string;
}

/**
 * Validates `projects/{project}/{kind}/{id}` and returns its parts.
 * @throws EmulatorError(INVALID_NAME) so callers get gRPC INVALID_ARGUMENT.
 */
export function parseResourceName(name: string, kind: ResourceKind): ParsedName {
  const parts = (name ?? '').split('/');
  const [projectsLiteral, project, kindLiteral, id] = parts;
  const valid =
    parts.length === 4 &&
    projectsLiteral === 'projects' &&
    PROJECT_ID.test(project) &&
    kindLiteral === kind &&
    RESOURCE_ID.test(id) &&
    !RESERVED_PREFIX.test(id);
  if (!valid) {
    throw new EmulatorError(ErrorReason.InvalidName, `Invalid ${kind} name: "${name}"`);
  }
  return { project, id };
}

/** Validates `projects/{project}` (the parent in List* calls) and returns the project id. */
export function parseProjectName(name: string): string {
  const match = /^projects\/([^/\s]+)$/.exec(name ?? '');
  if (!match) throw new EmulatorError(ErrorReason.InvalidName, `Invalid project name: "${name}"`);
  return match[1];
}
