import { iso } from "../host/clock";
import type { AppSpec } from "../host/dispatch";
import type { Schedule } from "../host/schedule";
import type { JobSnapshot } from "../schemas/jobs";
import type { RolloutStatus, Strategy } from "../schemas/rollouts";
import { planWaves } from "./plan";
import { FINAL_HOST_STATES, specOf, strategyOf, type HostRow, type RolloutRow, type RolloutTable } from "./rollout-table";

/** What a unit of work on an app's rollouts did beyond its SQL; the object performs it after commit. */
export class AppEffects {
  /** Rollouts whose snapshot changed: to D1 (outbox) and to watchers. */
  readonly changed = new Set<string>();
  /** Waves whose hosts get their jobs now. */
  readonly dispatches: Array<{ rolloutId: string; wave: number }> = [];
  /** Hosts sent back to their previous release (`on_failure: rollback`). */
  readonly rollbacks: Array<{ rolloutId: string; host: string }> = [];
  /** Queued jobs to cancel on their hosts (only while still queued there: a job that started runs on). */
  readonly cancels: Array<{ host: string; jobId: string; reason: string }> = [];
}

export interface NewRollout {
  id: string;
  app: string;
  ref: string;
  sha: string;
  trigger: string;
  delivery_id: string | null;
  hosts: string[];
  strategy: Strategy;
  /** The app's apps.yaml entries; its `supersede` says whether a newer rollout cancels an unfinished one. */
  spec: AppSpec;
  /** The GitHub Deployment a `deployment` event asked for: the rollout reports to it. */
  github?: { deployment_id: number; url: string | null } | undefined;
}

const ACTIVE: RolloutStatus[] = ["running", "paused"];
/** A wave's jobs not recorded by then (the object died between its commit and the hosts' answers) are asked for again. */
export const REDISPATCH_MS = 10_000;

/**
 * An app's rollouts as a state machine: waves started one after another, a failure or a timeout
 * halting the rest, pauses, supersede, and the held rollouts a lock or a queue keeps. It decides and
 * records; the object's commit() talks to the hosts. Call inside the object's transaction.
 */
export class RolloutEngine {
  constructor(
    private readonly table: RolloutTable,
    private readonly schedule: Schedule,
  ) {}

  /** A new rollout: held (locked, or queued behind an unfinished one), or started, superseding older ones. */
  create(fx: AppEffects, input: NewRollout, now: number): RolloutRow {
    const existing = input.delivery_id ? this.table.byDelivery(input.delivery_id) : null;
    if (existing) return existing;
    const active = this.table.withStatus(...ACTIVE);
    const lock = this.table.lock();
    const held = lock
      ? `held: ${input.app} is locked by ${lock.locked_by}: ${lock.reason}`
      : input.spec.app.supersede === false && active.length
        ? `held: queued behind rollout ${active[0]!.id}`
        : null;
    this.table.insert(
      {
        id: input.id, app: input.app, ref: input.ref, sha: input.sha, status: held ? "held" : "running", trigger: input.trigger,
        delivery_id: input.delivery_id, strategy: JSON.stringify(input.strategy), spec: JSON.stringify(input.spec), created_at: iso(now), error: held,
      },
      planWaves(input.hosts, input.strategy),
    );
    fx.changed.add(input.id);
    if (!held) {
      for (const old of [...active, ...this.table.withStatus("held")].filter((r) => r.id !== input.id)) {
        this.stop(fx, old, "cancelled", `superseded by rollout ${input.id}`, now);
      }
      this.startWave(fx, this.table.get(input.id)!, 0, now);
    }
    return this.table.get(input.id)!;
  }

  /**
   * Hosts' jobs of this app changed: records the live releases, then moves each rollout they belong
   * to once (a wave of a hundred hosts answering together costs one pass, not a hundred).
   */
  jobsChanged(fx: AppEffects, jobs: JobSnapshot[], now: number): void {
    const touched = new Set<string>();
    for (const job of jobs) {
      this.noteRelease(job);
      for (const row of this.table.hostsOfJob(job.id, job.rollout_id, job.host)) {
        if (FINAL_HOST_STATES.includes(row.state)) continue; // states only move forward
        if (row.job_id === job.id && row.state === job.status) continue; // a repeat changes nothing
        this.table.setHost(row.rollout_id, row.host, { job_id: job.id, state: job.status, error: job.error });
        touched.add(row.rollout_id);
      }
    }
    for (const id of touched) {
      fx.changed.add(id);
      const rollout = this.table.get(id);
      if (rollout) this.advance(fx, rollout, now);
    }
  }

  /**
   * The jobs a wave's dispatch got from the hosts (at least once: a repeat changes nothing), in
   * one statement for the wave. A host may answer with a job another rollout queued (the same
   * release): this rollout's row takes it too, and the job's changes then move both.
   */
  recordJobs(fx: AppEffects, rolloutId: string, jobs: JobSnapshot[], now: number): void {
    for (const job of jobs) this.noteRelease({ ...job, rollout_id: rolloutId });
    const row = this.table.get(rolloutId);
    if (row && this.table.takeJobs(rolloutId, jobs)) {
      fx.changed.add(rolloutId);
      this.advance(fx, row, now);
    }
    if (!row || this.table.hosts(rolloutId, row.wave).every((h) => h.job_id !== null || h.state !== "pending")) this.schedule.clear("dispatch", rolloutId);
  }

  /** A job that succeeded is what its host runs now. */
  private noteRelease(job: JobSnapshot & { rollout_id: string | null }): void {
    if (job.status === "succeeded" && job.finished_at) {
      this.table.setRelease({ host: job.host, sha: job.sha, ref: job.ref, job_id: job.id, since: job.finished_at, rollout_id: job.rollout_id });
    }
  }

  pause(fx: AppEffects, row: RolloutRow): boolean {
    if (row.status !== "running") return false;
    this.set(fx, row, { status: "paused" });
    return true;
  }

  resume(fx: AppEffects, row: RolloutRow, now: number): boolean {
    if (row.status !== "paused") return false;
    this.set(fx, row, { status: "running" });
    const running = { ...row, status: "running" as const };
    const wave = this.waveStatus(row);
    if (wave === "running") {
      this.advance(fx, running, now);
    } else if (row.wave < this.table.waves(row.id).length - 1) {
      // Paused between waves: the strategy's pause (if any) still runs its course.
      if (row.next_wave_at === null) this.nextWave(fx, running, now);
      else this.schedule.set("next", row.id, Math.max(row.next_wave_at, now));
    }
    return true;
  }

  cancel(fx: AppEffects, row: RolloutRow, now: number): boolean {
    if (!ACTIVE.includes(row.status) && row.status !== "held") return false;
    this.stop(fx, row, "cancelled", `rollout ${row.id} cancelled by user`, now);
    return true;
  }

  /** Timers due: a wave's timeout, the end of a pause, a dispatch to repeat. */
  due(fx: AppEffects, now: number): void {
    for (const timer of this.schedule.due(now)) {
      if (!["wave", "next", "dispatch"].includes(timer.kind)) continue;
      this.schedule.clear(timer.kind, timer.key);
      const [id, waveText] = timer.key.split("#");
      const row = this.table.get(id!);
      if (!row || !ACTIVE.includes(row.status)) continue;
      if (timer.kind === "wave" && Number(waveText) === row.wave && this.waveStatus(row) === "running") this.timeout(fx, row, now);
      if (timer.kind === "next" && row.status === "running" && row.next_wave_at !== null) this.startWave(fx, row, row.wave + 1, now);
      if (timer.kind === "dispatch" && this.table.hosts(row.id, row.wave).some((h) => h.job_id === null && h.state === "pending")) {
        fx.dispatches.push({ rolloutId: row.id, wave: row.wave });
        this.schedule.set("dispatch", row.id, now + REDISPATCH_MS);
      }
    }
  }

  /**
   * Starts a held rollout when nothing else runs and the app is not locked: the newest (older held
   * ones are superseded), or with `supersede: false` the oldest. Run after every unit of work.
   */
  promote(fx: AppEffects, now: number): void {
    if (this.table.lock() || this.table.withStatus(...ACTIVE).length) return;
    const held = this.table.withStatus("held");
    if (held.length === 0) return;
    const supersede = specOf(held.at(-1)!).app.supersede !== false;
    const next = supersede ? held.at(-1)! : held[0]!;
    if (supersede) for (const old of held.slice(0, -1)) this.stop(fx, old, "cancelled", `superseded by rollout ${next.id}`, now);
    this.set(fx, next, { status: "running", error: null });
    this.startWave(fx, { ...next, status: "running" }, 0, now);
  }

  /**
   * Moves a running rollout on: a failed job stops it; a wave whose jobs all ended starts the next
   * (now, or after the pause) or ends the rollout. A job cancelled by hand or by a config change does
   * not stop the others, but the rollout then ends `cancelled` rather than `succeeded`.
   */
  private advance(fx: AppEffects, row: RolloutRow, now: number): void {
    if (!ACTIVE.includes(row.status) || row.wave < 0) return;
    const hosts = this.table.hosts(row.id, row.wave);
    const failed = hosts.find((h) => h.state === "failed");
    if (failed) return this.fail(fx, row, failed, now);
    if (!hosts.every((h) => FINAL_HOST_STATES.includes(h.state)) || this.waveStatus(row) !== "running") return;
    const clean = hosts.every((h) => h.state === "succeeded");
    this.table.setWave(row.id, row.wave, { status: clean ? "succeeded" : "cancelled", finished_at: iso(now) });
    this.schedule.clear("wave", `${row.id}#${row.wave}`);
    fx.changed.add(row.id);
    if (row.wave < this.table.waves(row.id).length - 1) {
      if (row.status === "running") this.nextWave(fx, row, now);
      return;
    }
    const cancelled = this.table.hosts(row.id).filter((h) => h.state === "cancelled");
    if (cancelled.length === 0) return this.finish(fx, row, "succeeded", null, now);
    this.finish(fx, row, "cancelled", `rollout ${row.id} ended with jobs cancelled on ${cancelled.map((h) => `${h.host} (job ${h.job_id}: ${h.error ?? "cancelled"})`).join(", ")}`, now);
  }

  /** The wave after a done one: at once, or when the strategy's pause has passed. */
  private nextWave(fx: AppEffects, row: RolloutRow, now: number): void {
    const pause = strategyOf(row).pause_s * 1000;
    if (pause <= 0) return this.startWave(fx, row, row.wave + 1, now);
    this.set(fx, row, { next_wave_at: now + pause });
    this.schedule.set("next", row.id, now + pause);
  }

  private startWave(fx: AppEffects, row: RolloutRow, wave: number, now: number): void {
    this.set(fx, row, { wave, next_wave_at: null });
    this.table.setWave(row.id, wave, { status: "running", started_at: iso(now) });
    this.table.notePrevious(row.id, wave);
    this.schedule.set("wave", `${row.id}#${wave}`, now + strategyOf(row).wave_timeout_s * 1000);
    this.schedule.set("dispatch", row.id, now + REDISPATCH_MS);
    fx.dispatches.push({ rolloutId: row.id, wave });
  }

  /**
   * A job of the current wave failed: the rollout stops. Its later waves are cancelled; the jobs of
   * this wave still queued or running go on (one wave of every host is today's behaviour: each host
   * on its own). With `rollback`, the hosts it already updated go back to their previous release.
   */
  private fail(fx: AppEffects, row: RolloutRow, bad: HostRow, now: number): void {
    const reason = `rollout ${row.id} stopped: job ${bad.job_id} failed on ${bad.host}${bad.error ? `: ${bad.error}` : ""}`;
    this.stop(fx, row, "failed", reason, now, false);
    if (strategyOf(row).on_failure === "rollback") {
      for (const host of this.table.hosts(row.id).filter((h) => h.state === "succeeded" && h.previous)) fx.rollbacks.push({ rolloutId: row.id, host: host.host });
    }
  }

  private timeout(fx: AppEffects, row: RolloutRow, now: number): void {
    const waiting = this.table.hosts(row.id, row.wave).filter((h) => !FINAL_HOST_STATES.includes(h.state));
    const who = waiting.map((h) => `${h.host} (${h.job_id ? `job ${h.job_id} ${h.state}` : "no job yet"})`).join(", ");
    const timeout = strategyOf(row).wave_timeout_s;
    this.stop(fx, row, "halted", `rollout ${row.id} halted: wave ${row.wave + 1} not done within ${timeout}s; waiting on ${who} (is the agent online?)`, now);
  }

  /**
   * Ends a rollout early: its waves not started are cancelled, and (unless `cancelQueued` is false)
   * its jobs still queued are cancelled on their hosts with `reason`. Running jobs finish.
   */
  private stop(fx: AppEffects, row: RolloutRow, status: "failed" | "halted" | "cancelled", reason: string, now: number, cancelQueued = true): void {
    for (const wave of this.table.waves(row.id)) {
      if (wave.status === "pending") this.table.setWave(row.id, wave.idx, { status: "cancelled", finished_at: iso(now) });
      if (wave.status === "running") this.table.setWave(row.id, wave.idx, { status, finished_at: iso(now) });
    }
    for (const host of this.table.hosts(row.id)) {
      if (host.state === "pending") this.table.setHost(row.id, host.host, { state: "cancelled", error: reason });
      if (cancelQueued && host.state === "queued" && host.job_id) fx.cancels.push({ host: host.host, jobId: host.job_id, reason });
    }
    this.finish(fx, row, status, reason, now);
  }

  private finish(fx: AppEffects, row: RolloutRow, status: RolloutStatus, error: string | null, now: number): void {
    this.set(fx, row, { status, error, finished_at: iso(now), next_wave_at: null });
    this.schedule.clear("wave", `${row.id}#${row.wave}`);
    this.schedule.clear("next", row.id);
    this.schedule.clear("dispatch", row.id);
  }

  private waveStatus(row: RolloutRow) {
    return this.table.waves(row.id)[row.wave]?.status;
  }

  private set(fx: AppEffects, row: RolloutRow, changes: Parameters<RolloutTable["update"]>[1]): void {
    this.table.update(row.id, changes);
    fx.changed.add(row.id);
  }
}

