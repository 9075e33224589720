/** How many host objects a request calls at once: well under workerd's file descriptors and the 6-connection guidance. */
export const HOST_CALLS_AT_ONCE = 50;

/**
 * Runs `task` over `items` with at most `limit` calls in flight, and answers
 * their results in the order of `items`. The first failure rejects, as
 * Promise.all would; wrap `task` to settle instead.
 */
export async function mapBounded<T, R>(
  items: readonly T[],
  task: (item: T, index: number) => Promise<R>,
  limit: number = HOST_CALLS_AT_ONCE,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  async function worker(): Promise<void> {
    while (next < items.length) {
      const index = next++;
      results[index] = await task(items[index]!, index);
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
