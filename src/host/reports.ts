import { FINISHED_STATUSES, type JobStatus } from "../schemas/jobs";
import type { ReportResult, StatusReport } from "./contract";
import type { Effects } from "./effects";
import { deployOf, toJob, type JobRow } from "./job-table";
import type { Lease, LeaseRoom } from "./lease";
import { LogBatchRefused, secretValues, type IncomingLine, type LogLine } from "./logs";
import { RELAY_AGENT } from "./ssh-runner";
import { logEvent } from "./stream";

/**
 * What the holder of a job tells about it: status reports and log batches, from an agent or the
 * relay runner. Only the holder of the current attempt is heard. Call inside the object's transaction.
 */
export class Reports {
  constructor(
    private readonly room: LeaseRoom,
    private readonly lease: Lease,
    private readonly isRevoked: (agentId: string) => boolean,
  ) {}

  /** A status report from the agent that holds the job. A repeated final report gets the same answer again. */
  report(fx: Effects, agentId: string, jobId: string, report: StatusReport, now: number): ReportResult {
    const row = this.room.jobs.get(jobId);
    const checked = this.checkHolder(row, agentId, report.attempt);
    if (checked.outcome !== "ok") {
      // Its answer was lost and the agent says it again.
      if (row && checked.outcome === "stale" && row.agent_id === agentId && sameFinal(row, report)) return { outcome: "ok", job: toJob(row) };
      return checked;
    }
    const held = row!;
    if (report.status === "running") {
      this.room.jobs.markAcked(jobId);
      this.lease.renew(held, now);
      return { outcome: "ok", job: toJob(held) };
    }
    const status: JobStatus = held.cancel_requested ? "cancelled" : report.status;
    const error = report.status === "failed" ? report.error ?? (held.cancel_requested ? "cancelled by user" : "failed") : null;
    const done = this.lease.finish(fx, held, status, { exit_code: report.exit_code ?? null, error }, now);
    return { outcome: "ok", job: toJob(done) };
  }

  /** A batch of log lines from the agent that holds the job. Renews its lease. */
  appendLogs(fx: Effects, agentId: string, jobId: string, lines: IncomingLine[], attempt: number | undefined, now: number): ReportResult {
    const row = this.room.jobs.get(jobId);
    const checked = this.checkHolder(row, agentId, attempt);
    if (checked.outcome !== "ok") return checked;
    const held = row!;
    let released: LogLine[];
    try {
      released = this.room.logs.append(jobId, held.attempt, lines, secretValues(deployOf(held).env));
    } catch (err) {
      // Refused whole, with nothing written: the agent hears 413 or 422 and drops that batch.
      if (err instanceof LogBatchRefused) return { outcome: "log_refused", status: err.status, code: err.code, message: err.message };
      throw err;
    }
    this.lease.renew(held, now);
    if (released.length) {
      this.room.outbox.armSafetyNet(now);
      fx.broadcast(jobId, released.map(logEvent));
    }
    return checked;
  }

  /** A keep-alive from the holder (the relay runner's): renews the lease of the attempt it still holds. */
  renew(agentId: string, jobId: string, attempt: number, now: number): void {
    const row = this.held(agentId, jobId, attempt);
    if (row) this.lease.renew(row, now);
  }

  /** The relay could not finish the attempt it holds (see Lease.relayLost). */
  relayLost(fx: Effects, jobId: string, attempt: number, reason: string, retry: boolean, now: number): void {
    const row = this.held(RELAY_AGENT, jobId, attempt);
    if (row) this.lease.relayLost(fx, row, reason, retry, now);
  }

  private held(agentId: string, jobId: string, attempt: number): JobRow | null {
    const row = this.room.jobs.get(jobId);
    return this.checkHolder(row, agentId, attempt).outcome === "ok" ? row : null;
  }

  /** Whether `agentId` may report on `row` now: 404, 409 for an older attempt or a job it no longer holds, 403 for another agent's. */
  private checkHolder(row: JobRow | null, agentId: string, attempt: number | undefined): ReportResult {
    if (this.isRevoked(agentId)) return { outcome: "revoked" };
    if (!row) return { outcome: "not_found" };
    const stale = (reason: string): ReportResult => ({ outcome: "stale", job: toJob(row), reason });
    if (attempt !== undefined && attempt < row.attempt) return stale(`report is for attempt ${attempt}; the job is on attempt ${row.attempt}`);
    if (row.agent_id !== null && row.agent_id !== agentId) return { outcome: "forbidden" };
    if (row.status !== "running" || row.agent_id !== agentId) {
      return stale(`job is ${row.status}${row.status === "queued" ? ` (attempt ${row.attempt})` : ""}; this agent does not hold it`);
    }
    if (attempt !== undefined && attempt !== row.attempt) return stale(`report is for attempt ${attempt}; the job is on attempt ${row.attempt}`);
    return { outcome: "ok", job: toJob(row) };
  }
}

function sameFinal(row: JobRow, report: StatusReport): boolean {
  if (!FINISHED_STATUSES.includes(row.status) || report.status === "running") return false;
  if (report.attempt !== undefined && report.attempt !== row.attempt) return false;
  return row.status === report.status || (row.status === "cancelled" && report.status === "failed");
}
