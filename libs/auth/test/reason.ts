import { AuthError } from '../src';

/** Why `p` was refused (its AuthError's reason), or 'verified' when it was not. */
export async function reason(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    if (err instanceof AuthError) return err.reason;
    throw err;
  }
  return 'verified';
}
