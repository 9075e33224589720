/**
 * Maps `items` through `fn` with at most `limit` calls in flight, results in input order. For
 * calls to many Durable Objects at once: a Worker has a few simultaneous connections, and workerd
 * a finite number of file descriptors. Rejects with the first failure, after the others settle.
 */
export async function mapBounded<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  let failure: { error: unknown } | null = null;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      try {
        results[index] = await fn(items[index]!, index);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failure) throw (failure as { error: unknown }).error;
  return results;
}

/** How many host objects one request calls at once (`/v1/hosts`, `/metrics`, a config change). */
export const HOST_CALLS_AT_ONCE = 50;
