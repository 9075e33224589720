import { index, integer, primaryKey, sqliteTable, text } from "drizzle-orm/sqlite-core";

/**
 * Job history. The host's Durable Object is the source of truth; rows here are
 * snapshots it delivers through its outbox. `version` rises with every
 * transition so a late, older snapshot never overwrites a newer one.
 */
export const jobs = sqliteTable(
  "jobs",
  {
    id: text("id").primaryKey(),
    app: text("app").notNull(),
    repo: text("repo").notNull(),
    ref: text("ref").notNull(),
    sha: text("sha").notNull(),
    host: text("host").notNull(),
    mode: text("mode", { enum: ["agent", "ssh"] }).notNull(),
    status: text("status", { enum: ["queued", "running", "succeeded", "failed", "cancelled"] }).notNull(),
    attempt: integer("attempt").notNull(),
    agentId: text("agent_id"),
    trigger: text("trigger").notNull(),
    deliveryId: text("delivery_id"),
    createdAt: text("created_at").notNull(),
    startedAt: text("started_at"),
    finishedAt: text("finished_at"),
    exitCode: integer("exit_code"),
    error: text("error"),
    version: integer("version").notNull(),
  },
  (t) => [
    index("jobs_created_idx").on(t.createdAt, t.id),
    index("jobs_host_idx").on(t.host, t.createdAt),
    index("jobs_app_idx").on(t.app, t.createdAt),
    index("jobs_status_idx").on(t.status, t.createdAt),
    index("jobs_repo_ref_idx").on(t.repo, t.ref, t.createdAt),
  ],
);

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
}, (t) => [index("deliveries_repo_ref_idx").on(t.repo, t.ref, t.pushedAt)]);

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
