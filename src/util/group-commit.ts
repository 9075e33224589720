/**
 * Group commit: items handed in while a run is in progress wait, and the next run takes all of
 * them at once. A caller's promise settles when the run that took its items has finished: resolved
 * if it succeeded, rejected with its error if not (its sender then delivers again).
 *
 * For a Durable Object that many others report to at once (an app's object hearing from a
 * hundred hosts): a hundred reports cost a few units of work, not a hundred. The first item
 * starts a run at once, so a lone report waits for nothing; with `gather`, the first run waits one
 * timer turn first, so that items already at the door join it (see the app object's deliveries).
 */
export class GroupCommit<T> {
  private queued: T[] = [];
  private waiters: Array<{ resolve: () => void; reject: (error: unknown) => void }> = [];
  private running = false;

  constructor(
    private readonly run: (items: T[]) => Promise<void>,
    private readonly options: { gather?: boolean } = {},
  ) {}

  /** Hands in `items`; settles once a run that included them is done. */
  add(items: T[]): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.queued.push(...items);
      this.waiters.push({ resolve, reject });
      if (!this.running) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.running = true;
    try {
      if (this.options.gather) await new Promise((resolve) => setTimeout(resolve, 0));
      while (this.waiters.length) {
        const items = this.queued;
        const waiters = this.waiters;
        this.queued = [];
        this.waiters = [];
        try {
          await this.run(items);
          for (const waiter of waiters) waiter.resolve();
        } catch (error) {
          for (const waiter of waiters) waiter.reject(error);
        }
      }
    } finally {
      this.running = false;
    }
  }
}
