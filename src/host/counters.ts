/** Dispatch-wait histogram buckets (seconds), Prometheus style. */
export const DISPATCH_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];

/** The host's counters for /metrics, in the object's `counters` table. */
export class Counters {
  constructor(private readonly sql: SqlStorage) {}

  bump(name: string, label: string, by: number): void {
    this.sql.exec(
      "INSERT INTO counters (name, label, value) VALUES (?, ?, ?) ON CONFLICT (name, label) DO UPDATE SET value = value + excluded.value",
      name,
      label,
      by,
    );
  }

  read(name: string, label = ""): number {
    return this.sql.exec<{ value: number }>("SELECT value FROM counters WHERE name = ? AND label = ?", name, label).toArray()[0]?.value ?? 0;
  }

  /** A job waited `seconds` between being queued and handed out. */
  observeDispatch(seconds: number): void {
    for (const bucket of DISPATCH_BUCKETS) if (seconds <= bucket) this.bump("dispatch_bucket", String(bucket), 1);
    this.bump("dispatch_count", "", 1);
    this.bump("dispatch_sum", "", seconds);
  }

  dispatch(): { dispatch_buckets: number[]; dispatch_count: number; dispatch_sum_s: number } {
    return {
      dispatch_buckets: DISPATCH_BUCKETS.map((bucket) => this.read("dispatch_bucket", String(bucket))),
      dispatch_count: this.read("dispatch_count"),
      dispatch_sum_s: this.read("dispatch_sum"),
    };
  }
}
