import type { JobSnapshot } from "../schemas/jobs";
import type { Clock } from "./clock";
import type { HistoryWriter } from "./history";
import type { LogStore } from "./logs";
import type { Schedule } from "./schedule";

const BATCH = 50;
const LOG_BATCH = 500;
const FIRST_RETRY_MS = 1_000;
const MAX_RETRY_MS = 5 * 60_000;
/** A safety-net timer set with every write, so an eviction mid-flush still delivers. */
const SAFETY_NET_MS = 10_000;

/**
 * Job transitions and log lines on their way to D1. Each transition is written
 * to the outbox in the same synchronous SQL block as the change itself, so it
 * commits with it (log lines wait in the log store, marked unshipped);
 * `flush()` delivers in order and drops only what D1 accepted. A failed write
 * is retried by the alarm with exponential backoff.
 */
export class Outbox {
  private flushing: Promise<void> | null = null;
  /** Consecutive failed deliveries, for the backoff (in memory: an evicted object simply starts again at 1 s). */
  private failures = 0;

  constructor(
    private readonly sql: SqlStorage,
    private readonly schedule: Schedule,
    private readonly logs: LogStore,
    public writer: HistoryWriter,
    private readonly clock: Clock,
  ) {}

  /** Adds a snapshot. Call inside the same synchronous block as the change it records. */
  add(snapshot: JobSnapshot, now: number): void {
    this.sql.exec("INSERT INTO outbox (job_id, snapshot) VALUES (?, ?)", snapshot.id, JSON.stringify(snapshot));
    this.armSafetyNet(now);
  }

  /** Call after log lines were stored, so they reach D1 even if the object is evicted before a flush. */
  armSafetyNet(now: number): void {
    this.schedule.set("outbox", "", now + SAFETY_NET_MS);
  }

  /** Job snapshots not yet in D1 (log lines are counted by the log store). */
  pending(): number {
    return this.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM outbox").one().n;
  }

  hasWork(): boolean {
    return this.pending() > 0 || this.logs.hasUnshipped();
  }

  /** Job ids with transitions not yet in D1 (their rows must not be pruned). */
  pendingJobIds(): Set<string> {
    return new Set(this.sql.exec<{ job_id: string }>("SELECT DISTINCT job_id FROM outbox").toArray().map((r) => r.job_id));
  }

  /** Delivers everything pending; concurrent callers share one run. Never throws. */
  flush(): Promise<void> {
    this.flushing ??= this.run().finally(() => {
      this.flushing = null;
    });
    return this.flushing;
  }

  private async run(): Promise<void> {
    try {
      while (await this.deliverJobs());
      while (await this.deliverLogs());
      this.schedule.clear("outbox", "");
      this.failures = 0;
    } catch (err) {
      const delay = Math.min(MAX_RETRY_MS, FIRST_RETRY_MS * 2 ** this.failures);
      this.failures += 1;
      this.schedule.set("outbox", "", this.clock.now() + delay);
      // Log the first failure of a run only; the alarm keeps retrying quietly.
      if (this.failures === 1) {
        console.warn(
          JSON.stringify({ level: "warn", msg: "history write failed; will retry", pending: this.pending(), retry_in_ms: delay, error: String(err) }),
        );
      }
    }
  }

  /** Delivers one batch of job snapshots; false when there was nothing to deliver. */
  private async deliverJobs(): Promise<boolean> {
    const rows = this.sql
      .exec<{ seq: number; snapshot: string }>("SELECT seq, snapshot FROM outbox ORDER BY seq LIMIT ?", BATCH)
      .toArray();
    if (rows.length === 0) return false;
    await this.writer.write(rows.map((r) => JSON.parse(r.snapshot) as JobSnapshot));
    this.sql.exec("DELETE FROM outbox WHERE seq <= ?", rows[rows.length - 1]!.seq);
    return true;
  }

  /** Delivers one batch of log lines; false when there was nothing to deliver. */
  private async deliverLogs(): Promise<boolean> {
    const lines = this.logs.unshipped(LOG_BATCH);
    if (lines.length === 0) return false;
    await this.writer.writeLogs(lines);
    this.logs.markShipped(lines[lines.length - 1]!.pos);
    return true;
  }
}
