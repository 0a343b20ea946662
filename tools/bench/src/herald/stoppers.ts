/**
 * What a rig started, stopped latest first, each step even if another fails; stopping twice is a
 * no-op. Failures are reported, not thrown: a bench that ends must clean up all it can.
 */
export interface Stoppers {
  /** Remember how to stop `thing`; returns it. */
  own<T>(thing: T, stopIt: (t: T) => Promise<unknown>): T;
  stop(): Promise<void>;
}

export function stoppers(progress: (line: string) => void): Stoppers {
  const steps: Array<() => Promise<unknown>> = [];
  let stopping: Promise<void> | undefined;
  return {
    own(thing, stopIt) {
      steps.push(() => stopIt(thing));
      return thing;
    },
    stop: () =>
      (stopping ??= (async () => {
        const failures: unknown[] = [];
        for (const step of steps.reverse()) await step().catch((err: unknown) => failures.push(err));
        if (failures.length > 0) progress(`stopping the rig: ${failures.map(String).join('; ')}`);
      })()),
  };
}
