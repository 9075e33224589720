import type { JobSnapshot } from "../db/queries";
import type { HistoryWriter } from "./history";
import type { Schedule } from "./schedule";

const BATCH = 50;
const FIRST_RETRY_MS = 1_000;
const MAX_RETRY_MS = 5 * 60_000;
/** A safety-net timer set with every write, so an eviction mid-flush still delivers. */
const SAFETY_NET_MS = 10_000;

/**
 * Job transitions on their way to D1. Each transition is written to the outbox
 * in the same synchronous SQL block as the change itself, so it commits with
 * it; `flush()` delivers in order and deletes only what D1 accepted. A failed
 * write is retried by the alarm with exponential backoff.
 */
export class Outbox {
  private flushing: Promise<void> | null = null;
  private failing = false;

  constructor(
    private readonly sql: SqlStorage,
    private readonly schedule: Schedule,
    public writer: HistoryWriter,
  ) {
    sql.exec(`CREATE TABLE IF NOT EXISTS outbox (
      seq INTEGER PRIMARY KEY AUTOINCREMENT,
      job_id TEXT NOT NULL,
      snapshot TEXT NOT NULL,
      attempts INTEGER NOT NULL DEFAULT 0
    )`);
  }

  /** Adds a snapshot. Call inside the same synchronous block as the change it records. */
  add(snapshot: JobSnapshot, now: number): void {
    this.sql.exec("INSERT INTO outbox (job_id, snapshot) VALUES (?, ?)", snapshot.id, JSON.stringify(snapshot));
    this.schedule.set("outbox", "", now + SAFETY_NET_MS);
  }

  pending(): number {
    return this.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM outbox").one().n;
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
    for (;;) {
      const rows = this.sql
        .exec<{ seq: number; snapshot: string; attempts: number }>(
          "SELECT seq, snapshot, attempts FROM outbox ORDER BY seq LIMIT ?",
          BATCH,
        )
        .toArray();
      if (rows.length === 0) {
        this.schedule.clear("outbox", "");
        return;
      }
      const last = rows[rows.length - 1]!.seq;
      try {
        await this.writer.write(rows.map((r) => JSON.parse(r.snapshot) as JobSnapshot));
      } catch (err) {
        const attempts = rows[0]!.attempts + 1;
        this.sql.exec("UPDATE outbox SET attempts = attempts + 1 WHERE seq <= ?", last);
        const delay = Math.min(MAX_RETRY_MS, FIRST_RETRY_MS * 2 ** (attempts - 1));
        this.schedule.set("outbox", "", Date.now() + delay);
        // Log the first failure of a run only; the alarm keeps retrying quietly.
        if (!this.failing) {
          console.warn(
            JSON.stringify({ level: "warn", msg: "history write failed; will retry", pending: this.pending(), retry_in_ms: delay, error: String(err) }),
          );
        }
        this.failing = true;
        return;
      }
      this.failing = false;
      this.sql.exec("DELETE FROM outbox WHERE seq <= ?", last);
    }
  }
}
