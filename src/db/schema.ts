import { index, integer, primaryKey, sqliteTable, text } from "drizzle-orm/sqlite-core";
import { sql } from "drizzle-orm";
import type { Same } from "../schemas/common";
import { JOB_STATUSES, type JobSnapshot } from "../schemas/jobs";
import { ROLLOUT_STATUSES } from "../schemas/rollouts";

/**
 * Job history. The host's Durable Object is the source of truth; rows here are
 * snapshots it delivers through its outbox. `version` rises with every
 * transition so a late, older snapshot never overwrites a newer one.
 */
export const jobs = sqliteTable(
  "jobs",
  {
    // Keys are the API's snake_case names: a row is a JobSnapshot (checked below), mapped by nothing.
    id: text("id").primaryKey(),
    app: text("app").notNull(),
    repo: text("repo").notNull(),
    ref: text("ref").notNull(),
    sha: text("sha").notNull(),
    host: text("host").notNull(),
    mode: text("mode", { enum: ["agent", "ssh"] }).notNull(),
    status: text("status", { enum: JOB_STATUSES }).notNull(),
    attempt: integer("attempt").notNull(),
    agent_id: text("agent_id"),
    trigger: text("trigger").notNull(),
    delivery_id: text("delivery_id"),
    created_at: text("created_at").notNull(),
    started_at: text("started_at"),
    finished_at: text("finished_at"),
    exit_code: integer("exit_code"),
    error: text("error"),
    rollout_id: text("rollout_id"),
    version: integer("version").notNull(),
  },
  (t) => [
    index("jobs_created_idx").on(t.created_at, t.id),
    index("jobs_host_idx").on(t.host, t.created_at),
    index("jobs_app_idx").on(t.app, t.created_at),
    index("jobs_status_idx").on(t.status, t.created_at),
    index("jobs_repo_ref_idx").on(t.repo, t.ref, t.created_at),
    index("jobs_rollout_idx").on(t.rollout_id),
  ],
);

/** Compile-time proof that the table and JobSchema describe the same job: a drift fails `tsc`. */
const jobTableMatchesSchema: Same<typeof jobs.$inferSelect, JobSnapshot> = true;
void jobTableMatchesSchema;

/** Registered agents. Only a SHA-256 hash of each agent's token is kept. */
export const agents = sqliteTable(
  "agents",
  {
    id: text("id").primaryKey(),
    hostname: text("hostname").notNull(),
    version: text("version").notNull(),
    tokenHash: text("token_hash").notNull(),
    createdAt: text("created_at").notNull(),
    /** Set by DELETE /v1/agents/{id}: the token is refused from then on. */
    revokedAt: text("revoked_at"),
  },
  (t) => [index("agents_hostname_idx").on(t.hostname)],
);

/** Every GitHub delivery once, keyed by X-GitHub-Delivery, with the jobs it created. */
export const deliveries = sqliteTable("deliveries", {
  id: text("id").primaryKey(),
  event: text("event").notNull(),
  repo: text("repo"),
  ref: text("ref"),
  sha: text("sha"),
  /** The push's `before` sha and its head commit's time: how a late, older push is recognised. */
  before: text("before"),
  pushedAt: text("pushed_at"),
  outcome: text("outcome", { enum: ["queued", "ignored"] }).notNull(),
  ignored: text("ignored"),
  /** JSON array of {id, host}: the jobs the first answer named. */
  jobs: text("jobs").notNull(),
  createdAt: text("created_at").notNull(),
}, (t) => [
  // Every lookup compares the repository case-insensitively (GitHub's names are), so the index is on lower(repo);
  // a push's order check finds its neighbours by sha, which must not scan a busy branch's whole history.
  index("deliveries_repo_ref_time_idx").on(sql`lower(${t.repo})`, t.ref, t.createdAt),
  index("deliveries_before_idx").on(t.before),
  index("deliveries_sha_idx").on(t.sha),
]);

/** apps.yaml versions; the highest id is the running configuration. */
export const configVersions = sqliteTable("config_versions", {
  id: integer("id").primaryKey({ autoIncrement: true }),
  yaml: text("yaml").notNull(),
  sha256: text("sha256").notNull(),
  createdAt: text("created_at").notNull(),
});

/**
 * Job log history. `pos` is the line's place in its host's log (the SSE event
 * id); lines arrive from the host's Durable Object, at least once, so the key
 * makes a repeat harmless.
 */
export const jobLogs = sqliteTable(
  "job_logs",
  {
    jobId: text("job_id").notNull(),
    pos: integer("pos").notNull(),
    attempt: integer("attempt").notNull(),
    seq: integer("seq").notNull(),
    ts: text("ts").notNull(),
    stream: text("stream").notNull(),
    text: text("text").notNull(),
  },
  (t) => [primaryKey({ columns: [t.jobId, t.pos] })],
);

/**
 * Rollout history, delivered by each app's Durable Object through its outbox (newer versions win).
 * `snapshot` is the whole Rollout as the API shows it; the other columns are for filtering.
 */
export const rollouts = sqliteTable(
  "rollouts",
  {
    id: text("id").primaryKey(),
    app: text("app").notNull(),
    ref: text("ref").notNull(),
    sha: text("sha").notNull(),
    status: text("status", { enum: ROLLOUT_STATUSES }).notNull(),
    trigger: text("trigger").notNull(),
    created_at: text("created_at").notNull(),
    finished_at: text("finished_at"),
    snapshot: text("snapshot").notNull(),
    version: integer("version").notNull(),
  },
  (t) => [
    index("rollouts_created_idx").on(t.created_at, t.id),
    index("rollouts_app_idx").on(t.app, t.created_at),
    index("rollouts_status_idx").on(t.status, t.created_at),
  ],
);

/**
 * Host-bound enrollment tokens: each lets one machine register as one host. Only the SHA-256 of a
 * token is kept; `used_at` is set when a single-use token is spent.
 */
export const enrollTokens = sqliteTable("enroll_tokens", {
  tokenHash: text("token_hash").primaryKey(),
  host: text("host").notNull(),
  createdAt: text("created_at").notNull(),
  expiresAt: text("expires_at").notNull(),
  singleUse: integer("single_use", { mode: "boolean" }).notNull(),
  usedAt: text("used_at"),
});
