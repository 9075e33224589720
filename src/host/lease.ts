import type { JobSnapshot, JobStatus } from "../schemas/jobs";
import { iso } from "./clock";
import type { Counters } from "./counters";
import type { Effects } from "./effects";
import { deployOf, toJob, type JobRow, type JobTable } from "./job-table";
import { redact, secretValues, type LogStore } from "./logs";
import type { Outbox } from "./outbox";
import type { Schedule } from "./schedule";
import { endEvent, logEvent, statusEvent } from "./stream";

/** The narrow slice of the object that the job state machine works on. */
export interface LeaseRoom {
  jobs: JobTable;
  logs: LogStore;
  schedule: Schedule;
  outbox: Outbox<JobSnapshot>;
  counters: Counters;
}

/**
 * A job's life on its host: queued → running (handed out, under a lease) → queued again (a lost
 * attempt, while retries allow) or finished. Each transition writes its row, its timers and its
 * log lines, and records its effects (stream events, a wake) instead of performing them; the
 * object's commit() performs them once the transaction holds. Call inside that transaction.
 */
export class Lease {
  constructor(private readonly room: LeaseRoom) {}

  /** Marks a queued job running for `agentId` (an agent, or the relay) and starts its lease. `acked`: no `running` report needed. */
  handOut(fx: Effects, next: JobRow, agentId: string, acked: boolean, how: string, now: number): JobRow {
    const row = this.room.jobs.update(next, {
      status: "running",
      agent_id: agentId,
      started_at: iso(now),
      acked: acked ? 1 : 0,
      lease_expires_at: now + next.lease_s * 1000,
    }, now);
    this.room.schedule.set("lease", row.id, row.lease_expires_at!);
    this.room.counters.observeDispatch((now - next.queued_at) / 1000);
    fx.broadcast(row.id, [statusEvent(toJob(row))]);
    this.note(fx, row, `[deploybot] attempt ${row.attempt} ${how}`, now);
    return row;
  }

  renew(row: JobRow, now: number): void {
    const expires = now + row.lease_s * 1000;
    this.room.jobs.setLease(row.id, expires);
    this.room.schedule.set("lease", row.id, expires);
  }

  /** Puts a running job back at its place in the queue as a new attempt. */
  requeue(fx: Effects, row: JobRow, now: number, why: string): void {
    fx.broadcast(row.id, this.room.logs.close(row.id, row.attempt).map(logEvent));
    this.note(fx, row, `[deploybot] attempt ${row.attempt} lost: ${why}; queued again`, now);
    const next = this.room.jobs.update(row, {
      status: "queued",
      attempt: row.attempt + 1,
      agent_id: null,
      started_at: null,
      queued_at: now,
      lease_expires_at: null,
      acked: 0,
    }, now);
    this.room.schedule.clear("lease", row.id);
    fx.broadcast(row.id, [statusEvent(toJob(next))]);
    fx.wake();
  }

  /** Ends a job: final status, end of its logs, and an `end` event that closes its subscribers. */
  finish(fx: Effects, row: JobRow, status: JobStatus, fields: { exit_code?: number | null; error?: string | null }, now: number): JobRow {
    // A queued job's attempt has no lines and no lease yet (a requeue closed and cleared the last one's).
    const started = row.status !== "queued";
    const tail = started ? this.room.logs.close(row.id, row.attempt) : [];
    const done = this.room.jobs.update(row, {
      status,
      finished_at: iso(now),
      exit_code: fields.exit_code ?? null,
      error: fields.error == null ? null : hideSecrets(row, fields.error),
      lease_expires_at: null,
    }, now);
    if (started) this.room.schedule.clear("lease", row.id);
    const job = toJob(done);
    fx.broadcast(done.id, [...tail.map(logEvent), statusEvent(job), endEvent(job)], true);
    fx.wake();
    return done;
  }

  /** A line from DeployBot itself in the job's log, streamed like any other. */
  note(fx: Effects, row: JobRow, text: string, now: number): void {
    const line = this.room.logs.system(row.id, row.attempt, hideSecrets(row, text));
    this.room.outbox.armSafetyNet(now);
    fx.broadcast(row.id, [logEvent(line)]);
  }

  /** Runs out the leases whose timers are due. Idempotent: a renewed, finished or expired job is left alone. */
  expireDue(fx: Effects, now: number): void {
    for (const timer of this.room.schedule.due(now)) {
      if (timer.kind !== "lease") continue;
      this.room.schedule.clear("lease", timer.key);
      const row = this.room.jobs.get(timer.key);
      if (!row || row.status !== "running" || row.lease_expires_at === null || row.lease_expires_at > now) continue;
      if (row.cancel_requested) {
        this.finish(fx, row, "cancelled", { error: "cancelled; the agent never confirmed (lease expired)" }, now);
      } else if (row.attempt <= row.retries) {
        this.requeue(fx, row, now, `lease expired (no heartbeat from agent ${row.agent_id} for ${row.lease_s}s)`);
      } else {
        this.finish(fx, row, "failed", { error: "lease_expired" }, now);
      }
    }
  }

  /**
   * The agent holding `row` says it runs something else (or nothing): it restarted or lost the
   * job. A job it had confirmed is failed at once (`agent_restarted`), never run twice; one it
   * never confirmed was lost on the way to it and is queued again.
   */
  agentLostJob(fx: Effects, row: JobRow, now: number): void {
    if (row.acked || row.cancel_requested) {
      this.finish(fx, row, row.cancel_requested ? "cancelled" : "failed", { error: "agent_restarted" }, now);
    } else {
      this.requeue(fx, row, now, "the agent never confirmed it");
    }
  }

  /** Ends every job `agentId` runs here, failed with `error` (cancelled if a cancel was pending). */
  retireAgent(fx: Effects, agentId: string, error: string, now: number): string[] {
    const held = this.room.jobs.runningOf(agentId);
    for (const row of held) this.finish(fx, row, row.cancel_requested ? "cancelled" : "failed", { error }, now);
    return held.map((row) => row.id);
  }

  /** The relay could not finish an attempt: like a lost lease, unless retrying cannot help. */
  relayLost(fx: Effects, row: JobRow, reason: string, retry: boolean, now: number): void {
    this.note(fx, row, `[deploybot] ${reason}`, now);
    if (row.cancel_requested) this.finish(fx, row, "cancelled", { error: reason }, now);
    else if (retry && row.attempt <= row.retries) this.requeue(fx, row, now, reason);
    else this.finish(fx, row, "failed", { error: reason }, now);
  }
}

/**
 * The one place a job's error and DeployBot's own lines about it are redacted: an agent's or the
 * relay's error may quote the deploy's env (docker's stderr does), and it is stored and shown everywhere.
 */
function hideSecrets(row: JobRow, text: string): string {
  return redact(text, secretValues(deployOf(row).env));
}
