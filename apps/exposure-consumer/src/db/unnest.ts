/** `unnest($first::type[], …)`: the rows of a batch given as one array per column. */
export function unnestOf(types: readonly string[], first: number): string {
  return `unnest(${types.map((type, i) => `$${first + i}::${type}[]`).join(', ')})`;
}
