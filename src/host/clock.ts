/**
 * The host object's time: every time read and every timer of the object and its rooms goes
 * through one Clock, so tests move a FakeClock instead of sleeping. Production uses systemClock.
 */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Calls `fire` once after `ms`; the returned function cancels it. */
  timer(ms: number, fire: () => void): () => void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  timer(ms, fire) {
    const handle = setTimeout(fire, ms);
    return () => clearTimeout(handle);
  },
};

/**
 * A clock that moves only when told. `advance()` runs the timers that fall due, in time order.
 * Starts at the real time, so the alarms the object arms from it are in the real future.
 */
export class FakeClock implements Clock {
  private at: number;
  private readonly timers = new Set<{ due: number; fire: () => void }>();

  constructor(start = Date.now()) {
    this.at = start;
  }

  now(): number {
    return this.at;
  }

  timer(ms: number, fire: () => void): () => void {
    const entry = { due: this.at + ms, fire };
    this.timers.add(entry);
    return () => this.timers.delete(entry);
  }

  /** Moves time forward by `ms`, firing each timer that falls due at its own time. */
  advance(ms: number): void {
    const target = this.at + ms;
    for (;;) {
      const next = [...this.timers].filter((t) => t.due <= target).sort((a, b) => a.due - b.due)[0];
      if (!next) break;
      this.timers.delete(next);
      this.at = Math.max(this.at, next.due);
      next.fire();
    }
    this.at = target;
  }
}

export const iso = (ms: number) => new Date(ms).toISOString();
