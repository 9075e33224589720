import { DurableObject } from "cloudflare:workers";
import type { Env } from "../env";
import { iso, systemClock, type Clock } from "../host/clock";
import { buildRequest, renderedDeploy } from "../host/dispatch";
import { migrate } from "../host/migrations";
import { Outbox } from "../host/outbox";
import { Schedule } from "../host/schedule";
import { hostQueue } from "../host/stub";
import type { Job, JobSnapshot } from "../schemas/jobs";
import type { Rollout } from "../schemas/rollouts";
import { d1AppHistoryWriter, recordKey, type AppRecord } from "./history";
import { APP_STEPS } from "./migrations";
import { AppEffects, RolloutEngine, type NewRollout } from "./engine";
import { RolloutTable, specOf, type AppLock, type Release, type RolloutRow } from "./rollout-table";
import { mapBounded } from "../util/bounded";
import { GroupCommit } from "../util/group-commit";
import { StubCache } from "../util/stub-cache";
import { RolloutWatchers } from "./watchers";
import { Notifications, type GitHubView } from "../notify/notifications";
import type { AppConfig } from "../config/apps";
import { AppEntries } from "./entries";

/**
 * Calls to hosts at once, at most (a 5,000-host wave must not open 5,000 connections). A wave of up to
 * this many hosts goes out in one turn: each host answers once its job is durable, and those waits overlap
 * only for calls already made (at 50, a 100-host push cost about 0.17 ms more per host, measured locally).
 */
const HOST_CONCURRENCY = 128;
/**
 * The app's changes go to D1 together once none came for HISTORY_QUIET_MS, and at the latest
 * HISTORY_LATEST_MS after the first: a rollout's burst of reports is one write, not one per wave.
 * Locally, D1 runs on the thread that hands out the next wave (BENCHMARKS.md, "Rollout wave hand-over").
 */
const HISTORY_QUIET_MS = 50;
const HISTORY_LATEST_MS = 1_000;
/** Finished rollouts kept in the object (D1 keeps all of them): the newest, as a host keeps its newest 500 jobs. */
export const FINISHED_ROLLOUTS_KEPT = 200;
/** Rollouts forgotten per alarm at most, so one alarm's transaction stays short. */
const FORGET_PER_ALARM = 50;

export type RolloutAction = { outcome: "ok"; rollout: Rollout } | { outcome: "not_found" } | { outcome: "conflict"; rollout: Rollout };

/** What runs where for one app, and what is on its way. */
export interface AppOverview {
  releases: Release[];
  /** Rollouts running, paused or held, oldest first. */
  active: Rollout[];
  lock: AppLock | null;
}

/**
 * One object per app (`idFromName(app)`): the app's rollouts, its lock and what runs on each host.
 * It drives the hosts' queues (enqueue, cancel) and never runs anything itself; hosts tell it of
 * every job of the app through their outboxes. Each change is a unit of work: a transaction, then
 * its effects (jobs queued or cancelled on hosts, watchers told), then the alarm and the outbox.
 * One object per app rather than per rollout: superseding, queueing in order and locks are all
 * decisions about an app's rollouts together, and the input gate makes them atomic.
 */
export class AppState extends DurableObject<Env> {
  /** Every time read and timer of the object. Tests put a FakeClock here. */
  clock: Clock = systemClock;
  /** How many finished rollouts the object keeps (tests lower it). */
  finishedKept = FINISHED_ROLLOUTS_KEPT;
  /** Rollouts' and jobs' snapshots on their way to D1. */
  readonly outbox: Outbox<AppRecord>;
  private readonly schedule: Schedule;
  private readonly table: RolloutTable;
  private readonly engine: RolloutEngine;
  /** GitHub Deployments and statuses, and the app's notify: URLs (public so a test can point it at a stand-in). */
  readonly notifications: Notifications;
  /** The unit of work last started: the next one starts when it has ended (see commit). */
  private lastUnit: Promise<unknown> = Promise.resolve();
  /** apps.yaml's entries that notifications are told with. */
  private readonly entries: AppEntries;
  /** The app's hosts' objects, one stub each for as long as this object lives (see StubCache). */
  private readonly hosts = new StubCache((host) => hostQueue(this.env, host));
  /** The rollouts' WebSocket watchers (the Worker's SSE streams). */
  private readonly watchers = new RolloutWatchers(this.ctx);
  /**
   * Hosts' deliveries on their way into a unit of work: a burst of them costs one transaction, not one
   * each. `gather`: the hosts of a wave end together, and their deliveries reach this object a moment
   * apart. Run at once, the first took a unit of its own, and each next one came in only after that
   * unit's write was durable: one unit and one write per host, one after the other, before the last
   * host's answer could start the next wave. One timer turn lets those already waiting join the first.
   */
  private readonly deliveries = new GroupCommit<JobSnapshot>(async (snapshots) => {
    // Read before the unit of work: it is synchronous, and D1 is outside this object. (One object per app: one app.)
    const lone = snapshots.find((job) => job.rollout_id === null);
    const current = lone ? await this.entries.current(lone.app) : undefined;
    await this.commit((fx, now) => {
      this.engine.jobsChanged(fx, snapshots, now);
      this.heard(snapshots, current, now);
    });
  }, { gather: true });

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    const sql = ctx.storage.sql;
    migrate(ctx.storage, APP_STEPS);
    const time: Clock = { now: () => this.clock.now(), timer: (ms, fire) => this.clock.timer(ms, fire) };
    this.schedule = new Schedule(sql, ctx.storage);
    this.table = new RolloutTable(sql);
    this.entries = new AppEntries(this.table, env.DB);
    this.engine = new RolloutEngine(this.table, this.schedule);
    // D1 is history (this object answers for its rollouts, the hosts for their jobs): a wave's changes
    // gather until the app is quiet (HISTORY_QUIET_MS) and go as one batch, not a D1 write and a rollout snapshot each.
    const current = (id: string) => {
      const row = this.table.get(id);
      return row ? { ...this.table.toRollout(row), version: row.version } : null;
    };
    this.outbox = new Outbox<AppRecord>(sql, this.schedule, time, recordKey, [d1AppHistoryWriter(env.DB, current)], null, () => false);
    this.notifications = new Notifications({ sql, schedule: this.schedule, clock: time, env });
  }

  /** Starts (or holds) a rollout; answers once its first wave's jobs are queued, with those jobs. */
  async create(input: NewRollout): Promise<{ rollout: Rollout; jobs: Job[] }> {
    const { result: row, jobs } = await this.commit((fx, now) => {
      const row = this.engine.create(fx, input, now);
      // A `deployment` event's rollout posts its statuses on that Deployment (before its first change is told).
      if (input.github && row.id === input.id) this.notifications.deployments.adopt(row.id, input.spec.app.repo, input.github.deployment_id, input.github.url);
      return row;
    });
    const ours = new Set(this.table.hosts(row.id).map((h) => h.job_id));
    return { rollout: this.rollout(row.id)!, jobs: jobs.filter((job) => ours.has(job.id)) };
  }

  /**
   * Hosts' job transitions of this app (at least once, in order per job). Deliveries that arrive
   * while one is being handled are handled together next, as one unit of work (see GroupCommit);
   * each answers once the unit that took it has committed.
   */
  jobsChanged(snapshots: JobSnapshot[]): Promise<void> {
    return this.deliveries.add(snapshots);
  }

  /** What GitHub was told of a job or rollout of this app (the job and rollout views show it); a rollout's is its commit status. */
  githubOf(id: string): GitHubView {
    const row = this.table.get(id);
    if (row) return this.notifications.githubOf(id, { context: `deploybot/${row.app}`, repo: specOf(row).app.repo, sha: row.sha });
    // A job of a `deployment` event's rollout makes no Deployment of its own: it reports on that one.
    const rolloutId = this.table.hostsOfJob(id, null, "")[0]?.rollout_id;
    return this.notifications.githubOf(rolloutId && this.notifications.deployments.isExternal(rolloutId) ? rolloutId : id);
  }

  /** `ctl notify test`: a test event to each of the app's notify URLs; their delivery ids. */
  async notifyTest(appName: string, app: AppConfig): Promise<string[]> {
    const ids = this.ctx.storage.transactionSync(() => this.notifications.test(appName, app, this.clock.now()));
    await this.schedule.rearm();
    this.ctx.waitUntil(this.notifications.flush().then(() => this.schedule.rearm()));
    return ids;
  }

  get(id: string): Rollout | null {
    return this.rollout(id);
  }

  overview(): AppOverview {
    const active = this.table.withStatus("running", "paused", "held").map((row) => this.table.toRollout(row));
    return { releases: this.table.releases(), active, lock: this.table.lock() };
  }

  pause(id: string): Promise<RolloutAction> {
    return this.act(id, (fx, row) => this.engine.pause(fx, row));
  }

  resume(id: string): Promise<RolloutAction> {
    return this.act(id, (fx, row, now) => this.engine.resume(fx, row, now));
  }

  cancel(id: string): Promise<RolloutAction> {
    return this.act(id, (fx, row, now) => this.engine.cancel(fx, row, now));
  }

  /** Locks the app: its new rollouts are held until unlock. Locking again replaces the reason. */
  async lock(reason: string, lockedBy: string): Promise<AppLock> {
    await this.commit((_fx, now) => this.table.setLock({ reason, locked_by: lockedBy, locked_at: iso(now) }));
    return this.table.lock()!;
  }

  /** Unlocks: the newest held rollout starts, older held ones are superseded. Returns the lock that was. */
  async unlock(): Promise<AppLock | null> {
    const was = this.table.lock();
    await this.commit(() => this.table.setLock(null));
    return was;
  }

  /** Watchers of one rollout (`rollout_id`): a WebSocket the Worker turns into SSE `rollout` events, ending with `end`. */
  override async fetch(request: Request): Promise<Response> {
    if (request.headers.get("upgrade") !== "websocket") return new Response("expected a WebSocket", { status: 426 });
    const id = new URL(request.url).searchParams.get("rollout_id") ?? "";
    const rollout = this.rollout(id);
    if (!rollout) return new Response("no such rollout", { status: 404 });
    return this.watchers.watch(rollout);
  }

  override async alarm(): Promise<void> {
    this.schedule.alarmFired();
    await this.commit((fx, now) => this.engine.due(fx, now));
    await this.outbox.alarm();
    if (this.notifications.hasWork()) await this.notifications.flush();
    this.ctx.storage.transactionSync(() => this.forgetOldRollouts());
    await this.schedule.rearm();
  }

  /**
   * Keeps the object's storage bounded: finished rollouts past the newest `finishedKept` are
   * deleted once D1 has them (none with a record still in the outbox), with what notifications
   * remembered of them. The API then answers for them from D1.
   */
  private forgetOldRollouts(): void {
    const pending = this.outbox.pendingJobIds();
    for (const row of this.table.finishedBeyond(this.finishedKept, FORGET_PER_ALARM)) {
      if (pending.has(recordKey({ rollout: row.id }))) continue;
      const jobs = this.table.forget(row.id);
      this.notifications.forget([row.id, ...jobs]);
    }
  }

  private async act(id: string, step: (fx: AppEffects, row: RolloutRow, now: number) => boolean): Promise<RolloutAction> {
    const { result } = await this.commit((fx, now) => {
      const row = this.table.get(id);
      return row ? step(fx, row, now) : null;
    });
    const rollout = this.rollout(id);
    if (result === null || !rollout) return { outcome: "not_found" };
    return result ? { outcome: "ok", rollout } : { outcome: "conflict", rollout };
  }

  /**
   * One unit of work: `work` and the engine's promotion of held rollouts in one transaction, each
   * changed rollout's snapshot into the outbox with it; then the effects, which may lead to more
   * units (a host's answer recorded); then the alarm re-armed and history flushed.
   *
   * Units run one at a time, in order. A unit that dispatches a wave waits for its hosts' answers;
   * the hosts' deliveries that come meanwhile (the wave's jobs queued, handed out) wait for it and
   * then go in together as one unit, instead of a unit each in between the dispatch's calls.
   */
  private commit<T>(work: (fx: AppEffects, now: number) => T): Promise<{ result: T; jobs: Job[] }> {
    const unit = this.lastUnit.then(async () => {
      const fx = new AppEffects();
      const result = this.apply(fx, work);
      const jobs = await this.perform(fx);
      await this.schedule.rearm();
      if (this.outbox.hasWork()) this.ctx.waitUntil(this.outbox.flushSoon(HISTORY_QUIET_MS, HISTORY_LATEST_MS).then(() => this.schedule.rearm()));
      if (this.notifications.hasWork()) this.ctx.waitUntil(this.notifications.flush().then(() => this.schedule.rearm()));
      return { result, jobs };
    });
    this.lastUnit = unit.catch(() => undefined);
    return unit;
  }

  private apply<T>(fx: AppEffects, work: (fx: AppEffects, now: number) => T): T {
    const now = this.clock.now();
    return this.ctx.storage.transactionSync(() => {
      const result = work(fx, now);
      this.engine.promote(fx, now);
      for (const id of fx.changed) {
        this.table.bump(id);
        this.outbox.add({ rollout: id }, now);
        // The whole rollout is read only for a change its notifications tell (a new status).
        const row = this.table.get(id)!;
        if (this.notifications.isNewStatus(id, row.status)) this.notifications.rolloutChanged(this.table.toRollout(row), this.entries.ofRollout(id), now);
      }
      this.outbox.recordConfirmations();
      return result;
    });
  }

  /** Performs recorded effects: watchers told, jobs cancelled, waves dispatched, hosts rolled back. Returns the jobs queued. */
  private async perform(fx: AppEffects): Promise<Job[]> {
    for (const id of fx.changed) this.watchers.changed(id, () => this.rollout(id)!);
    const queued: Job[] = [];
    const dispatched = new Set<string>();
    for (const { rolloutId, wave } of fx.dispatches) {
      const row = this.table.get(rolloutId);
      if (!row) continue;
      const spec = specOf(row);
      const hosts = this.table.hosts(rolloutId, wave).filter((h) => h.job_id === null && h.state === "pending");
      for (const h of hosts) dispatched.add(h.host);
      const push = { appName: row.app, ref: row.ref, sha: row.sha, trigger: triggerOf(row), deliveryId: `rollout:${row.id}`, rolloutId: row.id };
      const deploy = renderedDeploy(spec, push);
      // The hosts answer with each job's snapshot and do not deliver that one to this object again.
      const results = await mapBounded(hosts, HOST_CONCURRENCY, (h) => this.hosts.call(h.host, (queue) => queue.enqueue(buildRequest(spec, { ...push, host: h.host }, deploy), true)));
      queued.push(...results.map((r) => r.job));
      const snapshots = results.map((r) => r.snapshot);
      // The app's older queued jobs the hosts replaced with these (cancelled now); one outside any rollout is told with apps.yaml's entry.
      const replaced = results.flatMap((r) => r.superseded);
      const current = replaced.some((job) => job.rollout_id === null) ? await this.entries.current(row.app) : undefined;
      const next = new AppEffects();
      this.apply(next, (fx, now) => {
        this.engine.recordJobs(fx, rolloutId, snapshots, now);
        this.engine.jobsChanged(fx, replaced, now);
        this.heard([...replaced, ...snapshots], current, now);
      });
      queued.push(...(await this.perform(next)));
    }
    for (const { rolloutId, host } of fx.rollbacks) {
      const row = this.table.get(rolloutId);
      const target = row && this.table.hosts(rolloutId).find((h) => h.host === host);
      if (!row || !target?.previous) continue;
      const previous = JSON.parse(target.previous) as Release;
      const request = { appName: row.app, host, ref: previous.ref, sha: previous.sha, trigger: "rollback" as const, deliveryId: `rollback:${row.id}`, rolloutId: row.id };
      const { job } = await this.hosts.call(host, (queue) => queue.enqueue(buildRequest(specOf(row), request)));
      this.apply(new AppEffects(), () => this.table.setHost(rolloutId, host, { rollback_job_id: job.id }));
    }
    // Cancels last, and nobody waits for them: they are for jobs of a rollout that stopped, and a
    // new rollout's jobs must not queue behind them. A host that just queued a newer job of the app
    // has cancelled the older queued one itself (Queue.enqueue), so it is not asked again. A cancel
    // that cannot be delivered leaves a job that its host's own supersede or its lease ends.
    const cancels = fx.cancels.filter(({ host }) => !dispatched.has(host));
    if (cancels.length) {
      this.ctx.waitUntil(mapBounded(cancels, HOST_CONCURRENCY, async ({ host, jobId, reason }) => void (await this.hosts.call(host, (queue) => queue.cancelQueued(jobId, reason)))).catch(() => undefined));
    }
    return queued;
  }

  /**
   * Jobs' snapshots this object has heard of, from their hosts' outboxes or a dispatch's answers:
   * each is told (GitHub, notify: URLs) and goes on to D1 with the app's history. `current`: the
   * app's entry in the running apps.yaml, for a job outside any rollout. Inside a unit of work.
   */
  private heard(snapshots: JobSnapshot[], current: AppConfig | undefined, now: number): void {
    this.notifications.jobsChanged(snapshots.map((job) => ({ job, appName: job.app, app: job.rollout_id === null ? current : this.entries.ofRollout(job.rollout_id) })), now);
    this.outbox.addAll(snapshots.map((job) => ({ job })), now);
  }

  private rollout(id: string): Rollout | null {
    const row = this.table.get(id);
    return row ? this.table.toRollout(row) : null;
  }
}

/** The trigger a rollout's jobs carry. */
function triggerOf(row: RolloutRow): "webhook" | "api" | "rollback" | "github_deployment" {
  return row.trigger === "webhook" || row.trigger === "rollback" || row.trigger === "github_deployment" ? row.trigger : "api";
}
