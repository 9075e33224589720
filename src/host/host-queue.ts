import { DurableObject } from "cloudflare:workers";
import type { DeploySpec } from "../config/apps";
import type { JobSnapshot } from "../db/queries";
import type { Env } from "../env";
import type { Job, JobStatus } from "../schemas/jobs";
import { d1HistoryWriter } from "./history";
import { Outbox } from "./outbox";
import { Schedule } from "./schedule";

/** How long after its last heartbeat an agent still counts as online (longest long poll plus margin). */
export const ONLINE_WINDOW_MS = 75_000;
/** Finished jobs kept in the object for quick reads; D1 keeps all of them. */
const FINISHED_KEPT = 500;

export interface EnqueueRequest {
  app: string;
  repo: string;
  ref: string;
  sha: string;
  host: string;
  mode: "agent" | "ssh";
  trigger: "webhook" | "api" | "rollback";
  delivery_id: string | null;
  deploy: DeploySpec;
  /** Lease and retry policy from apps.yaml at the time of the push. */
  lease_s: number;
  retries: number;
}

export interface EnqueueResult {
  job: Job;
  /** false when an equal job was already queued or running (or this delivery already made it). */
  created: boolean;
  /** Ids of older queued jobs of the same app that this one replaced. */
  superseded: string[];
}

export interface AssignedJob extends Job {
  deploy: DeploySpec;
  lease_s: number;
}

export interface HostState {
  queued: number;
  running_job_id: string | null;
  agent_id: string | null;
  last_heartbeat_at: string | null;
  online: boolean;
}

export type CancelResult =
  | { outcome: "cancelled"; job: Job }
  | { outcome: "cancel_requested"; job: Job }
  | { outcome: "already_finished"; job: Job }
  | { outcome: "not_found" };

interface JobRow extends Record<string, SqlStorageValue> {
  pos: number;
  id: string;
  app: string;
  repo: string;
  ref: string;
  sha: string;
  host: string;
  mode: string;
  status: string;
  attempt: number;
  agent_id: string | null;
  trigger: string;
  delivery_id: string | null;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  exit_code: number | null;
  error: string | null;
  deploy: string;
  lease_s: number;
  retries: number;
  cancel_requested: number;
  version: number;
}

const FINISHED: JobStatus[] = ["succeeded", "failed", "cancelled"];

function toJob(row: JobRow): Job {
  return {
    id: row.id,
    app: row.app,
    repo: row.repo,
    ref: row.ref,
    sha: row.sha,
    host: row.host,
    mode: row.mode as Job["mode"],
    status: row.status as JobStatus,
    attempt: row.attempt,
    agent_id: row.agent_id,
    trigger: row.trigger,
    created_at: row.created_at,
    started_at: row.started_at,
    finished_at: row.finished_at,
    exit_code: row.exit_code,
    error: row.error,
  };
}

function toSnapshot(row: JobRow): JobSnapshot {
  return { ...toJob(row), delivery_id: row.delivery_id, version: row.version };
}

const iso = (ms: number) => new Date(ms).toISOString();

/**
 * One object per host (`idFromName(host)`): the host's queue, its running job
 * and its agents' heartbeats. Every public method runs its reads and writes as
 * one synchronous SQL block, so the object's input gate makes it atomic: no two
 * callers can both take the same queued job, and there is at most one running
 * job per host.
 */
export class HostQueue extends DurableObject<Env> {
  private readonly sql: SqlStorage;
  private readonly schedule: Schedule;
  readonly outbox: Outbox;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.sql.exec(`CREATE TABLE IF NOT EXISTS jobs (
      pos INTEGER PRIMARY KEY AUTOINCREMENT,
      id TEXT NOT NULL UNIQUE,
      app TEXT NOT NULL, repo TEXT NOT NULL, ref TEXT NOT NULL, sha TEXT NOT NULL,
      host TEXT NOT NULL, mode TEXT NOT NULL, status TEXT NOT NULL,
      attempt INTEGER NOT NULL DEFAULT 1, agent_id TEXT, trigger TEXT NOT NULL, delivery_id TEXT,
      created_at TEXT NOT NULL, started_at TEXT, finished_at TEXT, exit_code INTEGER, error TEXT,
      deploy TEXT NOT NULL, lease_s REAL NOT NULL, retries INTEGER NOT NULL,
      cancel_requested INTEGER NOT NULL DEFAULT 0,
      version INTEGER NOT NULL DEFAULT 1
    )`);
    this.sql.exec("CREATE INDEX IF NOT EXISTS jobs_status_pos ON jobs (status, pos)");
    this.sql.exec("CREATE INDEX IF NOT EXISTS jobs_identity ON jobs (app, ref, sha, status)");
    this.sql.exec("CREATE INDEX IF NOT EXISTS jobs_delivery ON jobs (delivery_id, app)");
    this.sql.exec(`CREATE TABLE IF NOT EXISTS heartbeats (
      agent_id TEXT PRIMARY KEY,
      at INTEGER NOT NULL
    )`);
    this.schedule = new Schedule(this.sql, ctx.storage);
    this.outbox = new Outbox(this.sql, this.schedule, d1HistoryWriter(env.DB));
  }

  /**
   * Queues a job, unless the same app, ref and sha is already queued or running
   * on this host (or this delivery already queued it): then that job is returned.
   * A new job replaces older queued jobs of the same app: the newest push wins.
   */
  async enqueue(request: EnqueueRequest): Promise<EnqueueResult> {
    const now = Date.now();
    const result = this.ctx.storage.transactionSync((): EnqueueResult => {
      const existing =
        (request.delivery_id
          ? this.one("SELECT * FROM jobs WHERE delivery_id = ? AND app = ?", request.delivery_id, request.app)
          : null) ??
        this.one(
          "SELECT * FROM jobs WHERE app = ? AND ref = ? AND sha = ? AND status IN ('queued', 'running') ORDER BY pos LIMIT 1",
          request.app,
          request.ref,
          request.sha,
        );
      if (existing) return { job: toJob(existing), created: false, superseded: [] };

      const id = crypto.randomUUID();
      const older = this.all("SELECT * FROM jobs WHERE app = ? AND status = 'queued' ORDER BY pos", request.app);
      for (const row of older) {
        this.update(row, { status: "cancelled", finished_at: iso(now), error: `superseded by job ${id}` }, now);
      }
      this.sql.exec(
        `INSERT INTO jobs (id, app, repo, ref, sha, host, mode, status, trigger, delivery_id, created_at, deploy, lease_s, retries)
         VALUES (?, ?, ?, ?, ?, ?, ?, 'queued', ?, ?, ?, ?, ?, ?)`,
        id,
        request.app,
        request.repo,
        request.ref,
        request.sha,
        request.host,
        request.mode,
        request.trigger,
        request.delivery_id,
        iso(now),
        JSON.stringify(request.deploy),
        request.lease_s,
        request.retries,
      );
      const row = this.one("SELECT * FROM jobs WHERE id = ?", id)!;
      this.outbox.add(toSnapshot(row), now);
      return { job: toJob(row), created: true, superseded: older.map((r) => r.id) };
    });
    await this.afterWrite();
    return result;
  }

  /**
   * An agent's heartbeat: records it, and hands out the oldest queued job when
   * nothing runs on this host. Returns the job and the ids of jobs this agent
   * runs that were cancelled.
   */
  async heartbeat(agentId: string): Promise<{ job: AssignedJob | null; cancel: string[] }> {
    const now = Date.now();
    const result = this.ctx.storage.transactionSync(() => {
      this.sql.exec(
        "INSERT INTO heartbeats (agent_id, at) VALUES (?, ?) ON CONFLICT (agent_id) DO UPDATE SET at = excluded.at",
        agentId,
        now,
      );
      const cancel = this.all(
        "SELECT * FROM jobs WHERE status = 'running' AND agent_id = ? AND cancel_requested = 1",
        agentId,
      ).map((r) => r.id);
      if (this.one("SELECT * FROM jobs WHERE status = 'running' LIMIT 1")) return { job: null, cancel };
      const next = this.one("SELECT * FROM jobs WHERE status = 'queued' ORDER BY pos LIMIT 1");
      if (!next) return { job: null, cancel };
      const row = this.update(next, { status: "running", agent_id: agentId, started_at: iso(now) }, now);
      const job: AssignedJob = { ...toJob(row), deploy: JSON.parse(row.deploy) as DeploySpec, lease_s: row.lease_s };
      return { job, cancel };
    });
    if (result.job) await this.afterWrite();
    return result;
  }

  /** Cancels a queued job at once; a running one is flagged for its agent's next heartbeat. */
  async cancel(jobId: string, reason = "cancelled by user"): Promise<CancelResult> {
    const now = Date.now();
    const result = this.ctx.storage.transactionSync((): CancelResult => {
      const row = this.one("SELECT * FROM jobs WHERE id = ?", jobId);
      if (!row) return { outcome: "not_found" };
      if (FINISHED.includes(row.status as JobStatus)) return { outcome: "already_finished", job: toJob(row) };
      if (row.status === "queued") {
        const done = this.update(row, { status: "cancelled", finished_at: iso(now), error: reason }, now);
        return { outcome: "cancelled", job: toJob(done) };
      }
      this.sql.exec("UPDATE jobs SET cancel_requested = 1 WHERE id = ?", jobId);
      return { outcome: "cancel_requested", job: toJob(row) };
    });
    if (result.outcome === "cancelled") await this.afterWrite();
    return result;
  }

  getJob(jobId: string): Job | null {
    const row = this.one("SELECT * FROM jobs WHERE id = ?", jobId);
    return row ? toJob(row) : null;
  }

  /** Queued jobs in the order they will run. */
  queued(): Job[] {
    return this.all("SELECT * FROM jobs WHERE status = 'queued' ORDER BY pos").map(toJob);
  }

  state(): HostState {
    const queued = this.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM jobs WHERE status = 'queued'").one().n;
    const running = this.one("SELECT * FROM jobs WHERE status = 'running' LIMIT 1");
    const last = this.sql
      .exec<{ agent_id: string; at: number }>("SELECT agent_id, at FROM heartbeats ORDER BY at DESC LIMIT 1")
      .toArray()[0];
    return {
      queued,
      running_job_id: running?.id ?? null,
      agent_id: last?.agent_id ?? null,
      last_heartbeat_at: last ? iso(last.at) : null,
      online: last !== undefined && Date.now() - last.at < ONLINE_WINDOW_MS,
    };
  }

  override async alarm(): Promise<void> {
    // Any alarm is a good moment to retry history: a delivery attempt is harmless when D1 is still down.
    if (this.outbox.pending() > 0) await this.outbox.flush();
    this.prune();
    await this.schedule.rearm();
  }

  /** Applies `changes` to a job row, bumps its version and records the transition in the outbox. */
  private update(row: JobRow, changes: Partial<JobRow>, now: number): JobRow {
    const next: JobRow = { ...row, ...changes, version: row.version + 1 };
    this.sql.exec(
      `UPDATE jobs SET status = ?, agent_id = ?, started_at = ?, finished_at = ?, exit_code = ?, error = ?,
         attempt = ?, version = ? WHERE id = ?`,
      next.status,
      next.agent_id,
      next.started_at,
      next.finished_at,
      next.exit_code,
      next.error,
      next.attempt,
      next.version,
      row.id,
    );
    this.outbox.add(toSnapshot(next), now);
    return next;
  }

  /** After a committed change: deliver history now, and keep the alarm armed as the safety net. */
  private async afterWrite(): Promise<void> {
    await this.schedule.rearm();
    this.ctx.waitUntil(this.outbox.flush().then(() => this.schedule.rearm()));
  }

  /** Drops the oldest finished jobs beyond FINISHED_KEPT once D1 has them. */
  private prune(): void {
    const pending = this.outbox.pendingJobIds();
    const old = this.all(
      "SELECT * FROM jobs WHERE status IN ('succeeded', 'failed', 'cancelled') ORDER BY pos DESC LIMIT -1 OFFSET ?",
      FINISHED_KEPT,
    );
    for (const row of old) if (!pending.has(row.id)) this.sql.exec("DELETE FROM jobs WHERE id = ?", row.id);
  }

  private one(query: string, ...bindings: SqlStorageValue[]): JobRow | null {
    return this.sql.exec<JobRow>(query, ...bindings).toArray()[0] ?? null;
  }

  private all(query: string, ...bindings: SqlStorageValue[]): JobRow[] {
    return this.sql.exec<JobRow>(query, ...bindings).toArray();
  }
}
