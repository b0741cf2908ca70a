/**
 * Runs `work` over the items with at most `workers` in flight. Each call gets the index of
 * the worker running it, so a worker can own a resource (a database connection) for its lifetime.
 * Stops taking new items once the signal is aborted; a failing item must be handled by `work`.
 */
export async function forEachLimit<T>(
  items: readonly T[],
  workers: number,
  work: (item: T, worker: number) => Promise<void>,
  signal?: AbortSignal,
): Promise<void> {
  let next = 0;
  const run = async (worker: number) => {
    while (next < items.length && !signal?.aborted) {
      const item = items[next++]!;
      await work(item, worker);
    }
  };
  const count = Math.max(1, Math.min(workers, items.length));
  await Promise.all(Array.from({ length: count }, (_, worker) => run(worker)));
}

export function workerCount(requested: number, items: number): number {
  return Math.max(1, Math.min(requested, items));
}
