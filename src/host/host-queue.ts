import { DurableObject } from "cloudflare:workers";
import type { Env } from "../env";
import type { Job, JobSnapshot } from "../schemas/jobs";
import { relayClient } from "../ssh/relay";
import { systemClock, type Clock } from "./clock";
import type * as C from "./contract";
import { Counters } from "./counters";
import { Effects } from "./effects";
import { close, Fanout, revokedResponse } from "./fanout";
import { appFollower, d1LogWriter } from "./history";
import { JobTable, sshJobOf, toJob } from "./job-table";
import { Lease } from "./lease";
import { LogStore, type IncomingLine, type LogLine } from "./logs";
import { HOST_STEPS, migrate } from "./migrations";
import { Outbox } from "./outbox";
import { Presence } from "./presence";
import { Queue, type Assignment } from "./queue";
import { Reports } from "./reports";
import { Schedule } from "./schedule";
import { cancelOnRelay, RELAY_AGENT, runSshJob } from "./ssh-runner";

/** Lines a new host-wide subscriber gets from before it connected. */
const HOST_STREAM_BACKLOG = 500;
/** How long a job's progress ("running") may wait to go to its app with the next change (Outbox.flushSoon). */
const LAZY_DELIVERY_MS = 250;
/**
 * How long a job's log lines wait to go to D1 together: LOG_SHIP_MS, plus up to LOG_SHIP_SPREAD_MS at
 * random. D1 is their history: the object serves its jobs' lines itself (streams, GET) until it
 * forgets a job, long after. Every host ships its own, so D1's writes for logs grow with hosts x 1/this;
 * the spread keeps a wave's hosts from writing all at once, a burst that D1 (one database) takes one
 * write at a time. Locally each write is also work on the thread that hands out the next wave
 * (BENCHMARKS.md, "Rollout wave hand-over").
 */
const LOG_SHIP_MS = 1_000;
const LOG_SHIP_SPREAD_MS = 2_000;
/** A wake that keeps causing wakes (a lost job ending, which frees the host) settles within this many passes. */
const MAX_WAKE_PASSES = 8;

/**
 * One object per host (`idFromName(host)`): wiring over the host's rooms. The job table, the
 * lease state machine (lease.ts), the queue discipline (queue.ts), holders' reports (reports.ts),
 * presence and long polls (presence.ts), sockets (fanout.ts), the outbox to D1 and the timers.
 * Every change is a unit of work run by commit(): one synchronous transaction, so the input gate
 * makes it atomic (no two callers take the same job; at most one job runs per host), then the
 * effects it recorded, performed once.
 */
export class HostQueue extends DurableObject<Env> {
  /** Every time read and timer of the object and its rooms. Tests put a FakeClock here (runInDurableObject). */
  clock: Clock = systemClock;
  readonly outbox: Outbox<JobSnapshot>;
  private readonly schedule: Schedule;
  private readonly logs: LogStore;
  private readonly jobs: JobTable;
  private readonly lease: Lease;
  private readonly queue: Queue;
  private readonly reports: Reports;
  private readonly presence: Presence<Assignment>;
  private readonly fanout: Fanout;
  private readonly counters: Counters;
  private waking = false;
  private wakeAgain = false;
  /** A wake asked the relay too (see Effects.wake), not yet offered it. */
  private wakeRelay = false;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    const sql = ctx.storage.sql;
    migrate(ctx.storage, HOST_STEPS);
    // The rooms see the clock through this, so a clock swapped in later reaches all of them.
    const time: Clock = { now: () => this.clock.now(), timer: (ms, fire) => this.clock.timer(ms, fire) };
    this.schedule = new Schedule(sql, ctx.storage);
    this.logs = new LogStore(sql, time);
    // A job handed out is told to its app a moment later, with whatever its agent says next: only
    // the ends of jobs (and new ones) move rollouts, and a fast job's "running" need never be sent.
    const urgent = (job: JobSnapshot) => job.status !== "running";
    this.outbox = new Outbox<JobSnapshot>(sql, this.schedule, time, (job) => job.id, [appFollower(env)], { store: this.logs, sink: d1LogWriter(env.DB), everyMs: LOG_SHIP_MS, spreadMs: LOG_SHIP_SPREAD_MS }, urgent);
    this.counters = new Counters(sql);
    this.jobs = new JobTable(sql, this.outbox);
    const room = { jobs: this.jobs, logs: this.logs, schedule: this.schedule, outbox: this.outbox, counters: this.counters };
    this.lease = new Lease(room);
    this.queue = new Queue(room, this.lease);
    this.presence = new Presence(sql, this.counters, time);
    this.reports = new Reports(room, this.lease, (agentId) => this.presence.isRevoked(agentId));
    this.fanout = new Fanout(ctx);
  }

  /**
   * Queues a job (see Queue.enqueue): the same deploy again answers the existing job. `byApp`: the
   * caller is the job's app object (the outbox's one sink), and it takes the answer's snapshots (the
   * job's, and those of the queued jobs it replaced) as their delivery, so they are not sent to it a
   * second time. If the answer is lost, the app asks again, and a repeat answers them all again.
   */
  enqueue(request: C.EnqueueRequest, byApp = false): Promise<C.EnqueueResult> {
    return this.commit((fx, now) => {
      if (!byApp) return this.queue.enqueue(fx, request, now);
      // Every snapshot a new job's enqueue makes is in its answer; a repeat's answer carries snapshots made earlier.
      const result = this.outbox.answer(() => this.queue.enqueue(fx, request, now));
      if (!result.created) for (const { id } of [result.snapshot, ...result.superseded]) this.outbox.delivered(id);
      return result;
    });
  }

  /**
   * An agent's heartbeat: records it, renews the lease of the job the agent runs, and hands out
   * the oldest queued job when nothing runs. With `waitMs`, holds the call until there is a job
   * or a cancel for this agent, or time runs out.
   */
  async heartbeat(agentId: string, { runningJobId = null, waitMs = 0 }: C.HeartbeatOptions = {}): Promise<C.HeartbeatResult> {
    if (this.presence.isRevoked(agentId)) return { job: null, cancel: [], revoked: true };
    const deadline = this.clock.now() + waitMs;
    // A newer heartbeat of the same agent supersedes a poll still held here: the agent gave up on it
    // (timeout, restart), and what it said ("I run nothing") is no longer true. It must not act.
    const generation = this.presence.newPoll(agentId);
    const running = runningJobId ?? null;
    // The beats are applied without settling in between, so no await separates a beat from holding
    // the poll; the one settle() at the end arms the alarm and flushes history for all of them.
    let result = this.apply((fx, now) => this.beat(fx, agentId, running, true, now));
    while (result.job === null && !result.newCancel && this.clock.now() < deadline) {
      // Woken by wake() with this poll's answer already decided (in the same output-gate flush as
      // the change that woke it, so the answer leaves as soon as that change is durable), or by time.
      const decided = await this.presence.wait({ agentId, runningJobId: running, generation }, deadline - this.clock.now());
      if (this.presence.isRevoked(agentId)) return { job: null, cancel: [], revoked: true };
      if (!this.presence.isCurrent(agentId, generation)) return { job: null, cancel: [] };
      result = decided ?? this.apply((fx, now) => this.beat(fx, agentId, running, false, now));
    }
    await this.settle();
    return { job: result.job, cancel: result.cancel };
  }

  /** The agent hung up on its held poll: nobody would receive an answer, so it gets none. */
  abandonPolls(agentId: string): void {
    this.presence.abandon(agentId);
  }

  /** An agent registered again in place of `agentId` (its restart): its running jobs fail now. */
  agentRestarted(agentId: string): Promise<string[]> {
    return this.commit((fx, now) => this.retire(fx, agentId, "agent_restarted", now));
  }

  /**
   * Revokes an agent on this host: every call it makes here is refused from now on, its held polls
   * end, its push channel closes, and its jobs end at once, failed with `agent_revoked` (cancelled
   * if a cancel was pending): nothing it reports can be trusted, and nothing waits for its lease.
   */
  async revokeAgent(agentId: string): Promise<C.RevokeResult> {
    const failed = await this.commit((fx, now) => {
      this.presence.revoke(agentId, now);
      return this.retire(fx, agentId, "agent_revoked", now);
    });
    this.presence.abandon(agentId);
    this.fanout.closeAgent(agentId);
    return { failed };
  }

  report(agentId: string, jobId: string, report: C.StatusReport): Promise<C.ReportResult> {
    return this.commit((fx, now) => this.reports.report(fx, agentId, jobId, report, now));
  }

  appendLogs(agentId: string, jobId: string, lines: IncomingLine[], attempt?: number): Promise<C.ReportResult> {
    return this.commit((fx, now) => this.reports.appendLogs(fx, agentId, jobId, lines, attempt, now));
  }

  cancel(jobId: string, reason = "cancelled by user"): Promise<C.CancelResult> {
    return this.commit((fx, now) => this.queue.cancel(fx, jobId, reason, now));
  }

  /** Cancels a job if it is still queued (see Queue.cancelQueued). */
  cancelQueued(jobId: string, reason: string): Promise<boolean> {
    return this.commit((fx, now) => this.queue.cancelQueued(fx, jobId, reason, now));
  }

  /** apps.yaml changed: queued jobs of apps that no longer deploy here are cancelled with `reason`. */
  dropQueuedExcept(keepApps: string[], reason: string): Promise<string[]> {
    return this.commit((fx, now) => this.queue.dropQueuedExcept(fx, keepApps, reason, now));
  }

  getJob(jobId: string): Job | null {
    const row = this.jobs.get(jobId);
    return row ? toJob(row) : null;
  }

  /** Queued jobs in the order they will run. */
  queued(): Job[] {
    return this.jobs.queued().map(toJob);
  }

  /** Stored log lines of a job after `afterPos`. */
  jobLogs(jobId: string, afterPos = 0, limit = 1000): LogLine[] {
    return this.logs.read(jobId, afterPos, limit);
  }

  state(): C.HostState {
    return { queued: this.jobs.countQueued(), running_job_id: this.jobs.running()?.id ?? null, ...this.presence.latest() };
  }

  metrics(): C.HostMetrics {
    return { queued: this.jobs.countQueued(), heartbeats: this.presence.heartbeatsTotal(), agents_online: this.presence.onlineCount(), ...this.counters.dispatch() };
  }

  /**
   * WebSockets: `/agent?agent_id=` is an agent's push channel; anything else subscribes to a job's
   * log (`job_id`, `after`) or the host's. History and registration happen in one synchronous
   * block, so a subscriber sees every line once: no gap, no duplicate.
   */
  override async fetch(request: Request): Promise<Response> {
    if (request.headers.get("upgrade") !== "websocket") return new Response("expected a WebSocket", { status: 426 });
    const url = new URL(request.url);
    if (url.pathname === "/agent") {
      const agentId = url.searchParams.get("agent_id") ?? "";
      if (!agentId) return new Response("agent_id required", { status: 400 });
      return this.presence.isRevoked(agentId) ? revokedResponse() : this.fanout.connectAgent(agentId);
    }
    const jobId = url.searchParams.get("job_id");
    const after = Number(url.searchParams.get("after") ?? "0") || 0;
    const row = jobId ? this.jobs.get(jobId) : null;
    if (jobId && !row) return new Response("no such job", { status: 404 });
    // A job's stream replays all of its history; a host's, the newest HOST_STREAM_BACKLOG lines.
    const lines: LogLine[] = [];
    const start = jobId ? after : after || Math.max(0, this.logs.lastPos() - HOST_STREAM_BACKLOG);
    for (let page = this.logs.read(jobId, start, 1000); page.length; page = this.logs.read(jobId, page.at(-1)!.pos, 1000)) lines.push(...page);
    return this.fanout.subscribe(jobId, row ? toJob(row) : null, lines);
  }

  /** An agent's message on its push channel: `{"type": "heartbeat", "running_job_id"}`. */
  override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    const beat = this.fanout.readHeartbeat(ws, message);
    if (!beat) return;
    if (this.presence.isRevoked(beat.agentId)) return close(ws, 4401, "agent revoked");
    const result = this.apply((fx, now) => this.beat(fx, beat.agentId, beat.runningJobId, true, now));
    this.fanout.tell(ws, { type: "heartbeat", job: result.job, cancel: result.cancel });
    await this.settle();
  }

  override async webSocketClose(ws: WebSocket, code: number): Promise<void> {
    close(ws, code === 1005 ? 1000 : code, "bye");
  }

  override async alarm(): Promise<void> {
    this.schedule.alarmFired();
    this.apply((fx, now) => this.lease.expireDue(fx, now));
    await this.outbox.alarm();
    this.queue.prune();
    await this.schedule.rearm();
  }

  /** One unit of work: applied (transaction, then its effects), then the alarm re-armed and history flushed. */
  private async commit<T>(work: (fx: Effects, now: number) => T): Promise<T> {
    const result = this.apply(work);
    await this.settle();
    return result;
  }

  /**
   * Runs `work` in one transaction, then performs what it recorded: stream events (once per job),
   * the relay told of cancels, and a wake. Synchronous, so a wake's answers to held polls leave in
   * the same output-gate flush as the change that caused them.
   */
  private apply<T>(work: (fx: Effects, now: number) => T): T {
    const fx = new Effects();
    const now = this.clock.now();
    const result = this.ctx.storage.transactionSync(() => {
      const result = work(fx, now);
      this.outbox.recordConfirmations();
      return result;
    });
    this.fanout.publish(fx);
    for (const jobId of fx.relayCancels) this.ctx.waitUntil(cancelOnRelay(relayClient(this.env), jobId));
    if (fx.wakeNeeded) this.wake(fx.relayWake);
    return result;
  }

  /** After a unit of work: keep the alarm armed for leases and retries, and deliver history now. */
  private async settle(): Promise<void> {
    await this.schedule.rearm();
    if (this.outbox.hasWork()) this.ctx.waitUntil(this.outbox.flushSoon(LAZY_DELIVERY_MS).then(() => this.schedule.rearm()));
  }

  /** One heartbeat of `agentId`, inside a unit of work. `count`: a call by the agent, not one the object makes for it. */
  private beat(fx: Effects, agentId: string, runningJobId: string | null, count: boolean, now: number): Assignment {
    this.presence.record(agentId, now, count);
    return this.queue.assign(fx, agentId, runningJobId, now);
  }

  private retire(fx: Effects, agentId: string, error: string, now: number): string[] {
    const ended = this.lease.retireAgent(fx, agentId, error, now);
    this.presence.forget(agentId);
    return ended;
  }

  /**
   * Something changed (a job queued, one ended, a cancel): offers work at once to the relay, to
   * connected agents and to held long polls, whose answers are decided here, synchronously. A wake
   * asked for while one runs makes it go round again rather than nest.
   */
  private wake(relay: boolean): void {
    this.wakeRelay ||= relay;
    if (this.waking) {
      this.wakeAgain = true;
      return;
    }
    this.waking = true;
    try {
      for (let pass = 0; pass === 0 || (this.wakeAgain && pass < MAX_WAKE_PASSES); pass++) {
        this.wakeAgain = false;
        const offerRelay = this.wakeRelay;
        this.wakeRelay = false;
        this.offerWork(offerRelay);
      }
    } finally {
      this.waking = false;
      this.wakeRelay = false;
    }
  }

  private offerWork(relay: boolean): void {
    if (relay) this.startRelayJob();
    for (const { ws, agentId } of this.fanout.agents()) {
      if (this.presence.isRevoked(agentId)) continue;
      // Unasked, the object speaks for the agent: it runs what the object says it holds.
      const result = this.apply((fx, now) => this.beat(fx, agentId, this.jobs.runningOf(agentId)[0]?.id ?? null, false, now));
      // A dead socket: the job it was given is never confirmed and is queued again (Lease.agentLostJob).
      if (result.job) this.fanout.tell(ws, { type: "job", job: result.job });
      else if (result.newCancel) this.fanout.tell(ws, { type: "cancel", cancel: result.cancel });
    }
    for (const waiter of this.presence.held()) {
      if (!this.presence.isCurrent(waiter.agentId, waiter.generation) || this.presence.isRevoked(waiter.agentId)) {
        waiter.settle(null); // superseded or revoked: the poll's own loop answers it
        continue;
      }
      const result = this.apply((fx, now) => this.beat(fx, waiter.agentId, waiter.runningJobId, false, now));
      if (result.job || result.newCancel) waiter.settle(result);
    }
  }

  /** Ssh hosts have no agent: when nothing runs, the object hands the oldest ssh-mode job to the relay itself. */
  private startRelayJob(): void {
    if (!this.queue.relayHasWork()) return; // an agent host's wake opens no transaction for the relay
    const row = this.apply((fx, now) => this.queue.nextForRelay(fx, RELAY_AGENT, now));
    if (!row) return;
    const { id, attempt } = row;
    const hooks = {
      logs: async (lines: IncomingLine[]) => void (await this.appendLogs(RELAY_AGENT, id, lines, attempt)),
      renew: () => this.commit((_fx, now) => this.reports.renew(RELAY_AGENT, id, attempt, now)),
      done: async (status: "succeeded" | "failed", error: string | null) => void (await this.report(RELAY_AGENT, id, { status, error, attempt })),
      lost: (reason: string, retry: boolean) => this.commit((fx, now) => this.reports.relayLost(fx, id, attempt, reason, retry, now)),
    };
    this.ctx.waitUntil(runSshJob(relayClient(this.env), sshJobOf(row), hooks, this.clock).then(() => this.settle()));
  }
}
