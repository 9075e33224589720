/**
 * The stubs one Durable Object keeps for the objects it calls, one per name.
 *
 * workerd charges each stub 32 KiB of V8 external memory from its first call until the stub is
 * collected (`ESTIMATED_EXTERNAL_MEMORY_PER_ACTOR_CHANNEL`). A Worker's request gives it back when
 * the request ends; a Durable Object's calls all share one context that lasts as long as the object,
 * so a stub per call stays until a full collection. A new stub for every delivery and every wave's
 * host piled up about 80 KB per job, which made those collections frequent, and each one paused the
 * isolate for 40–80 ms while it freed them (BENCHMARKS.md, the rollout hand-over).
 *
 * Only a Durable Object may keep stubs like this: a Worker's stub belongs to the request that made it.
 * A stub whose call threw is dropped, since an error can leave a stub broken; the next call opens another.
 */
export class StubCache<S> {
  private readonly stubs = new Map<string, S>();

  /** `open` makes a stub for a name; at most `limit` are kept (the oldest goes first). */
  constructor(
    private readonly open: (name: string) => S,
    private readonly limit = 1_000,
  ) {}

  /** Calls `fn` with the stub for `name`. */
  async call<R>(name: string, fn: (stub: S) => Promise<R>): Promise<R> {
    const stub = this.get(name);
    try {
      return await fn(stub);
    } catch (err) {
      if (this.stubs.get(name) === stub) this.stubs.delete(name);
      throw err;
    }
  }

  private get(name: string): S {
    const kept = this.stubs.get(name);
    if (kept) return kept;
    if (this.stubs.size >= this.limit) this.stubs.delete(this.stubs.keys().next().value!);
    const stub = this.open(name);
    this.stubs.set(name, stub);
    return stub;
  }
}
