import type { AppSpec } from "../host/dispatch";
import type { JobSnapshot } from "../schemas/jobs";
import { FINISHED_ROLLOUT_STATUSES, type HOST_STATES, type Rollout, type RolloutStatus, type Strategy, type Wave } from "../schemas/rollouts";

/** A rollout as its app's object stores it: the API's fields, and how to render its jobs. */
export type RolloutRow = {
  seq: number;
  id: string;
  app: string;
  ref: string;
  sha: string;
  status: RolloutStatus;
  trigger: string;
  delivery_id: string | null;
  /** JSON Strategy. */
  strategy: string;
  /** JSON AppSpec: the app's apps.yaml entries when the rollout was made. */
  spec: string;
  created_at: string;
  finished_at: string | null;
  error: string | null;
  /** The wave in progress (or last done); -1 before the first. */
  wave: number;
  /** While pausing between waves: when the next one starts (ms). */
  next_wave_at: number | null;
  version: number;
};

/** Where one host stands in a rollout. `state` is its job's status, `pending` before the job exists. */
export type HostRow = {
  rollout_id: string;
  host: string;
  wave: number;
  job_id: string | null;
  state: (typeof HOST_STATES)[number];
  error: string | null;
  /** JSON Release the host ran when its wave started: where `on_failure: rollback` sends it back. */
  previous: string | null;
  rollback_job_id: string | null;
};

export type WaveRow = { rollout_id: string; idx: number; status: Wave["status"]; started_at: string | null; finished_at: string | null };

/** What runs on a host: the last job of the app that succeeded there. */
export type Release = { host: string; sha: string; ref: string; job_id: string; since: string; rollout_id: string | null };

/** Who locked an app, when and why (`kamal lock`): its pushes are held until it is unlocked. */
export type AppLock = { reason: string; locked_by: string; locked_at: string };

export const FINAL_HOST_STATES: ReadonlyArray<HostRow["state"]> = ["succeeded", "failed", "cancelled"];

export const strategyOf = (row: RolloutRow) => JSON.parse(row.strategy) as Strategy;
export const specOf = (row: RolloutRow) => JSON.parse(row.spec) as AppSpec;

type Bindable = Record<string, SqlStorageValue>;

/** Every read and write of the app's rollouts, their waves and hosts, and the live releases. */
export class RolloutTable {
  constructor(private readonly sql: SqlStorage) {}

  get(id: string): RolloutRow | null {
    return this.rows<RolloutRow>("SELECT * FROM rollouts WHERE id = ?", id)[0] ?? null;
  }

  byDelivery(deliveryId: string): RolloutRow | null {
    return this.rows<RolloutRow>("SELECT * FROM rollouts WHERE delivery_id = ?", deliveryId)[0] ?? null;
  }

  /** Rollouts in these statuses, oldest first. */
  withStatus(...statuses: RolloutStatus[]): RolloutRow[] {
    return this.rows<RolloutRow>(`SELECT * FROM rollouts WHERE status IN (${statuses.map(() => "?").join(", ")}) ORDER BY seq`, ...statuses);
  }

  /** The newest rollouts, newest first. */
  recent(limit: number): RolloutRow[] {
    return this.rows<RolloutRow>("SELECT * FROM rollouts ORDER BY seq DESC LIMIT ?", limit);
  }

  insert(row: Omit<RolloutRow, "seq" | "version" | "wave" | "next_wave_at" | "finished_at">, waves: string[][]): void {
    this.sql.exec(
      `INSERT INTO rollouts (id, app, ref, sha, status, trigger, delivery_id, strategy, spec, created_at, error)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      row.id, row.app, row.ref, row.sha, row.status, row.trigger, row.delivery_id, row.strategy, row.spec, row.created_at, row.error,
    );
    // One statement each for the waves and the hosts, however many (a statement costs more than a row).
    const plan = JSON.stringify(waves);
    this.sql.exec("INSERT INTO waves (rollout_id, idx, status) SELECT ?, key, 'pending' FROM json_each(?)", row.id, plan);
    this.sql.exec(
      `INSERT INTO rollout_hosts (rollout_id, host, wave, state)
       SELECT ?, host.value, wave.key, 'pending' FROM json_each(?) AS wave, json_each(wave.value) AS host ORDER BY wave.key, host.key`,
      row.id,
      plan,
    );
  }

  update(id: string, changes: Partial<Pick<RolloutRow, "status" | "error" | "finished_at" | "wave" | "next_wave_at">>): void {
    const columns = Object.keys(changes) as Array<keyof typeof changes>;
    if (columns.length === 0) return;
    // Column names come from this typed key list, never from input.
    this.sql.exec(`UPDATE rollouts SET ${columns.map((c) => `${c} = ?`).join(", ")} WHERE id = ?`, ...columns.map((c) => changes[c] ?? null), id);
  }

  /** Bumps the version of a changed rollout (its snapshot then goes to D1 and to watchers). */
  bump(id: string): number {
    return this.sql.exec<{ version: number }>("UPDATE rollouts SET version = version + 1 WHERE id = ? RETURNING version", id).one().version;
  }

  waves(id: string): WaveRow[] {
    return this.rows<WaveRow>("SELECT * FROM waves WHERE rollout_id = ? ORDER BY idx", id);
  }

  setWave(id: string, idx: number, changes: Partial<Pick<WaveRow, "status" | "started_at" | "finished_at">>): void {
    const columns = Object.keys(changes) as Array<keyof typeof changes>;
    this.sql.exec(`UPDATE waves SET ${columns.map((c) => `${c} = ?`).join(", ")} WHERE rollout_id = ? AND idx = ?`, ...columns.map((c) => changes[c] ?? null), id, idx);
  }

  hosts(id: string, wave?: number): HostRow[] {
    return wave === undefined
      ? this.rows<HostRow>("SELECT * FROM rollout_hosts WHERE rollout_id = ? ORDER BY wave, rowid", id)
      : this.rows<HostRow>("SELECT * FROM rollout_hosts WHERE rollout_id = ? AND wave = ? ORDER BY rowid", id, wave);
  }

  /** A wave starts: each of its hosts records the release it runs now (where `on_failure: rollback` sends it back). */
  notePrevious(id: string, wave: number): void {
    this.sql.exec(
      `UPDATE rollout_hosts SET previous = (
         SELECT json_object('host', r.host, 'sha', r.sha, 'ref', r.ref, 'job_id', r.job_id, 'since', r.since, 'rollout_id', r.rollout_id)
         FROM releases AS r WHERE r.host = rollout_hosts.host
       ) WHERE rollout_id = ? AND wave = ?`,
      id,
      wave,
    );
  }

  /**
   * A wave's dispatch answers: each of the rollout's hosts takes the job its host answered with
   * (a new one, or the same release already queued or running there, which may be another
   * rollout's) and its status. A row already final keeps its state; a repeat changes nothing.
   * Returns whether any row changed.
   */
  takeJobs(id: string, jobs: Array<Pick<JobSnapshot, "id" | "host" | "status" | "error">>): boolean {
    const answers = JSON.stringify(jobs.map(({ id, host, status, error }) => ({ id, host, status, error })));
    // MATERIALIZED: the answers are parsed once, then each finds its row by the primary key. Without it
    // SQLite walked the rollout's hosts and read the whole JSON again for each (100 hosts: 10,000 reads).
    const changed = this.sql.exec(
      `WITH j AS MATERIALIZED (SELECT value ->> '$.id' AS id, value ->> '$.host' AS host, value ->> '$.status' AS status, value ->> '$.error' AS error FROM json_each(?))
       UPDATE rollout_hosts SET job_id = j.id, state = j.status, error = j.error
       FROM j
       WHERE rollout_hosts.rollout_id = ? AND rollout_hosts.host = j.host
         AND rollout_hosts.state NOT IN ('succeeded', 'failed', 'cancelled')
         AND NOT (rollout_hosts.job_id IS j.id AND rollout_hosts.state = j.status)
       RETURNING rollout_hosts.host`,
      answers,
      id,
    );
    return changed.toArray().length > 0;
  }

  /** The rollout hosts a job snapshot is about: by its id, or (a job not yet recorded) by its rollout and host. */
  hostsOfJob(jobId: string, rolloutId: string | null, host: string): HostRow[] {
    const byId = this.rows<HostRow>("SELECT * FROM rollout_hosts WHERE job_id = ?", jobId);
    if (byId.length || !rolloutId) return byId;
    return this.rows<HostRow>("SELECT * FROM rollout_hosts WHERE rollout_id = ? AND host = ? AND job_id IS NULL AND state = 'pending'", rolloutId, host);
  }

  setHost(rolloutId: string, host: string, changes: Partial<Pick<HostRow, "job_id" | "state" | "error" | "previous" | "rollback_job_id">>): void {
    const columns = Object.keys(changes) as Array<keyof typeof changes>;
    this.sql.exec(
      `UPDATE rollout_hosts SET ${columns.map((c) => `${c} = ?`).join(", ")} WHERE rollout_id = ? AND host = ?`,
      ...columns.map((c) => changes[c] ?? null),
      rolloutId,
      host,
    );
  }

  /**
   * Finished rollouts past the newest `keep` of them, at most `limit`, but none with a job still
   * queued or running (a superseded rollout's running job finishes, and its end is still to come).
   */
  finishedBeyond(keep: number, limit: number): RolloutRow[] {
    const finished = FINISHED_ROLLOUT_STATUSES.map(() => "?").join(", ");
    return this.rows<RolloutRow>(
      `SELECT * FROM (SELECT * FROM rollouts WHERE status IN (${finished}) ORDER BY seq DESC LIMIT -1 OFFSET ?) AS old
       WHERE NOT EXISTS (SELECT 1 FROM rollout_hosts WHERE rollout_id = old.id AND state IN ('queued', 'running')) LIMIT ?`,
      ...FINISHED_ROLLOUT_STATUSES, keep, limit,
    );
  }

  /** Deletes a rollout with its waves and hosts. Returns the jobs it named that no rollout kept here names. */
  forget(id: string): string[] {
    this.sql.exec("DELETE FROM waves WHERE rollout_id = ?", id);
    const named = this.rows<{ job_id: string | null; rollback_job_id: string | null }>("DELETE FROM rollout_hosts WHERE rollout_id = ? RETURNING job_id, rollback_job_id", id)
      .flatMap((row) => [row.job_id, row.rollback_job_id])
      .filter((job): job is string => job !== null);
    this.sql.exec("DELETE FROM rollouts WHERE id = ?", id);
    // One read for all of them, not one per job.
    return this.rows<{ job: string }>(
      `SELECT value AS job FROM json_each(?)
       WHERE NOT EXISTS (SELECT 1 FROM rollout_hosts WHERE job_id = value) AND NOT EXISTS (SELECT 1 FROM rollout_hosts WHERE rollback_job_id = value)`,
      JSON.stringify(named),
    ).map((row) => row.job);
  }

  releases(): Release[] {
    return this.rows<Release>("SELECT * FROM releases ORDER BY host");
  }

  /** Records what runs on a host, unless a later release is already recorded (deliveries may repeat or reorder). */
  setRelease(release: Release): void {
    this.sql.exec(
      `INSERT INTO releases (host, sha, ref, job_id, since, rollout_id) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (host) DO UPDATE SET sha = excluded.sha, ref = excluded.ref, job_id = excluded.job_id, since = excluded.since, rollout_id = excluded.rollout_id
       WHERE excluded.since > releases.since`,
      release.host, release.sha, release.ref, release.job_id, release.since, release.rollout_id,
    );
  }

  lock(): AppLock | null {
    return this.rows<AppLock>("SELECT reason, locked_by, locked_at FROM app_lock")[0] ?? null;
  }

  setLock(lock: AppLock | null): void {
    if (lock) {
      this.sql.exec(
        "INSERT INTO app_lock (id, reason, locked_by, locked_at) VALUES (1, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET reason = excluded.reason, locked_by = excluded.locked_by, locked_at = excluded.locked_at",
        lock.reason, lock.locked_by, lock.locked_at,
      );
    } else {
      this.sql.exec("DELETE FROM app_lock");
    }
  }

  /** The rollout as the API shows it. */
  toRollout(row: RolloutRow): Rollout {
    const hosts = this.hosts(row.id);
    const waves = this.waves(row.id).map((wave): Wave => {
      const members = hosts.filter((h) => h.wave === wave.idx);
      return {
        hosts: members.map((h) => h.host),
        jobs: members.map((h) => h.job_id),
        states: members.map((h) => h.state),
        status: wave.status,
        started_at: wave.started_at,
        finished_at: wave.finished_at,
      };
    });
    const { id, app, ref, sha, status, trigger, created_at, finished_at, error } = row;
    return { id, app, ref, sha, status, strategy: strategyOf(row), waves, trigger, created_at, finished_at, error };
  }

  private rows<T>(query: string, ...bindings: SqlStorageValue[]): T[] {
    return this.sql.exec<T & Bindable>(query, ...bindings).toArray() as T[];
  }
}
