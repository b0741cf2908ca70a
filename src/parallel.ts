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

/**
 * At most `slots` calls of `work` at once, across every caller sharing it. A freed slot goes to the
 * waiting call with the lowest priority number (then the oldest), so an earlier batch finishes
 * before a later one takes over, instead of both finishing late together.
 */
export function limiter(slots: number): <T>(priority: number, work: () => Promise<T>) => Promise<T> {
  let active = 0;
  const waiting: Array<{ priority: number; start: () => void }> = [];
  return async (priority, work) => {
    if (active >= slots) {
      await new Promise<void>((start) => {
        const at = waiting.findIndex((w) => w.priority > priority);
        waiting.splice(at === -1 ? waiting.length : at, 0, { priority, start });
      });
    } else {
      active += 1;
    }
    try {
      return await work();
    } finally {
      const next = waiting.shift();
      if (next) next.start();
      else active -= 1;
    }
  };
}
