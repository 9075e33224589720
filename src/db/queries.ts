import { and, desc, eq, getTableColumns, getTableName, gt, isNull, lt, or, sql, type SQL } from "drizzle-orm";
import type { SQLiteTable } from "drizzle-orm/sqlite-core";
import type { DrizzleD1Database } from "drizzle-orm/d1";
import { pickJob, type Job, type JobSnapshot, type JobStatus } from "../schemas/jobs";
import { agents, configVersions, deliveries, jobLogs, jobs } from "./schema";
import type { LogLine } from "../host/logs";

export type Db = DrizzleD1Database;

/** Job snapshots per statement: they go as one JSON parameter, well under D1's 2 MB for a value. */
const JOB_ROWS_PER_STATEMENT = 200;

/**
 * The job upsert, written once: every column from a JSON array of snapshots (one bound parameter,
 * so a wave of a hundred jobs is one statement, and nothing is rebuilt per call). A row takes the
 * snapshot only if its version is newer, so a retried or reordered delivery never rolls history back.
 * The schema's keys are its column names (see schema.ts), so `$.<key>` is each column's field.
 */
const UPSERT_JOBS_FROM_JSON = insertFromJson(jobs, (columns) => {
  const updates = columns.filter((column) => column !== "id").map((column) => `${column} = excluded.${column}`).join(", ");
  return `ON CONFLICT (id) DO UPDATE SET ${updates} WHERE excluded.version > jobs.version`;
});

/**
 * An insert of a table's rows from a JSON array of objects keyed by column name (one bound
 * parameter, however many rows), with `conflict` after it. Written once per table, at load.
 */
function insertFromJson(table: SQLiteTable, conflict: (columns: string[]) => string): string {
  const columns = Object.values(getTableColumns(table)).map((column) => column.name);
  const fields = columns.map((column) => `value ->> '$.${column}'`).join(", ");
  // `WHERE true`: SQLite's rule for an upsert fed by a SELECT (else ON CONFLICT would read as a join's ON).
  return `INSERT INTO ${getTableName(table)} (${columns.join(", ")}) SELECT ${fields} FROM json_each(?) WHERE true ${conflict(columns)}`;
}

/** A statement for D1's batch, as drizzle's `toSQL()` gives one. */
export type Statement = { sql: string; params: unknown[] };

/** The statements that insert or update job snapshots: one per JOB_ROWS_PER_STATEMENT jobs. */
export function upsertJobSnapshotStatements(snapshots: JobSnapshot[]): Statement[] {
  // One row per job and statement: the newest.
  const newest = new Map<string, JobSnapshot>();
  for (const snapshot of snapshots) if ((newest.get(snapshot.id)?.version ?? -1) < snapshot.version) newest.set(snapshot.id, snapshot);
  const unique = [...newest.values()];
  const statements: Statement[] = [];
  for (let i = 0; i < unique.length; i += JOB_ROWS_PER_STATEMENT) {
    statements.push({ sql: UPSERT_JOBS_FROM_JSON, params: [JSON.stringify(unique.slice(i, i + JOB_ROWS_PER_STATEMENT))] });
  }
  return statements;
}

export async function getJob(db: Db, id: string): Promise<Job | null> {
  const row = await db.select().from(jobs).where(eq(jobs.id, id)).get();
  return row ? pickJob(row) : null;
}

export interface ListJobsFilter {
  host?: string | undefined;
  app?: string | undefined;
  status?: JobStatus | undefined;
  limit: number;
  cursor?: string | undefined;
}

/** Cursor of a page: the (created_at, id) of its last row, opaque to clients. */
export function encodeCursor(item: { created_at: string; id: string }): string {
  return btoa(JSON.stringify([item.created_at, item.id])).replace(/=+$/, "");
}

export function decodeCursor(cursor: string): [string, string] | null {
  try {
    const value: unknown = JSON.parse(atob(cursor));
    if (Array.isArray(value) && value.length === 2 && value.every((v) => typeof v === "string")) {
      return value as [string, string];
    }
  } catch {
    // fall through: not a cursor we made
  }
  return null;
}

/** Newest first, keyset-paginated on (created_at, id). `cursor` must come from decodeCursor's caller check. */
export async function listJobs(db: Db, filter: ListJobsFilter): Promise<{ jobs: Job[]; next_cursor: string | null }> {
  const conditions: SQL[] = [];
  if (filter.host) conditions.push(eq(jobs.host, filter.host));
  if (filter.app) conditions.push(eq(jobs.app, filter.app));
  if (filter.status) conditions.push(eq(jobs.status, filter.status));
  if (filter.cursor) {
    const position = decodeCursor(filter.cursor);
    if (position) {
      const [createdAt, id] = position;
      conditions.push(or(lt(jobs.created_at, createdAt), and(eq(jobs.created_at, createdAt), lt(jobs.id, id)))!);
    }
  }
  const rows = await db
    .select()
    .from(jobs)
    .where(conditions.length ? and(...conditions) : undefined)
    .orderBy(desc(jobs.created_at), desc(jobs.id))
    .limit(filter.limit + 1)
    .all();
  const page = rows.slice(0, filter.limit).map(pickJob);
  const last = page.at(-1);
  return { jobs: page, next_cursor: rows.length > filter.limit && last ? encodeCursor(last) : null };
}

/** The newest sha GitHub pushed to `ref` of `repo`, from recorded deliveries. */
export async function latestPushedSha(db: Db, repo: string, ref: string): Promise<string | null> {
  const row = await db
    .select({ sha: deliveries.sha })
    .from(deliveries)
    .where(and(sql`lower(${deliveries.repo}) = lower(${repo})`, eq(deliveries.ref, ref), sql`${deliveries.sha} IS NOT NULL`))
    .orderBy(desc(deliveries.createdAt))
    .limit(1)
    .get();
  return row?.sha ?? null;
}

export interface AgentRecord {
  id: string;
  hostname: string;
  version: string;
  tokenHash: string;
  createdAt: string;
  revokedAt?: string | null;
}

export async function insertAgent(db: Db, agent: AgentRecord): Promise<void> {
  await db.insert(agents).values(agent);
}

export async function getAgent(db: Db, id: string): Promise<AgentRecord | null> {
  return (await db.select().from(agents).where(eq(agents.id, id)).get()) ?? null;
}

/** Marks an agent revoked (the first time only: a second revoke keeps the first time). Null when unknown. */
export async function revokeAgent(db: Db, id: string, at: string): Promise<AgentRecord | null> {
  await db.update(agents).set({ revokedAt: at }).where(and(eq(agents.id, id), isNull(agents.revokedAt)));
  return getAgent(db, id);
}

export interface DeliveryRecord {
  id: string;
  event: string;
  repo: string | null;
  ref: string | null;
  sha: string | null;
  before?: string | null;
  pushedAt?: string | null;
  outcome: "queued" | "ignored";
  ignored: string | null;
  jobs: Array<{ id: string; host: string }>;
  createdAt: string;
}

/** Records a delivery once; a second insert of the same id keeps the first. */
export async function insertDelivery(db: Db, delivery: DeliveryRecord): Promise<void> {
  await db
    .insert(deliveries)
    .values({ ...delivery, jobs: JSON.stringify(delivery.jobs) })
    .onConflictDoNothing({ target: deliveries.id });
}

/** A push as the webhook route saw it, for ordering against the pushes already received for its ref. */
export interface PushOrder {
  repo: string;
  ref: string;
  before: string | null;
  after: string;
  /** The head commit's time, already clamped to `receivedAt` (see pushTime). */
  pushedAt: string | null;
  receivedAt: string;
}

/**
 * How far back commit times are compared. GitHub delivers pushes out of order by
 * seconds or minutes; a push received an hour ago is not a late twin of this one.
 */
export const PUSH_ORDER_WINDOW_MS = 60 * 60 * 1000;

/**
 * The push already queued for `repo`/`ref` that is newer than `push`, if any:
 * GitHub may deliver two pushes out of order, and the late, older one must not
 * replace the newer deploy. The before/after chain decides first, because it is
 * git's own order; commit times, which whoever pushes sets, only break ties
 * among recent deliveries, and never count for more than their arrival time.
 */
export async function newerQueuedPush(db: Db, push: PushOrder): Promise<{ sha: string; pushedAt: string | null } | null> {
  const sameRef = and(sql`lower(${deliveries.repo}) = lower(${push.repo})`, eq(deliveries.ref, push.ref));
  const queued = and(sameRef, eq(deliveries.outcome, "queued"));
  // Definitive: a queued push that started where this one ends came after it.
  const successor = await db.select().from(deliveries).where(and(queued, eq(deliveries.before, push.after))).limit(1).get();
  if (successor?.sha) return { sha: successor.sha, pushedAt: successor.pushedAt };
  // Definitive too: this push starts where a push already received ended, so it came after that one.
  if (push.before) {
    const predecessor = await db.select({ id: deliveries.id }).from(deliveries).where(and(sameRef, eq(deliveries.sha, push.before))).limit(1).get();
    if (predecessor) return null;
  }
  if (!push.pushedAt) return null;
  const since = new Date(Date.parse(push.receivedAt) - PUSH_ORDER_WINDOW_MS).toISOString();
  // Rows stored before times were clamped may hold any date: clamp them here as well.
  const pushedAt = sql<string>`min(coalesce(${deliveries.pushedAt}, ${deliveries.createdAt}), ${deliveries.createdAt})`;
  const later = await db
    .select({ sha: deliveries.sha, pushedAt })
    .from(deliveries)
    .where(and(queued, gt(deliveries.createdAt, since), gt(pushedAt, push.pushedAt), sql`${deliveries.sha} <> ${push.after}`))
    .orderBy(desc(pushedAt))
    .limit(1)
    .get();
  return later?.sha ? { sha: later.sha, pushedAt: later.pushedAt } : null;
}

export async function getDelivery(db: Db, id: string): Promise<DeliveryRecord | null> {
  const row = await db.select().from(deliveries).where(eq(deliveries.id, id)).get();
  return row ? { ...row, jobs: JSON.parse(row.jobs) as DeliveryRecord["jobs"] } : null;
}

export interface ConfigVersion {
  id: number;
  yaml: string;
  sha256: string;
  createdAt: string;
}

/** The newest stored version's id (0: none stored), without its text: what every push asks. */
export async function latestConfigVersionId(db: Db): Promise<number> {
  return (await db.select({ id: configVersions.id }).from(configVersions).orderBy(desc(configVersions.id)).limit(1).get())?.id ?? 0;
}

export async function getConfigVersion(db: Db, id: number): Promise<ConfigVersion | null> {
  return (await db.select().from(configVersions).where(eq(configVersions.id, id)).get()) ?? null;
}

export async function insertConfigVersion(db: Db, yaml: string, sha256: string, createdAt: string): Promise<ConfigVersion> {
  return db.insert(configVersions).values({ yaml, sha256, createdAt }).returning().get();
}

/** Log lines per insert, and their text per insert at most (one JSON parameter; D1 takes 2 MB a value). */
const LOG_ROWS_PER_STATEMENT = 1000;
const LOG_TEXT_PER_STATEMENT = 512 * 1024;

/** The log insert, written once: lines from a JSON array (one bound parameter); a line delivered again is ignored. */
const INSERT_LOGS_FROM_JSON = insertFromJson(jobLogs, () => "ON CONFLICT DO NOTHING");

/** Inserts log lines once (a LogLine's fields are the table's column names); a line delivered again is ignored. */
export async function insertLogLines(db: D1Database, lines: LogLine[]): Promise<void> {
  if (lines.length === 0) return;
  const statements: D1PreparedStatement[] = [];
  for (let start = 0; start < lines.length; ) {
    let end = start;
    for (let text = 0; end < lines.length && end - start < LOG_ROWS_PER_STATEMENT && (end === start || text + lines[end]!.text.length <= LOG_TEXT_PER_STATEMENT); end++) {
      text += lines[end]!.text.length;
    }
    statements.push(db.prepare(INSERT_LOGS_FROM_JSON).bind(JSON.stringify(lines.slice(start, end))));
    start = end;
  }
  await db.batch(statements);
}

/** A job's stored log lines after `afterPos`, in order. */
export async function jobLogLines(db: Db, jobId: string, afterPos: number, limit: number): Promise<LogLine[]> {
  const rows = await db
    .select()
    .from(jobLogs)
    .where(and(eq(jobLogs.jobId, jobId), gt(jobLogs.pos, afterPos)))
    .orderBy(jobLogs.pos)
    .limit(limit)
    .all();
  return rows.map((r) => ({ pos: r.pos, job_id: r.jobId, attempt: r.attempt, seq: r.seq, ts: r.ts, stream: r.stream, text: r.text }));
}

/** Job counts by host and status, for /metrics. */
export async function jobCounts(db: Db): Promise<Array<{ host: string; status: string; n: number }>> {
  return db
    .select({ host: jobs.host, status: jobs.status, n: sql<number>`count(*)` })
    .from(jobs)
    .groupBy(jobs.host, jobs.status)
    .all();
}

/** Webhook deliveries by outcome, for /metrics. */
export async function deliveryCounts(db: Db): Promise<Array<{ outcome: string; n: number }>> {
  return db.select({ outcome: deliveries.outcome, n: sql<number>`count(*)` }).from(deliveries).groupBy(deliveries.outcome).all();
}
