import type { DeploySpec } from "../config/apps";
import type { Job, JobSnapshot } from "../schemas/jobs";
import type { SshTarget } from "../ssh/relay";

// What callers of a host's Durable Object send and get back. Routes and dispatch import these,
// never the object's class; each outcome union is turned into HTTP by its route.

export interface EnqueueRequest {
  app: string;
  repo: string;
  ref: string;
  sha: string;
  host: string;
  mode: "agent" | "ssh";
  trigger: "webhook" | "api" | "rollback" | "github_deployment";
  delivery_id: string | null;
  /** The rendered deploy section as JSON (DeploySpec): stored as it comes, and a wave's hosts share one rendering. */
  deploy: string;
  /** Lease and retry policy from apps.yaml at the time of the push. */
  lease_s: number;
  retries: number;
  /** For ssh-mode jobs: where the relay connects. */
  target?: SshTarget | null;
  /** The rollout this job is part of (its app's object hears of every transition). */
  rollout_id?: string | null;
}

export interface EnqueueResult {
  job: Job;
  /** The job as its outbox snapshot now (with its version). */
  snapshot: JobSnapshot;
  /** false when an equal job was already queued or running (or this delivery already made it). */
  created: boolean;
  /** Older queued jobs of the same app that this one replaced (cancelled), as their snapshots now; a repeat answers them too. */
  superseded: JobSnapshot[];
}

export interface AssignedJob extends Job {
  deploy: DeploySpec;
  lease_s: number;
}

export interface HeartbeatResult {
  job: AssignedJob | null;
  cancel: string[];
  /** The agent was revoked: it gets nothing, and the route answers 401. */
  revoked?: true;
}

export interface HeartbeatOptions {
  /** The job the agent says it is running (null: none). */
  runningJobId?: string | null | undefined;
  /** Long poll: hold the call up to this long for a job or a cancel. */
  waitMs?: number;
}

export interface HostState {
  queued: number;
  running_job_id: string | null;
  agent_id: string | null;
  last_heartbeat_at: string | null;
  online: boolean;
}

/** What /metrics reads from a host's object, in one call. */
export interface HostMetrics {
  /** Jobs waiting for an agent. */
  queued: number;
  heartbeats: number;
  agents_online: number;
  dispatch_buckets: number[];
  dispatch_count: number;
  dispatch_sum_s: number;
}

export type CancelResult =
  | { outcome: "cancelled"; job: Job }
  | { outcome: "cancel_requested"; job: Job }
  | { outcome: "already_finished"; job: Job }
  | { outcome: "not_found" };

export interface StatusReport {
  status: "running" | "succeeded" | "failed";
  exit_code?: number | null | undefined;
  error?: string | null | undefined;
  /** The attempt the report is about; a report for an older attempt is refused. */
  attempt?: number | undefined;
}

/** What an agent's report about a job came to. The route maps each outcome to a status code. */
export type ReportResult =
  | { outcome: "ok"; job: Job }
  | { outcome: "not_found" }
  | { outcome: "forbidden" }
  | { outcome: "revoked" }
  | { outcome: "stale"; job: Job; reason: string }
  /** A log batch refused whole, nothing of it written (LogBatchRefused): 413 too much parked, 422 too far ahead. */
  | { outcome: "log_refused"; status: 413 | 422; code: string; message: string };

/** What revoking an agent did on its host. */
export interface RevokeResult {
  /** Jobs the agent was running, now failed (`agent_revoked`) or cancelled. */
  failed: string[];
}

