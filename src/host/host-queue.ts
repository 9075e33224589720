import { DurableObject } from "cloudflare:workers";
import type { DeploySpec } from "../config/apps";
import type { JobSnapshot } from "../db/queries";
import type { Env } from "../env";
import { errorBody, REVOKED_MESSAGE } from "../errors";
import { FINISHED_STATUSES, type Job, type JobStatus } from "../schemas/jobs";
import { d1HistoryWriter } from "./history";
import { LogStore, secretValues, type IncomingLine, type LogLine } from "./logs";
import { migrate } from "./migrations";
import { Outbox } from "./outbox";
import { Schedule } from "./schedule";
import { endEvent, frames, logEvent, statusEvent, type StreamEvent } from "./stream";
import { relayClient, type SshTarget } from "../ssh/relay";
import { RELAY_AGENT, runSshJob } from "./ssh-runner";

/** How long after its last heartbeat an agent still counts as online (longest long poll plus margin). */
export const ONLINE_WINDOW_MS = 75_000;
/**
 * How stale the stored last-heartbeat time may get. Heartbeats are the hottest path: writing each one
 * would cost a storage write per poll; an evicted object only loses up to this much precision.
 */
const HEARTBEAT_PERSIST_MS = 15_000;
/** Finished jobs kept in the object for quick reads and live tails; D1 keeps all of them. */
const FINISHED_KEPT = 500;
/** Lines a new host-wide subscriber gets from before it connected. */
const HOST_STREAM_BACKLOG = 500;
/** Dispatch-wait histogram buckets (seconds), Prometheus style. */
export const DISPATCH_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];

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
  /** For ssh-mode jobs: where the relay connects. */
  target?: SshTarget | null;
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

export interface HostMetrics {
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
  | { outcome: "stale"; job: Job; reason: string };

/** What revoking an agent did on its host. */
export interface RevokeResult {
  /** Jobs the agent was running, now failed (`agent_revoked`) or cancelled. */
  failed: string[];
}

/** What one heartbeat decided. */
type BeatResult = HeartbeatResult & { newCancel: boolean };

/** A held long poll. */
interface Waiter {
  agentId: string;
  runningJobId: string | null;
  generation: number;
  settle(result: BeatResult | null): void;
}

/** What a connected agent's WebSocket remembers across hibernation. */
interface AgentSocket {
  agentId: string;
}

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
  queued_at: number;
  lease_expires_at: number | null;
  acked: number;
  cancel_requested: number;
  cancel_delivered: number;
  target: string | null;
  version: number;
}

/** The API's 401 for a revoked agent, answered by the object itself on the push channel's upgrade. */
function revokedResponse(): Response {
  return Response.json(errorBody("agent_revoked", REVOKED_MESSAGE), { status: 401 });
}

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
 * One object per host (`idFromName(host)`): the host's queue, its running job,
 * leases, logs and its agents' heartbeats. Every public method does its reads
 * and writes as one synchronous SQL block (a transaction), so the object's
 * input gate makes each atomic: no two callers can take the same queued job,
 * and there is at most one running job per host.
 */
export class HostQueue extends DurableObject<Env> {
  private readonly sql: SqlStorage;
  private readonly schedule: Schedule;
  private readonly logs: LogStore;
  readonly outbox: Outbox;
  /** Long-polling heartbeats waiting for work; wake() answers them on every enqueue, end and cancel. */
  private readonly waiters = new Set<Waiter>();
  /** The newest heartbeat call of each agent (held polls of older calls are stale). */
  private readonly pollGenerations = new Map<string, number>();
  /** Last heartbeat of each agent, in memory; written to storage at most every HEARTBEAT_PERSIST_MS per agent. */
  private readonly lastBeats = new Map<string, { at: number; persisted: number }>();
  /** Heartbeats counted since the counter was last written. */
  private unsavedHeartbeats = 0;
  /** Agents revoked on this host (the revoked_agents table, kept in memory: every agent call asks). */
  private readonly revoked: Set<string>;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    migrate(this.sql);
    this.schedule = new Schedule(this.sql, ctx.storage);
    this.logs = new LogStore(this.sql);
    this.outbox = new Outbox(this.sql, this.schedule, this.logs, d1HistoryWriter(env.DB));
    this.revoked = new Set(this.sql.exec<{ agent_id: string }>("SELECT agent_id FROM revoked_agents").toArray().map((r) => r.agent_id));
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
      for (const row of older) this.finish(row, "cancelled", { error: `superseded by job ${id}` }, now);
      this.sql.exec(
        `INSERT INTO jobs (id, app, repo, ref, sha, host, mode, status, trigger, delivery_id, created_at, deploy, lease_s, retries, queued_at, target)
         VALUES (?, ?, ?, ?, ?, ?, ?, 'queued', ?, ?, ?, ?, ?, ?, ?, ?)`,
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
        now,
        request.target ? JSON.stringify(request.target) : null,
      );
      const row = this.one("SELECT * FROM jobs WHERE id = ?", id)!;
      this.outbox.add(toSnapshot(row), now);
      this.broadcast(row, [statusEvent(toJob(row))]);
      return { job: toJob(row), created: true, superseded: older.map((r) => r.id) };
    });
    if (result.created) this.wake();
    await this.afterWrite();
    return result;
  }

  /**
   * An agent's heartbeat. Records it, renews the lease of the job the agent
   * says it runs, notices an agent that lost its job (restart), and hands out
   * the oldest queued job when nothing runs on this host. With `waitMs`, holds
   * the call until there is a job or a cancel for this agent, or time runs out.
   */
  async heartbeat(agentId: string, { runningJobId = null, waitMs = 0 }: HeartbeatOptions = {}): Promise<HeartbeatResult> {
    if (this.revoked.has(agentId)) return { job: null, cancel: [], revoked: true };
    const deadline = Date.now() + waitMs;
    // A newer heartbeat of the same agent supersedes a poll still held here: the agent gave up on it
    // (timeout, restart), and what it said ("I run nothing") is no longer true. It must not act.
    const generation = (this.pollGenerations.get(agentId) ?? 0) + 1;
    this.pollGenerations.set(agentId, generation);
    const running = runningJobId ?? null;
    let result = this.beat(agentId, running, true);
    while (result.job === null && !result.newCancel && Date.now() < deadline) {
      // Woken by wake() with this poll's answer already decided (in the same output-gate flush as
      // the change that woke it, so the answer leaves as soon as that change is durable), or by time.
      const decided = await this.waitForWork({ agentId, runningJobId: running, generation }, deadline - Date.now());
      if (this.pollGenerations.get(agentId) !== generation) {
        return this.revoked.has(agentId) ? { job: null, cancel: [], revoked: true } : { job: null, cancel: [] };
      }
      result = decided ?? this.beat(agentId, running, false);
    }
    await this.afterWrite();
    return { job: result.job, cancel: result.cancel };
  }

  /**
   * The agent hung up on its held poll (the Worker saw the client disconnect): the poll must not be
   * handed anything, since nobody would receive it. Ends the agent's held polls without effect.
   */
  abandonPolls(agentId: string): void {
    this.pollGenerations.set(agentId, (this.pollGenerations.get(agentId) ?? 0) + 1);
    for (const waiter of [...this.waiters]) if (waiter.agentId === agentId) waiter.settle(null);
  }

  private beat(agentId: string, runningJobId: string | null, count: boolean): BeatResult {
    const now = Date.now();
    return this.ctx.storage.transactionSync(() => {
      this.recordHeartbeat(agentId, now, count);

      for (const held of this.all("SELECT * FROM jobs WHERE status = 'running' AND agent_id = ?", agentId)) {
        if (held.id === runningJobId) {
          this.renewLease(held, now);
        } else {
          this.agentLostJob(held, now);
        }
      }

      const flagged = this.all("SELECT * FROM jobs WHERE status = 'running' AND agent_id = ? AND cancel_requested = 1", agentId);
      const newCancel = flagged.some((r) => r.cancel_delivered === 0);
      if (newCancel) this.sql.exec("UPDATE jobs SET cancel_delivered = 1 WHERE agent_id = ? AND cancel_requested = 1", agentId);
      const cancel = flagged.map((r) => r.id);

      if (runningJobId !== null || this.one("SELECT * FROM jobs WHERE status = 'running' LIMIT 1")) {
        return { job: null, cancel, newCancel };
      }
      // Agents take agent-mode jobs only; ssh-mode jobs go through the relay (startSshIfIdle).
      const next = this.one("SELECT * FROM jobs WHERE status = 'queued' AND mode = 'agent' ORDER BY pos LIMIT 1");
      if (!next) return { job: null, cancel, newCancel };

      const row = this.handOut(next, agentId, false, `handed to agent ${agentId}`, now);
      const job: AssignedJob = { ...toJob(row), deploy: JSON.parse(row.deploy) as DeploySpec, lease_s: row.lease_s };
      return { job, cancel, newCancel };
    });
  }

  /**
   * The agent holding `row` says it runs something else (or nothing): it
   * restarted or lost the job. A job it had confirmed is failed at once
   * (`agent_restarted`), never run twice; one it never confirmed was lost on
   * the way to it and is queued again.
   */
  private agentLostJob(row: JobRow, now: number): void {
    if (row.acked || row.cancel_requested) {
      this.finish(row, row.cancel_requested ? "cancelled" : "failed", { error: "agent_restarted" }, now);
    } else {
      this.requeue(row, now, "the agent never confirmed it");
    }
  }

  /** Called when an agent registers again in place of `agentId` (its restart): its running jobs fail now. */
  async agentRestarted(agentId: string): Promise<string[]> {
    const now = Date.now();
    const failed = this.ctx.storage.transactionSync(() => this.retireAgent(agentId, "agent_restarted", now));
    if (failed.length) {
      this.wake();
      await this.afterWrite();
    }
    return failed;
  }

  /**
   * Revokes an agent on this host (DELETE /v1/agents/{id}): from now on every
   * call it makes here is refused, its held polls end, its push channel
   * closes, and the jobs it runs end at once, failed with `agent_revoked`
   * (cancelled if a cancel was pending): what a revoked agent reports cannot
   * be trusted, and nothing waits for its lease. Idempotent.
   */
  async revokeAgent(agentId: string): Promise<RevokeResult> {
    const now = Date.now();
    const failed = this.ctx.storage.transactionSync(() => {
      this.sql.exec("INSERT INTO revoked_agents (agent_id, at) VALUES (?, ?) ON CONFLICT (agent_id) DO NOTHING", agentId, now);
      this.revoked.add(agentId);
      return this.retireAgent(agentId, "agent_revoked", now);
    });
    this.abandonPolls(agentId);
    for (const ws of this.ctx.getWebSockets(`agent:${agentId}`)) {
      try {
        ws.close(4401, "agent revoked");
      } catch {
        // already closed
      }
    }
    if (failed.length) this.wake();
    await this.afterWrite();
    return { failed };
  }

  /**
   * Ends every job AGENT_ID runs here, failed with ERROR (cancelled if a cancel was pending), and
   * forgets its heartbeats. Returns the ended jobs' ids. Inside the caller's transaction.
   */
  private retireAgent(agentId: string, error: string, now: number): string[] {
    const held = this.all("SELECT * FROM jobs WHERE status = 'running' AND agent_id = ?", agentId);
    for (const row of held) this.finish(row, row.cancel_requested ? "cancelled" : "failed", { error }, now);
    this.sql.exec("DELETE FROM heartbeats WHERE agent_id = ?", agentId);
    this.lastBeats.delete(agentId);
    return held.map((r) => r.id);
  }

  /** A status report from the agent that holds the job. */
  async report(agentId: string, jobId: string, report: StatusReport): Promise<ReportResult> {
    const now = Date.now();
    const result = this.ctx.storage.transactionSync((): ReportResult => {
      const row = this.one("SELECT * FROM jobs WHERE id = ?", jobId);
      const checked = this.checkHolder(row, agentId, report.attempt);
      if (checked.outcome !== "ok") {
        // A repeated final report (its answer was lost) gets the same answer again.
        if (row && checked.outcome === "stale" && row.agent_id === agentId && this.sameFinal(row, report)) {
          return { outcome: "ok", job: toJob(row) };
        }
        return checked;
      }
      const held = row!;
      if (report.status === "running") {
        this.sql.exec("UPDATE jobs SET acked = 1 WHERE id = ?", jobId);
        this.renewLease(held, now);
        return { outcome: "ok", job: toJob(held) };
      }
      const status: JobStatus = held.cancel_requested ? "cancelled" : report.status;
      const error = report.status === "failed" ? report.error ?? (held.cancel_requested ? "cancelled by user" : "failed") : null;
      const done = this.finish(held, status, { exit_code: report.exit_code ?? null, error }, now);
      return { outcome: "ok", job: toJob(done) };
    });
    if (result.outcome === "ok" && FINISHED_STATUSES.includes(result.job.status)) {
      this.wake();
      await this.afterWrite();
    }
    return result;
  }

  /** A batch of log lines from the agent that holds the job. Renews its lease. */
  async appendLogs(agentId: string, jobId: string, lines: IncomingLine[], attempt?: number): Promise<ReportResult> {
    const now = Date.now();
    const result = this.ctx.storage.transactionSync((): ReportResult => {
      const row = this.one("SELECT * FROM jobs WHERE id = ?", jobId);
      const checked = this.checkHolder(row, agentId, attempt);
      if (checked.outcome !== "ok") return checked;
      const held = row!;
      const deploy = JSON.parse(held.deploy) as DeploySpec;
      const released = this.logs.append(jobId, held.attempt, lines, secretValues(deploy.env));
      this.renewLease(held, now);
      if (released.length) {
        this.outbox.armSafetyNet(now);
        this.broadcast(held, released.map(logEvent));
      }
      return { outcome: "ok", job: toJob(held) };
    });
    if (result.outcome === "ok") await this.afterWrite();
    return result;
  }

  /** Cancels a queued job at once; a running one is flagged and its agent woken to hear it. */
  async cancel(jobId: string, reason = "cancelled by user"): Promise<CancelResult> {
    const now = Date.now();
    const result = this.ctx.storage.transactionSync((): CancelResult => {
      const row = this.one("SELECT * FROM jobs WHERE id = ?", jobId);
      if (!row) return { outcome: "not_found" };
      if (FINISHED_STATUSES.includes(row.status)) return { outcome: "already_finished", job: toJob(row) };
      if (row.status === "queued") {
        const done = this.finish(row, "cancelled", { error: reason }, now);
        return { outcome: "cancelled", job: toJob(done) };
      }
      this.sql.exec("UPDATE jobs SET cancel_requested = 1 WHERE id = ?", jobId);
      this.note(row, "[deploybot] cancel requested; waiting for the agent to stop", now);
      if (row.mode === "ssh") {
        this.ctx.waitUntil(
          relayClient(this.env)
            .fetch(`/v1/deploy/${encodeURIComponent(row.id)}/cancel`, {})
            .then((res) => res.body?.cancel())
            .catch(() => undefined), // the lease still ends it if the relay cannot be told
        );
      }
      return { outcome: "cancel_requested", job: toJob(row) };
    });
    if (result.outcome !== "not_found" && result.outcome !== "already_finished") {
      this.wake();
      await this.afterWrite();
    }
    return result;
  }

  /**
   * apps.yaml changed: queued jobs of apps that no longer deploy to this host (the app or the host
   * was removed, or the app's host list changed) are cancelled with REASON, so they are neither
   * handed out later nor left queued forever. Running jobs finish. Returns the cancelled ids.
   */
  async dropQueuedExcept(keepApps: string[], reason: string): Promise<string[]> {
    const now = Date.now();
    const keep = new Set(keepApps);
    const dropped = this.ctx.storage.transactionSync(() => {
      const stale = this.all("SELECT * FROM jobs WHERE status = 'queued' ORDER BY pos").filter((row) => !keep.has(row.app));
      for (const row of stale) this.finish(row, "cancelled", { error: reason }, now);
      return stale.map((row) => row.id);
    });
    if (dropped.length) await this.afterWrite();
    return dropped;
  }

  getJob(jobId: string): Job | null {
    const row = this.one("SELECT * FROM jobs WHERE id = ?", jobId);
    return row ? toJob(row) : null;
  }

  /** Queued jobs in the order they will run. */
  queued(): Job[] {
    return this.all("SELECT * FROM jobs WHERE status = 'queued' ORDER BY pos").map(toJob);
  }

  /** Stored log lines of a job after `afterPos` (tests and history reads). */
  jobLogs(jobId: string, afterPos = 0, limit = 1000): LogLine[] {
    return this.logs.read(jobId, afterPos, limit);
  }

  /** Notes a heartbeat: in memory always, in storage when the stored time is older than HEARTBEAT_PERSIST_MS. */
  private recordHeartbeat(agentId: string, now: number, count: boolean): void {
    if (count) this.unsavedHeartbeats++;
    const known = this.lastBeats.get(agentId);
    if (known && now - known.persisted < HEARTBEAT_PERSIST_MS) {
      known.at = now;
      return;
    }
    this.sql.exec(
      "INSERT INTO heartbeats (agent_id, at) VALUES (?, ?) ON CONFLICT (agent_id) DO UPDATE SET at = excluded.at",
      agentId,
      now,
    );
    if (this.unsavedHeartbeats) this.bump("heartbeats_total", "", this.unsavedHeartbeats);
    this.unsavedHeartbeats = 0;
    this.lastBeats.set(agentId, { at: now, persisted: now });
  }

  /** Every agent's last heartbeat: the stored times, overlaid with the newer ones in memory. */
  private heartbeatTimes(): Array<{ agent_id: string; at: number }> {
    const times = new Map(
      this.sql.exec<{ agent_id: string; at: number }>("SELECT agent_id, at FROM heartbeats").toArray().map((r) => [r.agent_id, r.at]),
    );
    for (const [agent, beat] of this.lastBeats) if (beat.at > (times.get(agent) ?? 0)) times.set(agent, beat.at);
    return [...times].map(([agent_id, at]) => ({ agent_id, at }));
  }

  state(): HostState {
    const queued = this.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM jobs WHERE status = 'queued'").one().n;
    const running = this.one("SELECT * FROM jobs WHERE status = 'running' LIMIT 1");
    const last = this.heartbeatTimes().sort((a, b) => b.at - a.at)[0];
    return {
      queued,
      running_job_id: running?.id ?? null,
      agent_id: last?.agent_id ?? null,
      last_heartbeat_at: last ? iso(last.at) : null,
      online: last !== undefined && Date.now() - last.at < ONLINE_WINDOW_MS,
    };
  }

  metrics(): HostMetrics {
    const counter = (name: string, label = "") =>
      this.sql.exec<{ value: number }>("SELECT value FROM counters WHERE name = ? AND label = ?", name, label).toArray()[0]?.value ?? 0;
    const since = Date.now() - ONLINE_WINDOW_MS;
    const online = this.heartbeatTimes().filter((beat) => beat.at > since).length;
    return {
      heartbeats: counter("heartbeats_total") + this.unsavedHeartbeats,
      agents_online: online,
      dispatch_buckets: DISPATCH_BUCKETS.map((b) => counter("dispatch_bucket", String(b))),
      dispatch_count: counter("dispatch_count"),
      dispatch_sum_s: counter("dispatch_sum"),
    };
  }

  /**
   * Live log subscription: a WebSocket the Worker turns into SSE. The socket is
   * accepted for hibernation, so an idle stream does not keep this object
   * awake. History and registration happen in one synchronous block, so the
   * subscriber sees every line once: no gap, no duplicate.
   */
  override async fetch(request: Request): Promise<Response> {
    if (request.headers.get("upgrade") !== "websocket") return new Response("expected a WebSocket", { status: 426 });
    const url = new URL(request.url);
    if (url.pathname === "/agent") return this.connectAgent(url.searchParams.get("agent_id") ?? "");
    const jobId = url.searchParams.get("job_id");
    const after = Number(url.searchParams.get("after") ?? "0") || 0;
    const { 0: client, 1: server } = new WebSocketPair();

    const events: StreamEvent[] = [];
    const row = jobId ? this.one("SELECT * FROM jobs WHERE id = ?", jobId) : null;
    if (jobId && !row) return new Response("no such job", { status: 404 });
    if (row) events.push(statusEvent(toJob(row)));
    // A job's stream replays all of its history; a host's, the newest HOST_STREAM_BACKLOG lines.
    const start = jobId ? after : after || Math.max(0, this.lastPos() - HOST_STREAM_BACKLOG);
    for (let lines = this.logs.read(jobId, start, 1000); lines.length; lines = this.logs.read(jobId, lines.at(-1)!.pos, 1000)) {
      events.push(...lines.map(logEvent));
    }
    const close = row !== null && FINISHED_STATUSES.includes(row.status);
    if (close) events.push(endEvent(toJob(row)));
    this.ctx.acceptWebSocket(server, [jobId ? `job:${jobId}` : "host"]);
    for (const frame of frames(events)) server.send(frame);
    if (close) server.close(1000, "job finished");
    return new Response(null, { status: 101, webSocket: client });
  }

  /**
   * The push channel: an agent holds a WebSocket instead of long-polling.
   * Accepted for hibernation, so an idle host's object can sleep while its
   * agents stay connected; a job queued for the host is pushed at once.
   * Messages are JSON: the agent sends `{"type": "heartbeat", "running_job_id"}`
   * and gets `{"type": "heartbeat", "job", "cancel"}`; the object sends
   * `{"type": "job", "job"}` and `{"type": "cancel", "cancel"}` unasked.
   */
  private connectAgent(agentId: string): Response {
    if (!agentId) return new Response("agent_id required", { status: 400 });
    if (this.revoked.has(agentId)) return revokedResponse();
    const { 0: client, 1: server } = new WebSocketPair();
    this.ctx.acceptWebSocket(server, ["agent", `agent:${agentId}`]);
    server.serializeAttachment({ agentId } satisfies AgentSocket);
    return new Response(null, { status: 101, webSocket: client });
  }

  override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    const socket = ws.deserializeAttachment() as AgentSocket | null;
    if (!socket?.agentId) return; // log subscribers only listen
    let parsed: { type?: unknown; running_job_id?: unknown };
    try {
      parsed = JSON.parse(typeof message === "string" ? message : new TextDecoder().decode(message));
    } catch {
      ws.send(JSON.stringify({ type: "error", error: "messages are JSON" }));
      return;
    }
    if (parsed.type !== "heartbeat") {
      ws.send(JSON.stringify({ type: "error", error: 'unknown message type; send {"type":"heartbeat","running_job_id":…}' }));
      return;
    }
    if (this.revoked.has(socket.agentId)) {
      ws.close(4401, "agent revoked");
      return;
    }
    const running = typeof parsed.running_job_id === "string" ? parsed.running_job_id : null;
    const result = this.beat(socket.agentId, running, true);
    ws.send(JSON.stringify({ type: "heartbeat", job: result.job, cancel: result.cancel }));
    await this.afterWrite();
  }

  /** Offers work to connected agents: a queued job to the first idle one, cancels to their holders. */
  private pushToAgents(): void {
    for (const ws of this.ctx.getWebSockets("agent")) {
      const socket = ws.deserializeAttachment() as AgentSocket | null;
      if (!socket || this.revoked.has(socket.agentId)) continue;
      // Unasked, the object speaks for the agent: it runs what the object says it holds.
      const held = this.one("SELECT * FROM jobs WHERE status = 'running' AND agent_id = ?", socket.agentId);
      const result = this.beat(socket.agentId, held?.id ?? null, false);
      try {
        if (result.job) {
          ws.send(JSON.stringify({ type: "job", job: result.job }));
        } else if (result.newCancel) {
          ws.send(JSON.stringify({ type: "cancel", cancel: result.cancel }));
        }
      } catch {
        // A dead socket: the job it was given is never confirmed and is queued again (see agentLostJob).
      }
    }
  }

  override async webSocketClose(ws: WebSocket, code: number): Promise<void> {
    try {
      ws.close(code === 1005 ? 1000 : code, "bye");
    } catch {
      // already closed
    }
  }

  override async alarm(): Promise<void> {
    this.schedule.alarmFired();
    const now = Date.now();
    const expired = this.ctx.storage.transactionSync(() => {
      let any = false;
      for (const timer of this.schedule.due(now)) {
        if (timer.kind !== "lease") continue;
        this.schedule.clear("lease", timer.key);
        const row = this.one("SELECT * FROM jobs WHERE id = ?", timer.key);
        // Idempotent: a renewed, finished or already expired job has nothing to do here.
        if (!row || row.status !== "running" || row.lease_expires_at === null || row.lease_expires_at > now) continue;
        this.expireLease(row, now);
        any = true;
      }
      return any;
    });
    if (expired) this.wake();
    if (this.outbox.hasWork()) await this.outbox.flush();
    this.prune();
    await this.schedule.rearm();
  }

  /** A lease ran out: queue the job again while retries allow, else fail it. A cancelled job stays cancelled. */
  private expireLease(row: JobRow, now: number): void {
    if (row.cancel_requested) {
      this.finish(row, "cancelled", { error: "cancelled; the agent never confirmed (lease expired)" }, now);
    } else if (row.attempt <= row.retries) {
      this.requeue(row, now, `lease expired (no heartbeat from agent ${row.agent_id} for ${row.lease_s}s)`);
    } else {
      this.finish(row, "failed", { error: "lease_expired" }, now);
    }
  }

  /** Puts a running job back at its place in the queue as a new attempt. */
  private requeue(row: JobRow, now: number, why: string): void {
    this.broadcast(row, this.logs.close(row.id, row.attempt).map(logEvent));
    this.note(row, `[deploybot] attempt ${row.attempt} lost: ${why}; queued again`, now);
    const next = this.update(row, {
      status: "queued",
      attempt: row.attempt + 1,
      agent_id: null,
      started_at: null,
      queued_at: now,
      lease_expires_at: null,
      acked: 0,
    }, now);
    this.schedule.clear("lease", row.id);
    this.broadcast(next, [statusEvent(toJob(next))]);
  }

  /** Ends a job: final status, end of its logs, and an `end` event that closes its subscribers. */
  private finish(row: JobRow, status: JobStatus, fields: { exit_code?: number | null; error?: string | null }, now: number): JobRow {
    const tail = this.logs.close(row.id, row.attempt);
    const done = this.update(row, {
      status,
      finished_at: iso(now),
      exit_code: fields.exit_code ?? null,
      error: fields.error ?? null,
      lease_expires_at: null,
    }, now);
    this.schedule.clear("lease", row.id);
    const job = toJob(done);
    this.broadcast(done, [...tail.map(logEvent), statusEvent(job), endEvent(job)], true);
    return done;
  }

  /**
   * ssh hosts have no agent: when nothing runs, the object hands the oldest
   * queued ssh-mode job to the relay itself, under the same rules (lease,
   * attempts, logs, cancel) as an agent's job.
   */
  private startSshIfIdle(): void {
    const now = Date.now();
    const started = this.ctx.storage.transactionSync(() => {
      if (this.one("SELECT * FROM jobs WHERE status = 'running' LIMIT 1")) return null;
      const next = this.one("SELECT * FROM jobs WHERE status = 'queued' ORDER BY pos LIMIT 1");
      if (!next || next.mode !== "ssh" || !next.target) return null;
      return this.handOut(next, RELAY_AGENT, true, `running through the ssh relay on ${JSON.parse(next.target).address}`, now);
    });
    if (!started) return;
    const target = JSON.parse(started.target!) as SshTarget;
    const job = { id: started.id, attempt: started.attempt, app: started.app, sha: started.sha, deploy: JSON.parse(started.deploy) as DeploySpec, target, lease_s: started.lease_s };
    this.ctx.waitUntil(
      runSshJob(relayClient(this.env), job, {
        logs: async (lines) => void (await this.appendLogs(RELAY_AGENT, job.id, lines, job.attempt)),
        renew: async () => this.touch(RELAY_AGENT, job.id, job.attempt),
        done: async (status, error) => void (await this.report(RELAY_AGENT, job.id, { status, error, attempt: job.attempt })),
        lost: async (reason, retry) => this.relayLost(job.id, job.attempt, reason, retry),
      }).then(() => this.afterWrite()),
    );
  }

  /**
   * Marks a queued job running for `agentId` (an agent, or the relay), starts its lease and tells
   * subscribers. `acked`: the holder needs no `running` report to count as having started it.
   */
  private handOut(next: JobRow, agentId: string, acked: boolean, how: string, now: number): JobRow {
    const row = this.update(next, {
      status: "running",
      agent_id: agentId,
      started_at: iso(now),
      acked: acked ? 1 : 0,
      lease_expires_at: now + next.lease_s * 1000,
    }, now);
    this.schedule.set("lease", row.id, row.lease_expires_at!);
    this.observeDispatch((now - next.queued_at) / 1000);
    this.broadcast(row, [statusEvent(toJob(row))]);
    this.note(row, `[deploybot] attempt ${row.attempt} ${how}`, now);
    return row;
  }

  /** Renews the lease of a job `agentId` holds (the relay runner's keep-alive). */
  private touch(agentId: string, jobId: string, attempt: number): void {
    this.ctx.storage.transactionSync(() => {
      const row = this.one("SELECT * FROM jobs WHERE id = ?", jobId);
      if (row && this.checkHolder(row, agentId, attempt).outcome === "ok") this.renewLease(row, Date.now());
    });
  }

  /** The relay could not finish an attempt: like a lost lease, unless retrying cannot help. */
  private async relayLost(jobId: string, attempt: number, reason: string, retry: boolean): Promise<void> {
    const now = Date.now();
    const changed = this.ctx.storage.transactionSync(() => {
      const row = this.one("SELECT * FROM jobs WHERE id = ?", jobId);
      if (!row || this.checkHolder(row, RELAY_AGENT, attempt).outcome !== "ok") return false;
      this.note(row, `[deploybot] ${reason}`, now);
      if (row.cancel_requested) this.finish(row, "cancelled", { error: reason }, now);
      else if (retry && row.attempt <= row.retries) this.requeue(row, now, reason);
      else this.finish(row, "failed", { error: reason }, now);
      return true;
    });
    if (changed) {
      this.wake();
      await this.afterWrite();
    }
  }

  /** A line from DeployBot itself in the job's log, streamed like any other. */
  private note(row: JobRow, text: string, now: number): void {
    const line = this.logs.system(row.id, row.attempt, text);
    this.outbox.armSafetyNet(now);
    this.broadcast(row, [logEvent(line)]);
  }

  private renewLease(row: JobRow, now: number): void {
    const expires = now + row.lease_s * 1000;
    this.sql.exec("UPDATE jobs SET lease_expires_at = ? WHERE id = ?", expires, row.id);
    this.schedule.set("lease", row.id, expires);
  }

  /** Whether `agentId` may report on `row` now: 404, 409 for an older attempt or a job it no longer holds, 403 for another agent's. */
  private checkHolder(row: JobRow | null, agentId: string, attempt: number | undefined): ReportResult {
    if (this.revoked.has(agentId)) return { outcome: "revoked" };
    if (!row) return { outcome: "not_found" };
    const stale = (reason: string): ReportResult => ({ outcome: "stale", job: toJob(row), reason });
    if (attempt !== undefined && attempt < row.attempt) {
      return stale(`report is for attempt ${attempt}; the job is on attempt ${row.attempt}`);
    }
    if (row.agent_id !== null && row.agent_id !== agentId) return { outcome: "forbidden" };
    if (row.status !== "running" || row.agent_id !== agentId) {
      return stale(`job is ${row.status}${row.status === "queued" ? ` (attempt ${row.attempt})` : ""}; this agent does not hold it`);
    }
    if (attempt !== undefined && attempt !== row.attempt) {
      return stale(`report is for attempt ${attempt}; the job is on attempt ${row.attempt}`);
    }
    return { outcome: "ok", job: toJob(row) };
  }

  private sameFinal(row: JobRow, report: StatusReport): boolean {
    if (!FINISHED_STATUSES.includes(row.status) || report.status === "running") return false;
    if (report.attempt !== undefined && report.attempt !== row.attempt) return false;
    return row.status === report.status || (row.status === "cancelled" && report.status === "failed");
  }

  /** Applies `changes` to a job row, bumps its version and records the transition in the outbox. */
  private update(row: JobRow, changes: Partial<JobRow>, now: number): JobRow {
    const next: JobRow = { ...row, ...changes, version: row.version + 1 };
    this.sql.exec(
      `UPDATE jobs SET status = ?, agent_id = ?, started_at = ?, finished_at = ?, exit_code = ?, error = ?,
         attempt = ?, queued_at = ?, lease_expires_at = ?, acked = ?, version = ? WHERE id = ?`,
      next.status,
      next.agent_id,
      next.started_at,
      next.finished_at,
      next.exit_code,
      next.error,
      next.attempt,
      next.queued_at,
      next.lease_expires_at,
      next.acked,
      next.version,
      row.id,
    );
    this.outbox.add(toSnapshot(next), now);
    return next;
  }

  private bump(name: string, label: string, by: number): void {
    this.sql.exec(
      "INSERT INTO counters (name, label, value) VALUES (?, ?, ?) ON CONFLICT (name, label) DO UPDATE SET value = value + excluded.value",
      name,
      label,
      by,
    );
  }

  private observeDispatch(seconds: number): void {
    for (const bucket of DISPATCH_BUCKETS) if (seconds <= bucket) this.bump("dispatch_bucket", String(bucket), 1);
    this.bump("dispatch_count", "", 1);
    this.bump("dispatch_sum", "", seconds);
  }

  /** Sends events to the job's subscribers and the host's; `end` closes the job's. */
  private broadcast(row: JobRow, events: StreamEvent[], end = false): void {
    if (events.length === 0) return;
    const payload = frames(events);
    for (const ws of this.ctx.getWebSockets(`job:${row.id}`)) {
      try {
        for (const frame of payload) ws.send(frame);
        if (end) ws.close(1000, "job finished");
      } catch {
        // a subscriber that went away is dropped by the runtime
      }
    }
    const hostEvents = events.filter((e) => e.event !== "end");
    if (hostEvents.length === 0) return;
    const hostPayload = frames(hostEvents);
    for (const ws of this.ctx.getWebSockets("host")) {
      try {
        for (const frame of hostPayload) ws.send(frame);
      } catch {
        // as above
      }
    }
  }

  private lastPos(): number {
    return this.sql.exec<{ p: number | null }>("SELECT MAX(pos) AS p FROM logs").one().p ?? 0;
  }

  /**
   * Something changed (a job queued, one ended, a cancel): offers work at once to the relay, to
   * connected agents, and to held long polls, whose answers are decided here, synchronously.
   */
  private wake(): void {
    this.startSshIfIdle();
    this.pushToAgents();
    for (const waiter of [...this.waiters]) {
      if (this.pollGenerations.get(waiter.agentId) !== waiter.generation) {
        waiter.settle(null); // superseded: the poll's own loop answers it
        continue;
      }
      const result = this.beat(waiter.agentId, waiter.runningJobId, false);
      if (result.job || result.newCancel) waiter.settle(result);
    }
  }

  /** Holds a long poll until wake() decides its answer (or superseded it: null), or `ms` pass (null). */
  private waitForWork(poll: Omit<Waiter, "settle">, ms: number): Promise<BeatResult | null> {
    return new Promise((resolve) => {
      const waiter: Waiter = {
        ...poll,
        settle: (result) => {
          clearTimeout(timer);
          this.waiters.delete(waiter);
          resolve(result);
        },
      };
      const timer = setTimeout(() => waiter.settle(null), ms);
      this.waiters.add(waiter);
    });
  }

  /** After a committed change: deliver history now, and keep the alarm armed for leases and retries. */
  private async afterWrite(): Promise<void> {
    await this.schedule.rearm();
    if (this.outbox.hasWork()) this.ctx.waitUntil(this.outbox.flush().then(() => this.schedule.rearm()));
  }

  /** Drops the oldest finished jobs beyond FINISHED_KEPT once D1 has them and their logs. */
  private prune(): void {
    if (this.logs.hasUnshipped()) return;
    const pending = this.outbox.pendingJobIds();
    const old = this.all(
      "SELECT * FROM jobs WHERE status IN ('succeeded', 'failed', 'cancelled') ORDER BY pos DESC LIMIT -1 OFFSET ?",
      FINISHED_KEPT,
    );
    for (const row of old) {
      if (pending.has(row.id)) continue;
      this.sql.exec("DELETE FROM jobs WHERE id = ?", row.id);
      this.logs.forget(row.id);
    }
  }

  private one(query: string, ...bindings: SqlStorageValue[]): JobRow | null {
    return this.sql.exec<JobRow>(query, ...bindings).toArray()[0] ?? null;
  }

  private all(query: string, ...bindings: SqlStorageValue[]): JobRow[] {
    return this.sql.exec<JobRow>(query, ...bindings).toArray();
  }
}
