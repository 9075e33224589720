import { FINISHED_STATUSES, newJobId, pickJob, type JobSnapshot } from "../schemas/jobs";
import type { AssignedJob, CancelResult, EnqueueRequest, EnqueueResult } from "./contract";
import type { Effects } from "./effects";
import { deployOf, toJob, toSnapshot, type JobRow } from "./job-table";
import type { Lease, LeaseRoom } from "./lease";
import { statusEvent } from "./stream";

/** Finished jobs kept in the object for quick reads and live tails; D1 keeps all of them. */
const FINISHED_KEPT = 500;

/** What one heartbeat decided: a job to hand out, the cancels to tell, and whether one is new. */
export interface Assignment {
  job: AssignedJob | null;
  cancel: string[];
  newCancel: boolean;
}

/**
 * The host's queue: what gets queued, what is handed to whom, what is cancelled and what is
 * forgotten. One running job per host: every decision here runs inside the object's transaction,
 * and the object's input gate lets no two interleave. Call inside that transaction.
 */
export class Queue {
  constructor(
    private readonly room: LeaseRoom,
    private readonly lease: Lease,
  ) {}

  /**
   * Queues a job, unless the same app, ref and sha is already queued or running on this host (or
   * this delivery already queued it): then that job is returned. A new job replaces older queued
   * jobs of the same app: the newest push wins.
   */
  enqueue(fx: Effects, request: EnqueueRequest, now: number): EnqueueResult {
    const id = newJobId(request.host);
    // A host at rest for the app (nothing of it queued, this release not live, this delivery new): one statement.
    const alone = this.room.jobs.insertIfAlone(id, request, now);
    if (alone) return this.queued(fx, alone, []);
    const { same: existing, queued: older } = this.room.jobs.forEnqueue(request);
    if (existing) {
      return { job: toJob(existing), snapshot: toSnapshot(existing), created: false, superseded: this.room.jobs.supersededBy(existing.id).map(toSnapshot) };
    }
    const replaced = older.map((row) => this.lease.finish(fx, row, "cancelled", { error: `superseded by job ${id}` }, now));
    this.room.jobs.markSuperseded(older.map((row) => row.id), id);
    return this.queued(fx, this.room.jobs.insert(id, request, now), replaced.map(toSnapshot));
  }

  private queued(fx: Effects, snapshot: JobSnapshot, superseded: JobSnapshot[]): EnqueueResult {
    const job = pickJob(snapshot);
    fx.broadcast(job.id, [statusEvent(job)]);
    // The relay runs the oldest queued job when it is an ssh-mode one: a new agent-mode job behind it changes nothing for it.
    fx.wake(job.mode === "ssh");
    return { job, snapshot, created: true, superseded };
  }

  /**
   * An agent says it runs `runningJobId` (or nothing): renews that lease, notices jobs it lost,
   * takes the cancels meant for it, and hands it the oldest queued agent-mode job when nothing
   * runs on this host. Ssh-mode jobs go through the relay (nextForRelay).
   */
  assign(fx: Effects, agentId: string, runningJobId: string | null, now: number): Assignment {
    for (const held of this.room.jobs.runningOf(agentId)) {
      if (held.id === runningJobId) this.lease.renew(held, now);
      else this.lease.agentLostJob(fx, held, now);
    }
    const { ids: cancel, fresh: newCancel } = this.room.jobs.takeCancels(agentId);
    if (runningJobId !== null || this.room.jobs.running()) return { job: null, cancel, newCancel };
    const next = this.room.jobs.nextQueued("agent");
    if (!next) return { job: null, cancel, newCancel };
    const row = this.lease.handOut(fx, next, agentId, false, `handed to agent ${agentId}`, now);
    return { job: { ...toJob(row), deploy: deployOf(row), lease_s: row.lease_s }, cancel, newCancel };
  }

  /** Whether nextForRelay would hand out a job: the oldest queued job is an ssh-mode one and nothing runs. */
  relayHasWork(): boolean {
    return this.relayHead() !== null;
  }

  /** The oldest queued job, when it is an ssh-mode one and nothing runs: handed to `relayAgent`. */
  nextForRelay(fx: Effects, relayAgent: string, now: number): JobRow | null {
    const head = this.relayHead();
    if (!head) return null;
    const next = this.room.jobs.get(head.id)!;
    return this.lease.handOut(fx, next, relayAgent, true, `running through the ssh relay on ${JSON.parse(head.target!).address}`, now);
  }

  private relayHead() {
    const head = this.room.jobs.head();
    return head?.status === "queued" && head.mode === "ssh" && head.target ? head : null;
  }

  /** Cancels a queued job at once; a running one is flagged, and its agent (or the relay) told. */
  cancel(fx: Effects, jobId: string, reason: string, now: number): CancelResult {
    const row = this.room.jobs.get(jobId);
    if (!row) return { outcome: "not_found" };
    if (FINISHED_STATUSES.includes(row.status)) return { outcome: "already_finished", job: toJob(row) };
    if (row.status === "queued") {
      return { outcome: "cancelled", job: toJob(this.lease.finish(fx, row, "cancelled", { error: reason }, now)) };
    }
    this.room.jobs.flagCancel(jobId);
    this.lease.note(fx, row, "[deploybot] cancel requested; waiting for the agent to stop", now);
    if (row.mode === "ssh") fx.cancelOnRelay(row.id);
    fx.wake();
    return { outcome: "cancel_requested", job: toJob(row) };
  }

  /**
   * Cancels a job only while it is still queued; one that started meanwhile runs on (a rollout that
   * stopped lets its running jobs finish, whatever it last heard of them). True when it cancelled.
   */
  cancelQueued(fx: Effects, jobId: string, reason: string, now: number): boolean {
    const row = this.room.jobs.get(jobId);
    if (row?.status !== "queued") return false;
    this.lease.finish(fx, row, "cancelled", { error: reason }, now);
    return true;
  }

  /** Cancels the queued jobs of apps not in `keepApps` (apps.yaml no longer deploys them here). */
  dropQueuedExcept(fx: Effects, keepApps: string[], reason: string, now: number): string[] {
    const keep = new Set(keepApps);
    const stale = this.room.jobs.queued().filter((row) => !keep.has(row.app));
    for (const row of stale) this.lease.finish(fx, row, "cancelled", { error: reason }, now);
    return stale.map((row) => row.id);
  }

  /** Drops the oldest finished jobs beyond FINISHED_KEPT once D1 has them and their logs. */
  prune(): void {
    if (this.room.logs.hasUnshipped()) return;
    const pending = this.room.outbox.pendingJobIds();
    for (const row of this.room.jobs.finishedBeyond(FINISHED_KEPT)) {
      if (pending.has(row.id)) continue;
      this.room.jobs.delete(row.id);
      this.room.logs.forget(row.id);
    }
  }
}
