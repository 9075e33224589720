/** A log line as an agent (or the relay) sends it: numbered per attempt by `seq`. */
export interface IncomingLine {
  seq: number;
  ts: string;
  stream: "stdout" | "stderr" | "system";
  text: string;
}

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
 * Lines that arrived ahead of a missing seq, waiting in `logs_pending` (the object's migrations create it)
 * until the gap fills. Releasing reads only the lines it releases, by primary key range, never the whole
 * parking; only a batch that parks more sums what is parked, and MAX_SEQ_AHEAD bounds that to 10,000 rows.
 */
export class ParkedLines {
  constructor(private readonly sql: SqlStorage) {}

  /** Whether anything of `jobId`'s `attempt` is parked: one row read at most. */
  any(jobId: string, attempt: number): boolean {
    return this.sql.exec("SELECT 1 FROM logs_pending WHERE job_id = ? AND attempt = ? LIMIT 1", jobId, attempt).toArray().length > 0;
  }

  /** What `jobId`'s `attempt` has parked, summed in SQLite. */
  size(jobId: string, attempt: number): ParkedSize {
    return this.sql
      .exec<{ bytes: number; lines: number }>(
        "SELECT coalesce(sum(length(CAST(text AS BLOB))), 0) AS bytes, count(*) AS lines FROM logs_pending WHERE job_id = ? AND attempt = ?",
        jobId,
        attempt,
      )
      .one();
  }

  /** Parks one line (already redacted and cut); a seq parked before is kept as it was. */
  park(jobId: string, attempt: number, line: IncomingLine): void {
    this.sql.exec(
      "INSERT OR IGNORE INTO logs_pending (job_id, attempt, seq, ts, stream, text) VALUES (?, ?, ?, ?, ?, ?)",
      jobId,
      attempt,
      line.seq,
      line.ts,
      line.stream,
      line.text,
    );
  }

  /** Removes one parked seq (it was stored straight away when its turn came), if it is parked. */
  drop(jobId: string, attempt: number, seq: number): void {
    this.sql.exec("DELETE FROM logs_pending WHERE job_id = ? AND attempt = ? AND seq = ?", jobId, attempt, seq);
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
        yield line;
        from = line.seq + 1;
      }
      if (chunk.length < size) return;
    }
  }

  /** Forgets everything parked for a job. */
  forget(jobId: string): void {
    this.sql.exec("DELETE FROM logs_pending WHERE job_id = ?", jobId);
  }
}
