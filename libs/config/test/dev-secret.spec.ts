import { DEV_SECRET_PREFIX, isDevSecret } from '../src';

describe('isDevSecret', () => {
  it('accepts only a secret with the dev prefix that is long enough to be used at all', () => {
    expect(isDevSecret(`${DEV_SECRET_PREFIX}${'a'.repeat(48)}`)).toBe(true);
    expect(isDevSecret(`${DEV_SECRET_PREFIX}short`)).toBe(false);
    expect(isDevSecret(`prod-${'a'.repeat(48)}`)).toBe(false);
    expect(isDevSecret(`x${DEV_SECRET_PREFIX}${'a'.repeat(48)}`)).toBe(false);
    expect(isDevSecret(undefined)).toBe(false);
  });
});
