import type { DeploySpec } from "../config/apps";
import { JOB_KEYS, pickJob, type Job, type JobSnapshot } from "../schemas/jobs";
import type { SshTarget } from "../ssh/relay";
import { iso } from "./clock";
import type { EnqueueRequest } from "./contract";
import type { Outbox } from "./outbox";
import type { SshJob } from "./ssh-runner";

/** What the host object keeps beside a job's public fields: its place, its recipe and its lease. */
type HostColumns = {
  pos: number;
  /** JSON of the rendered DeploySpec. */
  deploy: string;
  lease_s: number;
  retries: number;
  /** When the current attempt was queued (ms), for the dispatch-wait histogram. */
  queued_at: number;
  lease_expires_at: number | null;
  /** The holder confirmed it started (a `running` report, or the relay). */
  acked: number;
  cancel_requested: number;
  cancel_delivered: number;
  /** JSON of the SshTarget of an ssh-mode job. */
  target: string | null;
};

/** A row of the object's `jobs` table: the snapshot D1 receives, plus the host's own columns. */
export type JobRow = JobSnapshot & HostColumns;

/** The columns a transition may change; every change bumps `version` and goes to the outbox. */
const MUTABLE = ["status", "agent_id", "started_at", "finished_at", "exit_code", "error", "attempt", "queued_at", "lease_expires_at", "acked"] as const;
export type JobChanges = Partial<Pick<JobRow, (typeof MUTABLE)[number]>>;

const SET_CLAUSE = [...MUTABLE, "version"].map((column) => `${column} = ?`).join(", ");

/** A snapshot's columns, in its order: a new job's insert returns just these (not its recipe, lease or place). */
const SNAPSHOT_COLUMNS = [...JOB_KEYS, "delivery_id", "version"].join(", ");

/** A new queued job's row, as INSERT ... SELECT (so a WHERE may follow); its values are jobValues(). */
const INSERT_JOB = `INSERT INTO jobs (id, app, repo, ref, sha, host, mode, status, trigger, delivery_id, created_at, deploy, lease_s, retries, queued_at, target, rollout_id)
  SELECT ?, ?, ?, ?, ?, ?, ?, 'queued', ?, ?, ?, ?, ?, ?, ?, ?, ?`;

function jobValues(id: string, request: EnqueueRequest, now: number): SqlStorageValue[] {
  const { app, repo, ref, sha, host, mode, trigger, delivery_id, deploy, lease_s, retries, target, rollout_id } = request;
  return [id, app, repo, ref, sha, host, mode, trigger, delivery_id, iso(now), deploy, lease_s, retries, now, target ? JSON.stringify(target) : null, rollout_id ?? null];
}

export const toJob = (row: JobRow): Job => pickJob(row);
export const toSnapshot = (row: JobRow): JobSnapshot => ({ ...toJob(row), delivery_id: row.delivery_id, version: row.version });
export const deployOf = (row: JobRow) => JSON.parse(row.deploy) as DeploySpec;
/** What the relay runner needs of an ssh-mode job (its row has a target). */
export const sshJobOf = (row: JobRow): SshJob => ({
  id: row.id,
  attempt: row.attempt,
  app: row.app,
  sha: row.sha,
  deploy: deployOf(row),
  target: JSON.parse(row.target!) as SshTarget,
  lease_s: row.lease_s,
});

/**
 * Every read and write of the host's jobs. A write that changes a job records its new snapshot
 * in the outbox in the same statement block, so D1 history can never miss a transition.
 */
export class JobTable {
  constructor(
    private readonly sql: SqlStorage,
    private readonly outbox: Outbox<JobSnapshot>,
  ) {}

  get(id: string): JobRow | null {
    return this.one("SELECT * FROM jobs WHERE id = ?", id);
  }

  /**
   * What an enqueue of `request` needs, in one read: the job this delivery already made for the app
   * (any status), or else its oldest queued or running job of the same ref and sha; and the app's
   * queued jobs, oldest first, which a new job replaces.
   */
  forEnqueue(request: Pick<EnqueueRequest, "delivery_id" | "app" | "ref" | "sha">): { same: JobRow | null; queued: JobRow[] } {
    const rows = this.all(
      `SELECT * FROM jobs WHERE app = ? AND status IN ('queued', 'running')
       UNION SELECT * FROM jobs WHERE delivery_id = ? AND app = ?
       ORDER BY pos`,
      request.app,
      request.delivery_id ?? null,
      request.app,
    );
    const live = (row: JobRow) => row.status === "queued" || row.status === "running";
    const same =
      (request.delivery_id ? rows.find((row) => row.delivery_id === request.delivery_id) : undefined) ??
      rows.find((row) => live(row) && row.ref === request.ref && row.sha === request.sha);
    return { same: same ?? null, queued: rows.filter((row) => row.status === "queued") };
  }

  /** Queued jobs in the order they will run (an app's: forEnqueue). */
  queued(): JobRow[] {
    return this.all("SELECT * FROM jobs WHERE status = 'queued' ORDER BY pos");
  }

  countQueued(): number {
    return this.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM jobs WHERE status = 'queued'").one().n;
  }

  /** The host's running job: at most one (the object's input gate and handOut's check guarantee it). */
  running(): JobRow | null {
    return this.one("SELECT * FROM jobs WHERE status = 'running' LIMIT 1");
  }

  runningOf(agentId: string): JobRow[] {
    return this.all("SELECT * FROM jobs WHERE status = 'running' AND agent_id = ?", agentId);
  }

  /** The running job if there is one, else the oldest queued one (the relay's question, in one read of what it asks). */
  head(): Pick<JobRow, "id" | "status" | "mode" | "target"> | null {
    return this.one("SELECT id, status, mode, target FROM jobs WHERE status IN ('running', 'queued') ORDER BY status DESC, pos LIMIT 1");
  }

  /** The oldest queued job of one mode (an agent's next; the relay asks head()). */
  nextQueued(mode: "agent" | "ssh"): JobRow | null {
    return this.one("SELECT * FROM jobs WHERE status = 'queued' AND mode = ? ORDER BY pos LIMIT 1", mode);
  }

  /** Finished jobs beyond the newest `keep`, oldest last. */
  finishedBeyond(keep: number): JobRow[] {
    return this.all("SELECT * FROM jobs WHERE status IN ('succeeded', 'failed', 'cancelled') ORDER BY pos DESC LIMIT -1 OFFSET ?", keep);
  }

  /** Inserts a new queued job: its snapshot, which the outbox has too. */
  insert(id: string, request: EnqueueRequest, now: number): JobSnapshot {
    return this.added(this.sql.exec<JobSnapshot>(`${INSERT_JOB} RETURNING ${SNAPSHOT_COLUMNS}`, ...jobValues(id, request, now)).one(), now);
  }

  /**
   * Inserts the job only when forEnqueue would find nothing: no job of this delivery for the app, no
   * live job of the same ref and sha, and none of the app's jobs queued (a new one would replace them).
   * The common case, a push to hosts at rest, is then one statement. Null when it inserted nothing.
   */
  insertIfAlone(id: string, request: EnqueueRequest, now: number): JobSnapshot | null {
    const row = this.sql
      .exec<JobSnapshot>(
        `${INSERT_JOB}
         WHERE NOT EXISTS (SELECT 1 FROM jobs WHERE app = ? AND status IN ('queued', 'running') AND (status = 'queued' OR (ref = ? AND sha = ?)))
           AND NOT EXISTS (SELECT 1 FROM jobs WHERE delivery_id = ? AND app = ?)
         RETURNING ${SNAPSHOT_COLUMNS}`,
        ...jobValues(id, request, now),
        request.app,
        request.ref,
        request.sha,
        request.delivery_id,
        request.app,
      )
      .toArray()[0];
    return row ? this.added(row, now) : null;
  }

  private added(snapshot: JobSnapshot, now: number): JobSnapshot {
    this.outbox.add(snapshot, now);
    return snapshot;
  }

  /** Applies a transition: the new row, its version bumped, and its snapshot in the outbox. */
  update(row: JobRow, changes: JobChanges, now: number): JobRow {
    const next: JobRow = { ...row, ...changes, version: row.version + 1 };
    this.sql.exec(`UPDATE jobs SET ${SET_CLAUSE} WHERE id = ?`, ...MUTABLE.map((column) => next[column]), next.version, row.id);
    this.outbox.add(toSnapshot(next), now);
    return next;
  }

  /** Bookkeeping that is not a transition (no new version, nothing for D1). */
  setLease(id: string, expiresAt: number): void {
    this.sql.exec("UPDATE jobs SET lease_expires_at = ? WHERE id = ?", expiresAt, id);
  }

  markAcked(id: string): void {
    this.sql.exec("UPDATE jobs SET acked = 1 WHERE id = ?", id);
  }

  /** Records that `by` replaced these queued jobs (see supersededBy). */
  markSuperseded(ids: string[], by: string): void {
    for (const id of ids) this.sql.exec("UPDATE jobs SET superseded_by = ? WHERE id = ?", by, id);
  }

  /** The queued jobs `id` replaced when it was queued (a few at most; kept while their rows are). */
  supersededBy(id: string): JobRow[] {
    return this.all("SELECT * FROM jobs WHERE superseded_by = ? ORDER BY pos", id);
  }

  flagCancel(id: string): void {
    this.sql.exec("UPDATE jobs SET cancel_requested = 1 WHERE id = ?", id);
  }

  /** Cancels flagged on the agent's running jobs; `fresh` when one had not been told to it yet (now it has). */
  takeCancels(agentId: string): { ids: string[]; fresh: boolean } {
    const flagged = this.all("SELECT * FROM jobs WHERE status = 'running' AND agent_id = ? AND cancel_requested = 1", agentId);
    const fresh = flagged.some((row) => row.cancel_delivered === 0);
    if (fresh) this.sql.exec("UPDATE jobs SET cancel_delivered = 1 WHERE agent_id = ? AND cancel_requested = 1", agentId);
    return { ids: flagged.map((row) => row.id), fresh };
  }

  delete(id: string): void {
    this.sql.exec("DELETE FROM jobs WHERE id = ?", id);
  }

  private one(query: string, ...bindings: SqlStorageValue[]): JobRow | null {
    return this.all(query, ...bindings)[0] ?? null;
  }

  private all(query: string, ...bindings: SqlStorageValue[]): JobRow[] {
    return this.sql.exec<JobRow>(query, ...bindings).toArray();
  }
}
