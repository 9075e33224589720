import type { IncomingLine } from "./logs";

/** How far past the first missing seq a line may be parked. An agent resends in order; 10,000 lines is many batches. */
export const MAX_SEQ_AHEAD = 10_000;
/** Most text parked behind a gap per job. Parked text sits in the object's storage until the gap fills. */
export const MAX_PARKED_BYTES = 4 * 1024 * 1024;
/** Most lines read from the parking per query while releasing. */
const RELEASE_CHUNK = 256;

/**
 * Why a log batch was refused: `status` 413 (too much data parked) or 422 (a line too far ahead of the gap).
 * Thrown before anything of the batch is written; the route answers with `status` and `code`.
 */
export class LogBatchRefused extends Error {
  constructor(
    readonly status: 413 | 422,
    readonly code: "log_parking_full" | "log_seq_too_far_ahead",
    message: string,
  ) {
    super(message);
    this.name = "LogBatchRefused";
  }
}

export interface ParkedSize {
  bytes: number;
  lines: number;
}

const encoder = new TextEncoder();
export const byteLength = (text: string) => encoder.encode(text).length;

/**
 * Lines that arrived ahead of a missing seq, waiting in `logs_pending` until the gap fills.
 * A counters row per job keeps their size, so checking a batch against the limits reads one row,
 * and releasing reads only the lines it releases (by primary key range), never the whole parking.
 */
export class ParkedLines {
  constructor(private readonly sql: SqlStorage) {
    sql.exec(`CREATE TABLE IF NOT EXISTS logs_pending (
      job_id TEXT NOT NULL, attempt INTEGER NOT NULL, seq INTEGER NOT NULL,
      ts TEXT NOT NULL, stream TEXT NOT NULL, text TEXT NOT NULL,
      PRIMARY KEY (job_id, attempt, seq)
    )`);
    sql.exec(`CREATE TABLE IF NOT EXISTS logs_pending_size (
      job_id TEXT PRIMARY KEY, attempt INTEGER NOT NULL, bytes INTEGER NOT NULL, lines INTEGER NOT NULL
    )`);
  }

  /** What `jobId`'s `attempt` has parked. A row of another attempt is stale: that attempt's lines were released at its close. */
  size(jobId: string, attempt: number): ParkedSize {
    const row = this.sql
      .exec<{ attempt: number; bytes: number; lines: number }>("SELECT attempt, bytes, lines FROM logs_pending_size WHERE job_id = ?", jobId)
      .toArray()[0];
    return row && row.attempt === attempt ? { bytes: row.bytes, lines: row.lines } : { bytes: 0, lines: 0 };
  }

  /** Parks one line (already redacted and cut); a seq parked before is kept as it was. */
  park(jobId: string, attempt: number, line: IncomingLine): void {
    const added = this.sql.exec(
      "INSERT OR IGNORE INTO logs_pending (job_id, attempt, seq, ts, stream, text) VALUES (?, ?, ?, ?, ?, ?)",
      jobId,
      attempt,
      line.seq,
      line.ts,
      line.stream,
      line.text,
    ).rowsWritten;
    if (added > 0) this.count(jobId, attempt, byteLength(line.text), 1);
  }

  /** Removes one parked seq (it was stored straight away when its turn came), if it is parked. */
  drop(jobId: string, attempt: number, seq: number): void {
    const gone = this.sql
      .exec<{ text: string }>("DELETE FROM logs_pending WHERE job_id = ? AND attempt = ? AND seq = ? RETURNING text", jobId, attempt, seq)
      .toArray()[0];
    if (gone) this.count(jobId, attempt, -byteLength(gone.text), -1);
  }

  /**
   * Takes parked lines from `fromSeq` on, in seq order, while `wanted` accepts them: each is removed from the
   * parking as it is taken. Reads in chunks that start at one line and double, so a release reads at most
   * about twice what it releases: a batch behind a gap that is still open reads one row.
   */
  *take(jobId: string, attempt: number, fromSeq: number, wanted: (line: IncomingLine) => boolean): Generator<IncomingLine> {
    let from = fromSeq;
    for (let size = 1; ; size = Math.min(size * 2, RELEASE_CHUNK)) {
      const chunk = this.sql
        .exec<IncomingLine & Record<string, SqlStorageValue>>(
          "SELECT seq, ts, stream, text FROM logs_pending WHERE job_id = ? AND attempt = ? AND seq >= ? ORDER BY seq LIMIT ?",
          jobId,
          attempt,
          from,
          size,
        )
        .toArray();
      for (const line of chunk) {
        if (!wanted(line)) return;
        this.sql.exec("DELETE FROM logs_pending WHERE job_id = ? AND attempt = ? AND seq = ?", jobId, attempt, line.seq);
        this.count(jobId, attempt, -byteLength(line.text), -1);
        yield line;
        from = line.seq + 1;
      }
      if (chunk.length < size) return;
    }
  }

  /** Forgets everything parked for a job. */
  forget(jobId: string): void {
    this.sql.exec("DELETE FROM logs_pending WHERE job_id = ?", jobId);
    this.sql.exec("DELETE FROM logs_pending_size WHERE job_id = ?", jobId);
  }

  private count(jobId: string, attempt: number, bytes: number, lines: number): void {
    // A row left by an earlier attempt starts again from zero.
    this.sql.exec(
      `INSERT INTO logs_pending_size (job_id, attempt, bytes, lines) VALUES (?, ?, max(?, 0), max(?, 0))
       ON CONFLICT (job_id) DO UPDATE SET
         bytes = max(CASE WHEN attempt = excluded.attempt THEN bytes ELSE 0 END + ?, 0),
         lines = max(CASE WHEN attempt = excluded.attempt THEN lines ELSE 0 END + ?, 0),
         attempt = excluded.attempt`,
      jobId,
      attempt,
      bytes,
      lines,
      bytes,
      lines,
    );
  }
}
