import type { AppConfig } from "../config/apps";
import type { Env } from "../env";
import { commitPageUrl, describeError, githubFrom, retryAfterMs, type GitHub } from "../github/client";
import { iso, type Clock } from "../host/clock";
import type { Schedule } from "../host/schedule";
import type { JobSnapshot } from "../schemas/jobs";
import type { Rollout } from "../schemas/rollouts";
import { mapBounded } from "../util/bounded";
import { DeploymentLedger } from "./deployments";
import * as m from "./messages";
import { ToldLedger } from "./told";
import { isPermanent, SendError, sendGitHub, sendHook, type Outgoing } from "./senders";

/** Lanes delivered at once (a Durable Object has 6 simultaneous outgoing connections). */
const LANES_AT_ONCE = 4;
const FIRST_RETRY_MS = 1_000;
const MAX_RETRY_MS = 5 * 60_000;
/** A call GitHub or a receiver refuses for good (422, 404, ...) is given up after this many tries, so its lane moves on. */
const PERMANENT_TRIES = 5;

/** A job as the app's object hears of it. */
type ChangedJob = JobSnapshot & { rollout_id: string | null };

/** A job's snapshot to tell, with its app's name and its entry in apps.yaml (undefined: no longer there). */
export interface JobChange {
  job: ChangedJob;
  appName: string;
  app: AppConfig | undefined;
}

export interface NotificationsRoom {
  sql: SqlStorage;
  schedule: Schedule;
  clock: Clock;
  env: Env;
  /** A call that takes longer failed (a hanging GitHub or receiver must not hold its lane). */
  timeoutMs?: number;
}

export interface GitHubView {
  deployment_url: string | null;
  last_state: string | null;
  state: "off" | "pending" | "sent" | "retrying";
  error: string | null;
  /** A rollout's commit status: its context (`deploybot/<app>`) and the commit's page, where GitHub shows it. */
  context: string | null;
  commit_url: string | null;
}

/** The commit a rollout's status is on. */
export interface CommitRef {
  context: string;
  repo: string;
  sha: string;
}

type Row = {
  seq: number;
  lane: string;
  subject: string;
  body: string;
  attempts: number;
  next_at: number;
  error: string | null;
};

/**
 * The app's outbound messages: GitHub Deployments, their statuses and commit statuses, and the
 * `notify:` webhooks. It follows the outbox's discipline: each message is a row written in the same
 * transaction as the change it tells of, delivered in order per lane, removed only once accepted,
 * retried with backoff (GitHub's Retry-After and rate-limit reset first). Nothing here is awaited by
 * a deploy: a slow or absent GitHub delays only its own lane.
 */
export class Notifications {
  private readonly sql: SqlStorage;
  private readonly schedule: Schedule;
  private readonly clock: Clock;
  /** Public so a test can point a live object at a stand-in GitHub. */
  env: Env;
  private readonly timeoutMs: number;
  private running: Promise<void> | null = null;
  private again = false;
  private readonly failures = new Map<string, number>();
  /** The app's Deployments: the object adopts a `deployment` event's here, and asks whom a job reports to. */
  readonly deployments: DeploymentLedger;
  /** What was told of each job and rollout, so a snapshot that comes again tells nothing new. */
  private readonly told: ToldLedger;

  constructor({ sql, schedule, clock, env, timeoutMs = 15_000 }: NotificationsRoom) {
    this.sql = sql;
    this.deployments = new DeploymentLedger(sql);
    this.told = new ToldLedger(sql);
    this.schedule = schedule;
    this.clock = clock;
    this.env = env;
    this.timeoutMs = timeoutMs;
  }

  private get github(): GitHub | null {
    return githubFrom(this.env, { timeoutMs: this.timeoutMs });
  }

  /** Records what a job's transition tells GitHub and the app's URLs. Synchronous: call inside the change's transaction. */
  jobChanged(job: ChangedJob, appName: string, app: AppConfig | undefined, now: number): void {
    this.jobsChanged([{ job, appName, app }], now);
  }

  /**
   * jobChanged for many snapshots, in order (a wave's hundred answers): what was told of them is read
   * and written once for all (ToldLedger.record), not once a job. Synchronous.
   */
  jobsChanged(changes: JobChange[], now: number): void {
    const told = this.told.record(changes.map(({ job }) => ({ subject: job.id, version: job.version, status: job.status })));
    changes.forEach(({ job, appName, app }, i) => {
      if (told[i]!.news) this.tellJob(job, appName, app, told[i]!.previous as JobSnapshot["status"] | null, now);
    });
  }

  /** What a job's new status tells: its Deployment and statuses on GitHub, its events to the app's URLs. */
  private tellJob(job: ChangedJob, appName: string, app: AppConfig | undefined, previous: JobSnapshot["status"] | null, now: number): void {
    const github = app && this.github && !this.deployments.isExternal(job.rollout_id);
    if (github && !this.deployments.get(job.id)) {
      this.deployments.open(job.id, app.repo);
      this.enqueue(`github:${app.repo}`, job.id, { kind: "deployment", repo: app.repo, sha: job.sha, body: m.deploymentBody(job, appName, app) }, now);
    }
    const url = m.pageUrl(this.env.DEPLOYBOT_PUBLIC_URL, "jobs", job.id);
    for (const step of m.stepsSince(previous, job)) {
      if (github) {
        this.enqueue(`github:${app.repo}`, job.id, { kind: "status", repo: app.repo, body: m.statusBody(m.jobState(step.status), m.describeJob(step), url, app) }, now);
        if (step.status === "succeeded") this.replaced(this.deployments.wentLive(job.id, [job.host], step.finished_at ?? iso(now)), job.sha, now);
      }
      const event = m.jobEvent(step.status);
      if (event) this.hooks(event, appName, app, now, { job: step, url }, job.id);
    }
  }

  /** True when `status` is not the last one told for `subject` (rolloutChanged would tell it). */
  isNewStatus(subject: string, status: string): boolean {
    return this.told.status(subject) !== status;
  }

  /** Records what a rollout's transition tells GitHub (its commit status) and the app's URLs. Synchronous. */
  rolloutChanged(rollout: Rollout, app: AppConfig | undefined, now: number): void {
    if (!this.told.record([{ subject: rollout.id, status: rollout.status }])[0]!.news) return;
    const url = m.pageUrl(this.env.DEPLOYBOT_PUBLIC_URL, "rollouts", rollout.id);
    if (app && this.github) {
      const lane = `github:${app.repo}`;
      this.deployments.open(rollout.id, app.repo);
      const context = `deploybot/${rollout.app}`;
      this.enqueue(lane, rollout.id, { kind: "commit_status", repo: app.repo, sha: rollout.sha, body: { state: m.rolloutCommitState(rollout.status), context, description: m.describeRollout(rollout), ...(url ? { target_url: url } : {}) } }, now);
      if (this.deployments.isExternal(rollout.id)) {
        this.enqueue(lane, rollout.id, { kind: "status", repo: app.repo, body: m.statusBody(m.rolloutDeploymentState(rollout.status), m.describeRollout(rollout), url, app) }, now);
        if (rollout.status === "succeeded") this.replaced(this.deployments.wentLive(rollout.id, m.hostsOf(rollout), rollout.finished_at ?? iso(now)), rollout.sha, now);
      }
    }
    const event = m.rolloutEvent(rollout.status);
    if (event) this.hooks(event, rollout.app, app, now, { rollout, url }, rollout.id);
  }

  /** Queues a `test` event to each of the app's URLs; returns the delivery ids. */
  test(appName: string, app: AppConfig, now: number): string[] {
    return this.hooks("test", appName, app, now, {}, `test:${appName}`);
  }

  hasWork(): boolean {
    return this.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM notify_queue").one().n > 0;
  }

  /** Delivers every due row, in order per lane; concurrent callers share the run. Never throws. */
  flush(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      do {
        this.again = false;
        await this.pass();
      } while (this.again);
    })().finally(() => (this.running = null));
    return this.running;
  }

  /**
   * What GitHub knows of a job or rollout (with `commit`, the rollout's commit status), for the
   * views: the last state GitHub accepted and where to see it, or why nothing was sent.
   */
  githubOf(id: string, commit?: CommitRef): GitHubView {
    const row = this.deployments.get(id);
    const on = row !== undefined || this.github !== null;
    const where = { context: commit?.context ?? null, commit_url: commit && on ? commitPageUrl(this.env.GITHUB_API_URL, commit.repo, commit.sha) : null };
    // No record: off without credentials; with them, its first change is on its way (or predates the setting).
    if (!row) return { deployment_url: null, last_state: null, state: on ? "pending" : "off", error: null, ...where };
    const head = this.sql
      .exec<{ error: string | null }>("SELECT error FROM notify_queue WHERE subject = ? AND lane LIKE 'github:%' ORDER BY seq LIMIT 1", id)
      .toArray()[0];
    const state = head ? (head.error ? "retrying" : "pending") : "sent";
    return { deployment_url: row.deployment_url, last_state: row.last_state, state, error: head?.error ?? row.error, ...where };
  }

  private async pass(): Promise<void> {
    const now = this.clock.now();
    const lanes = this.sql
      .exec<{ lane: string }>("SELECT lane FROM notify_queue GROUP BY lane HAVING MIN(seq) IN (SELECT seq FROM notify_queue WHERE next_at <= ?)", now)
      .toArray()
      .map((r) => r.lane);
    await mapBounded(lanes, LANES_AT_ONCE, (lane) => this.drain(lane));
    const next = this.sql
      .exec<{ at: number | null }>("SELECT MIN(q.next_at) AS at FROM notify_queue q WHERE q.seq = (SELECT MIN(seq) FROM notify_queue WHERE lane = q.lane)")
      .one().at;
    if (next === null) this.schedule.clear("notify", "");
    else this.schedule.set("notify", "", Math.max(next, this.clock.now()));
  }

  /** Sends a lane's rows in order until it is empty or one fails. */
  private async drain(lane: string): Promise<void> {
    for (;;) {
      const row = this.sql.exec<Row>("SELECT * FROM notify_queue WHERE lane = ? ORDER BY seq LIMIT 1", lane).toArray()[0];
      if (!row || row.next_at > this.clock.now()) return;
      try {
        await this.send(row);
        this.failures.delete(lane);
      } catch (err) {
        this.failed(row, err);
        return;
      }
    }
  }

  /** Performs one row; on success records what GitHub answered and removes the row, in one synchronous block. */
  private async send(row: Row): Promise<void> {
    const item = JSON.parse(row.body) as Outgoing;
    if (item.kind === "hook") {
      await sendHook(this.env, item, this.timeoutMs);
      this.sql.exec("DELETE FROM notify_queue WHERE seq = ?", row.seq);
      return;
    }
    const github = this.github;
    if (!github) throw new SendError("GitHub credentials were removed", null);
    const known = this.deployments.get(row.subject);
    if (item.kind === "status" && item.body.state === "inactive" && !known?.deployment_id) {
      // Its Deployment was never made (given up): there is nothing on GitHub to mark.
      this.sql.exec("DELETE FROM notify_queue WHERE seq = ?", row.seq);
      return;
    }
    if (item.kind === "deployment") {
      // Idempotent: a Deployment created before a crash (or a lost answer) is found by its payload's job id.
      const found = known?.deployment_id
        ? { id: known.deployment_id, url: known.deployment_url ?? "" }
        : ((await github.findDeployment(item.repo, item.sha, item.body.environment, row.subject)) ?? (await github.createDeployment(item.repo, item.body)));
      this.deployments.created(row.subject, found.id, found.url);
    } else {
      await sendGitHub(github, item, known?.deployment_id ?? null);
      this.deployments.accepted(row.subject, item.body.state);
    }
    this.sql.exec("DELETE FROM notify_queue WHERE seq = ?", row.seq);
  }

  private failed(row: Row, err: unknown): void {
    const now = this.clock.now();
    const status = err instanceof SendError ? err.status : ((err as { status?: number }).status ?? null);
    const error = err instanceof SendError ? err.message : describeError(err);
    const attempts = row.attempts + 1;
    if (isPermanent(status) && attempts >= PERMANENT_TRIES) {
      // Kept nowhere else: say so loudly, and show it on the job's view.
      console.error(JSON.stringify({ level: "error", msg: "notification given up", lane: row.lane, subject: row.subject, error }));
      this.sql.exec("DELETE FROM notify_queue WHERE seq = ?", row.seq);
      this.deployments.failed(row.subject, `given up: ${error}`);
      this.again = true;
      return;
    }
    const failures = this.failures.get(row.lane) ?? 0;
    this.failures.set(row.lane, failures + 1);
    const hinted = err instanceof SendError ? err.retryAfterMs : retryAfterMs(err, now);
    const delay = hinted ?? Math.min(MAX_RETRY_MS, FIRST_RETRY_MS * 2 ** failures);
    this.sql.exec("UPDATE notify_queue SET attempts = ?, next_at = ?, error = ? WHERE seq = ?", attempts, now + delay, error, row.seq);
    if (failures === 0) console.warn(JSON.stringify({ level: "warn", msg: "notification failed; will retry", lane: row.lane, retry_in_ms: delay, error }));
  }

  private hooks(event: m.NotificationPayload["event"], appName: string, app: AppConfig | undefined, now: number, subject: { job?: JobSnapshot; rollout?: Rollout; url?: string }, key: string): string[] {
    return m.targetsFor(app, event).map((target) => {
      const id = crypto.randomUUID();
      const payload = m.notificationPayload(id, event, appName, now, subject);
      this.enqueue(`hook:${target.url}`, key, { kind: "hook", url: target.url, format: target.format, ...(target.secret ? { secret: target.secret } : {}), payload }, now);
      return id;
    });
  }

  private enqueue(lane: string, subject: string, item: Outgoing, now: number): void {
    this.sql.exec("INSERT INTO notify_queue (lane, subject, body, next_at) VALUES (?, ?, ?, ?)", lane, subject, JSON.stringify(item), now);
    // The alarm delivers even if the object is evicted before the flush that follows the commit.
    this.schedule.set("notify", "", now);
  }

  /**
   * Forgets what was told of these jobs and rollouts (they are gone from the object, and history
   * has them). Their Deployments stay: a job's page shows what GitHub was told.
   */
  forget(subjects: string[]): void {
    this.told.forget(subjects);
  }

  /**
   * `inactive` on each Deployment a newer release replaced on every host it was live on, in its
   * repository's lane after the newer one's `success`. DeployBot says it rather than GitHub's
   * `auto_inactive` (sent as false): GitHub's marks only non-production, non-transient environments,
   * and, for an app whose hosts share one `environment:`, would mark a host's Deployment inactive
   * when another host's succeeds, though it still runs there.
   */
  private replaced(subjects: string[], sha: string, now: number): void {
    for (const subject of subjects) {
      const row = this.deployments.get(subject)!;
      const url = m.pageUrl(this.env.DEPLOYBOT_PUBLIC_URL, row.external ? "rollouts" : "jobs", subject);
      this.enqueue(`github:${row.repo}`, subject, { kind: "status", repo: row.repo, body: m.statusBody("inactive", `replaced by ${sha.slice(0, 7)}`, url) }, now);
    }
  }
}
