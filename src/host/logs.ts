import { iso, type Clock } from "./clock";
import { byteLength, type IncomingLine, LogBatchRefused, MAX_PARKED_BYTES, MAX_SEQ_AHEAD, ParkedLines } from "./log-parking";

export { LogBatchRefused, type IncomingLine } from "./log-parking";

/** Longest line kept; the rest is cut and marked. */
export const MAX_LINE_BYTES = 16 * 1024;
/** Most log text kept per job (all attempts); past it one marker line says output was dropped. */
export const MAX_JOB_LOG_BYTES = 16 * 1024 * 1024;
export const MAX_JOB_LOG_LINES = 200_000;

export const LINE_CUT_MARKER = " …[line cut: longer than 16 KiB]";
export const LOG_LIMIT_MARKER = "[deploybot] log limit reached: further output of this job is dropped";

/** A line as stored and streamed: `pos` orders every line of the host and is the SSE event id. */
export interface LogLine {
  pos: number;
  job_id: string;
  attempt: number;
  seq: number;
  ts: string;
  stream: string;
  text: string;
}

interface JobLogState {
  next_seq: number;
  bytes: number;
  lines: number;
  limited: number;
}

const encoder = new TextEncoder();

function cutLine(text: string): string {
  const bytes = encoder.encode(text);
  if (bytes.length <= MAX_LINE_BYTES) return text;
  // Decode the kept prefix leniently: a cut through a multi-byte character becomes U+FFFD, not an error.
  return new TextDecoder().decode(bytes.slice(0, MAX_LINE_BYTES)) + LINE_CUT_MARKER;
}

/** Names of env entries whose values must never reach a stored log. */
export const SECRET_ENV_NAME = /(_TOKEN|_KEY|_SECRET)$|PASSWORD/i;

/** Replaces every occurrence of each secret with `***` (longest first, so overlapping secrets are all hidden). */
export function redact(text: string, secrets: string[]): string {
  let out = text;
  for (const secret of secrets) if (secret.length >= 4) out = out.split(secret).join("***");
  return out;
}

/** The env values of a deploy that look secret by their names, longest first. */
export function secretValues(env: Record<string, string>): string[] {
  return Object.entries(env)
    .filter(([name]) => SECRET_ENV_NAME.test(name))
    .map(([, value]) => value)
    .sort((a, b) => b.length - a.length);
}

/**
 * A host's job logs in its Durable Object's SQLite. Agents send numbered lines
 * (`seq` from 1 per attempt) in batches and resend until acknowledged; a seq
 * already seen is ignored. Lines are released in seq order: one that arrives
 * ahead of a gap waits until the gap fills (or the job ends), so readers always
 * see seq order with no holes and no duplicates. Each released line gets a
 * host-wide `pos`, the SSE event id.
 */
export class LogStore {
  private readonly parked: ParkedLines;
  /**
   * False only once a read found every line shipped and none was stored since: hasUnshipped() then
   * answers without a read (it runs after every unit of work). A rolled-back insert leaves it true: one read more.
   */
  private maybeUnshipped = true;

  constructor(
    private readonly sql: SqlStorage,
    /** Stamps DeployBot's own lines (the object's clock, so tests on a fake clock see fake times). */
    private readonly clock: Pick<Clock, "now">,
  ) {
    this.parked = new ParkedLines(sql);
  }

  /** The newest line's host-wide pos (0 with none). */
  lastPos(): number {
    return this.sql.exec<{ p: number | null }>("SELECT MAX(pos) AS p FROM logs").one().p ?? 0;
  }

  /**
   * Takes a batch for `jobId`'s current `attempt`. Returns the lines released
   * (in order) for live subscribers. Call inside the job's transaction.
   * Throws LogBatchRefused, having written nothing, when a line would be parked
   * too far ahead of the gap or past the job's limits (parked data counts).
   */
  append(jobId: string, attempt: number, lines: IncomingLine[], secrets: string[]): LogLine[] {
    const state = this.state(jobId, attempt);
    if (state.limited) return []; // the job's log is full: nothing more is kept, parked or not
    const incoming = [...lines].sort((a, b) => a.seq - b.seq).filter((line) => line.seq >= state.next_seq);
    const plan = this.planBatch(jobId, attempt, state, incoming, secrets);
    const released: LogLine[] = [];
    for (const line of plan.direct) {
      const stored = this.keep(jobId, attempt, state, line);
      if (stored) released.push(stored);
      state.next_seq = line.seq + 1;
      // Parked by an earlier batch, then sent again in order: stored now, so leave the parking.
      if (plan.hadParked) this.parked.drop(jobId, attempt, line.seq);
    }
    for (const line of plan.park) this.parked.park(jobId, attempt, line);
    released.push(...this.release(jobId, attempt, state, false, plan.hadParked || plan.park.length > 0));
    return released;
  }

  /**
   * Splits a sorted batch into the lines that continue the log now and those that wait behind a gap,
   * redacted and cut, and checks the waiting ones against the limits before anything is written.
   */
  private planBatch(jobId: string, attempt: number, state: JobLogState, incoming: IncomingLine[], secrets: string[]) {
    const direct: IncomingLine[] = [];
    const park: IncomingLine[] = [];
    let expected = state.next_seq;
    for (const line of incoming) {
      const text = cutLine(redact(line.text, secrets));
      if (line.seq === expected && park.length === 0) {
        direct.push({ ...line, text });
        expected += 1;
      } else if (line.seq > expected || park.length > 0) {
        if (line.seq !== park.at(-1)?.seq) park.push({ ...line, text });
      }
    }
    if (park.length === 0) return { direct, park, hadParked: this.parked.any(jobId, attempt) };
    const before = this.parked.size(jobId, attempt);
    const farthest = park.at(-1)!.seq;
    if (farthest - expected >= MAX_SEQ_AHEAD) {
      throw new LogBatchRefused(422, "log_seq_too_far_ahead", `seq ${farthest} is more than ${MAX_SEQ_AHEAD} lines ahead of the first missing seq ${expected}; send the missing lines first`);
    }
    const bytes = before.bytes + park.reduce((sum, line) => sum + byteLength(line.text), 0);
    const directBytes = direct.reduce((sum, line) => sum + byteLength(line.text), 0);
    const total = state.bytes + directBytes + bytes;
    const count = state.lines + direct.length + before.lines + park.length;
    if (bytes > MAX_PARKED_BYTES || total > MAX_JOB_LOG_BYTES || count > MAX_JOB_LOG_LINES) {
      throw new LogBatchRefused(413, "log_parking_full", `too much log output waits behind the missing seq ${expected}: send the missing lines first`);
    }
    return { direct, park, hadParked: before.lines > 0 };
  }

  /** At the end of an attempt: releases whatever still waits behind a gap, with a marker for the gap. */
  close(jobId: string, attempt: number): LogLine[] {
    // An attempt no line ever came for (a queued job cancelled or replaced) has nothing parked: one read, no writes.
    const known = this.sql.exec<{ attempt: number } & JobLogState & Record<string, SqlStorageValue>>("SELECT * FROM log_state WHERE job_id = ?", jobId).toArray()[0];
    if (known?.attempt !== attempt) return [];
    return this.release(jobId, attempt, known, true);
  }

  /** Adds a line from DeployBot itself (lease expiry, cancel, restart), outside the agent's seq numbering. */
  system(jobId: string, attempt: number, text: string): LogLine {
    return this.insert(jobId, attempt, 0, iso(this.clock.now()), "system", text);
  }

  private state(jobId: string, attempt: number): JobLogState {
    const row = this.sql
      .exec<{ attempt: number } & JobLogState & Record<string, SqlStorageValue>>("SELECT * FROM log_state WHERE job_id = ?", jobId)
      .toArray()[0];
    if (row && row.attempt === attempt) return row;
    // A new attempt numbers its lines from 1 again; the job's size limits span all attempts.
    const fresh: JobLogState = { next_seq: 1, bytes: row?.bytes ?? 0, lines: row?.lines ?? 0, limited: row?.limited ?? 0 };
    this.sql.exec(
      `INSERT INTO log_state (job_id, attempt, next_seq, bytes, lines, limited) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (job_id) DO UPDATE SET attempt = excluded.attempt, next_seq = excluded.next_seq`,
      jobId,
      attempt,
      fresh.next_seq,
      fresh.bytes,
      fresh.lines,
      fresh.limited,
    );
    return fresh;
  }

  private release(jobId: string, attempt: number, state: JobLogState, all: boolean, anyParked = true): LogLine[] {
    const released: LogLine[] = [];
    const lines = anyParked ? this.parked.take(jobId, attempt, state.next_seq, (line) => all || line.seq === state.next_seq) : [];
    for (const line of lines) {
      if (line.seq !== state.next_seq) {
        const missing = line.seq - state.next_seq;
        released.push(this.system(jobId, attempt, `[deploybot] ${missing} line(s) never arrived (seq ${state.next_seq}-${line.seq - 1})`));
      }
      state.next_seq = line.seq + 1;
      const stored = this.keep(jobId, attempt, state, line);
      if (stored) released.push(stored);
    }
    this.sql.exec(
      "UPDATE log_state SET next_seq = ?, bytes = ?, lines = ?, limited = ? WHERE job_id = ?",
      state.next_seq,
      state.bytes,
      state.lines,
      state.limited,
      jobId,
    );
    return released;
  }

  /** Stores one in-order line within the job's limits: the line, the limit marker once, or nothing. */
  private keep(jobId: string, attempt: number, state: JobLogState, line: IncomingLine): LogLine | null {
    if (state.limited) return null;
    const text = line.text; // cut by planBatch before it was stored or parked
    const size = byteLength(text);
    if (state.bytes + size > MAX_JOB_LOG_BYTES || state.lines + 1 > MAX_JOB_LOG_LINES) {
      state.limited = 1;
      return this.insert(jobId, attempt, line.seq, line.ts, "system", LOG_LIMIT_MARKER);
    }
    state.bytes += size;
    state.lines += 1;
    return this.insert(jobId, attempt, line.seq, line.ts, line.stream, text);
  }

  private insert(jobId: string, attempt: number, seq: number, ts: string, stream: string, text: string): LogLine {
    this.maybeUnshipped = true;
    const pos = this.sql
      .exec<{ pos: number }>(
        "INSERT INTO logs (job_id, attempt, seq, ts, stream, text) VALUES (?, ?, ?, ?, ?, ?) RETURNING pos",
        jobId,
        attempt,
        seq,
        ts,
        stream,
        text,
      )
      .one().pos;
    return { pos, job_id: jobId, attempt, seq, ts, stream, text };
  }

  /** Released lines after `afterPos`, of one job or (jobId null) of the whole host. */
  read(jobId: string | null, afterPos: number, limit: number): LogLine[] {
    const query = jobId
      ? "SELECT pos, job_id, attempt, seq, ts, stream, text FROM logs WHERE job_id = ? AND pos > ? ORDER BY pos LIMIT ?"
      : "SELECT pos, job_id, attempt, seq, ts, stream, text FROM logs WHERE pos > ? ORDER BY pos LIMIT ?";
    const bindings = jobId ? [jobId, afterPos, limit] : [afterPos, limit];
    return this.sql.exec<LogLine & Record<string, SqlStorageValue>>(query, ...bindings).toArray();
  }

  /** Lines not yet in D1, oldest first. */
  unshipped(limit: number): LogLine[] {
    return this.sql
      .exec<LogLine & Record<string, SqlStorageValue>>(
        "SELECT pos, job_id, attempt, seq, ts, stream, text FROM logs WHERE shipped = 0 ORDER BY pos LIMIT ?",
        limit,
      )
      .toArray();
  }

  markShipped(upToPos: number): void {
    this.sql.exec("UPDATE logs SET shipped = 1 WHERE shipped = 0 AND pos <= ?", upToPos);
  }

  hasUnshipped(): boolean {
    if (!this.maybeUnshipped) return false;
    this.maybeUnshipped = this.sql.exec("SELECT 1 FROM logs WHERE shipped = 0 LIMIT 1").toArray().length > 0;
    return this.maybeUnshipped;
  }

  /** Forgets a pruned job's lines (D1 keeps them). */
  forget(jobId: string): void {
    this.sql.exec("DELETE FROM logs WHERE job_id = ? AND shipped = 1", jobId);
    this.parked.forget(jobId);
    this.sql.exec("DELETE FROM log_state WHERE job_id = ?", jobId);
  }
}
