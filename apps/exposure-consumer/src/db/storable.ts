/** What Postgres can store as given: the checks every value bound for a column goes through first. */

/** Whether Postgres can hold this time as a timestamptz written the ISO way: years 0001 to 9999 UTC. */
export function inStoredRange(time: Date): boolean {
  const year = time.getUTCFullYear();
  return year >= 1 && year <= 9999;
}

/** Postgres text cannot hold a NUL character. */
export function hasNul(text: string): boolean {
  return text.includes('\u0000');
}
