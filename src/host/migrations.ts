/**
 * The outbox keeps one row per key (add() always replaced a key's row); from this step its index
 * says so, and add() replaces in one statement. Should a key have two rows, the newer is kept.
 */
export const OUTBOX_ONE_PER_KEY = [
  "DELETE FROM outbox WHERE seq NOT IN (SELECT MAX(seq) FROM outbox GROUP BY job_id)",
  "DROP INDEX outbox_key",
  "CREATE UNIQUE INDEX outbox_key ON outbox (job_id)",
];

/** The jobs table's columns after its primary key, as the steps below left them (the last step rebuilds it with these). */
const JOB_COLUMNS = [
  "id TEXT NOT NULL UNIQUE",
  "app TEXT NOT NULL", "repo TEXT NOT NULL", "ref TEXT NOT NULL", "sha TEXT NOT NULL",
  "host TEXT NOT NULL", "mode TEXT NOT NULL", "status TEXT NOT NULL",
  "attempt INTEGER NOT NULL DEFAULT 1", "agent_id TEXT", "trigger TEXT NOT NULL", "delivery_id TEXT",
  "created_at TEXT NOT NULL", "started_at TEXT", "finished_at TEXT", "exit_code INTEGER", "error TEXT",
  "deploy TEXT NOT NULL", "lease_s REAL NOT NULL", "retries INTEGER NOT NULL",
  "queued_at INTEGER NOT NULL",
  "lease_expires_at INTEGER",
  "acked INTEGER NOT NULL DEFAULT 0",
  "cancel_requested INTEGER NOT NULL DEFAULT 0",
  "cancel_delivered INTEGER NOT NULL DEFAULT 0",
  "version INTEGER NOT NULL DEFAULT 1",
  "target TEXT",
  "rollout_id TEXT",
  "superseded_by TEXT",
];
const JOB_COLUMN_NAMES = JOB_COLUMNS.map((column) => column.split(" ")[0]).join(", ");

/**
 * The host object's own SQLite schema, every table of every room, as numbered steps. Each object applies
 * the steps it has not seen, in its constructor, so a deployed object upgrades
 * itself the first time new code touches it.
 */
export const HOST_STEPS: string[][] = [
  [
    `CREATE TABLE jobs (
      pos INTEGER PRIMARY KEY AUTOINCREMENT,
      id TEXT NOT NULL UNIQUE,
      app TEXT NOT NULL, repo TEXT NOT NULL, ref TEXT NOT NULL, sha TEXT NOT NULL,
      host TEXT NOT NULL, mode TEXT NOT NULL, status TEXT NOT NULL,
      attempt INTEGER NOT NULL DEFAULT 1, agent_id TEXT, trigger TEXT NOT NULL, delivery_id TEXT,
      created_at TEXT NOT NULL, started_at TEXT, finished_at TEXT, exit_code INTEGER, error TEXT,
      deploy TEXT NOT NULL, lease_s REAL NOT NULL, retries INTEGER NOT NULL,
      queued_at INTEGER NOT NULL,
      lease_expires_at INTEGER,
      acked INTEGER NOT NULL DEFAULT 0,
      cancel_requested INTEGER NOT NULL DEFAULT 0,
      cancel_delivered INTEGER NOT NULL DEFAULT 0,
      version INTEGER NOT NULL DEFAULT 1
    )`,
    "CREATE INDEX jobs_status_pos ON jobs (status, pos)",
    "CREATE INDEX jobs_identity ON jobs (app, ref, sha, status)",
    "CREATE INDEX jobs_delivery ON jobs (delivery_id, app)",
    "CREATE INDEX jobs_agent ON jobs (agent_id, status)",
    `CREATE TABLE heartbeats (
      agent_id TEXT PRIMARY KEY,
      at INTEGER NOT NULL
    )`,
    `CREATE TABLE counters (
      name TEXT NOT NULL,
      label TEXT NOT NULL DEFAULT '',
      value REAL NOT NULL,
      PRIMARY KEY (name, label)
    )`,
  ],
  // ssh-mode jobs carry their target (apps.yaml's ssh block) for the relay.
  ["ALTER TABLE jobs ADD COLUMN target TEXT"],
  // Agents revoked by DELETE /v1/agents/{id}: refused here at once, whatever a Worker isolate has cached.
  ["CREATE TABLE revoked_agents (agent_id TEXT PRIMARY KEY, at INTEGER NOT NULL)"],
  // The timers, outbox and log tables, once created by their rooms' constructors (IF NOT EXISTS: an
  // object from then already has them). From here on every table changes only through a step.
  [
    `CREATE TABLE IF NOT EXISTS timers (
      kind TEXT NOT NULL, key TEXT NOT NULL, due_at INTEGER NOT NULL,
      PRIMARY KEY (kind, key)
    )`,
    `CREATE TABLE IF NOT EXISTS outbox (
      seq INTEGER PRIMARY KEY AUTOINCREMENT,
      job_id TEXT NOT NULL,
      snapshot TEXT NOT NULL
    )`,
    `CREATE TABLE IF NOT EXISTS logs (
      pos INTEGER PRIMARY KEY AUTOINCREMENT,
      job_id TEXT NOT NULL, attempt INTEGER NOT NULL, seq INTEGER NOT NULL,
      ts TEXT NOT NULL, stream TEXT NOT NULL, text TEXT NOT NULL,
      shipped INTEGER NOT NULL DEFAULT 0
    )`,
    "CREATE INDEX IF NOT EXISTS logs_job ON logs (job_id, pos)",
    "CREATE INDEX IF NOT EXISTS logs_unshipped ON logs (shipped, pos)",
    `CREATE TABLE IF NOT EXISTS logs_pending (
      job_id TEXT NOT NULL, attempt INTEGER NOT NULL, seq INTEGER NOT NULL,
      ts TEXT NOT NULL, stream TEXT NOT NULL, text TEXT NOT NULL,
      PRIMARY KEY (job_id, attempt, seq)
    )`,
    `CREATE TABLE IF NOT EXISTS log_state (
      job_id TEXT PRIMARY KEY, attempt INTEGER NOT NULL, next_seq INTEGER NOT NULL,
      bytes INTEGER NOT NULL, lines INTEGER NOT NULL, limited INTEGER NOT NULL
    )`,
  ],
  // Jobs of a rollout name it; the outbox delivers to several sinks (D1, the app's object), each from its own cursor.
  [
    "ALTER TABLE jobs ADD COLUMN rollout_id TEXT",
    "CREATE TABLE outbox_cursors (sink TEXT PRIMARY KEY, seq INTEGER NOT NULL)",
    "CREATE INDEX outbox_key ON outbox (job_id)",
  ],
  // The job that replaced a queued one (Queue.enqueue): a repeated enqueue answers with those too.
  ["ALTER TABLE jobs ADD COLUMN superseded_by TEXT"],
  // One read finds an app's live jobs (Queue.enqueue; no query looks a job up by ref and sha any more, and
  // every status change rewrote that index); a key's one waiting snapshot is replaced in one statement (Outbox.add).
  ["CREATE INDEX jobs_app_status ON jobs (app, status, pos)", "DROP INDEX jobs_identity", ...OUTBOX_ONE_PER_KEY],
  // Fewer writes for each new job (a push's enqueue is one per host): its commit wrote seven pages, one
  // per b-tree it touched, and on Cloudflare each index entry is a row written. A job's place no longer
  // goes through sqlite_sequence (pos is max + 1, and only the oldest finished jobs are ever deleted),
  // and a queued job has no entry in the agent index, nor one in the delivery index without a delivery.
  [
    `CREATE TABLE jobs_next (
      pos INTEGER PRIMARY KEY,
      ${JOB_COLUMNS.join(",\n      ")}
    )`,
    `INSERT INTO jobs_next (pos, ${JOB_COLUMN_NAMES}) SELECT pos, ${JOB_COLUMN_NAMES} FROM jobs`,
    "DROP TABLE jobs",
    "ALTER TABLE jobs_next RENAME TO jobs",
    "CREATE INDEX jobs_status_pos ON jobs (status, pos)",
    "CREATE INDEX jobs_app_status ON jobs (app, status, pos)",
    "CREATE INDEX jobs_delivery ON jobs (delivery_id, app) WHERE delivery_id IS NOT NULL",
    "CREATE INDEX jobs_agent ON jobs (agent_id, status) WHERE agent_id IS NOT NULL",
  ],
];

/**
 * The timers (Schedule) and outbox tables, as every object with an outbox has them. The host's
 * steps created them in two goes; a new kind of object takes them in one.
 */
export const OUTBOX_TABLES = [
  "CREATE TABLE timers (kind TEXT NOT NULL, key TEXT NOT NULL, due_at INTEGER NOT NULL, PRIMARY KEY (kind, key))",
  "CREATE TABLE outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, job_id TEXT NOT NULL, snapshot TEXT NOT NULL)",
  "CREATE TABLE outbox_cursors (sink TEXT PRIMARY KEY, seq INTEGER NOT NULL)",
  "CREATE INDEX outbox_key ON outbox (job_id)",
];

/** Applies the steps an object's storage has not seen yet, in order, each whole or not at all, with its version. */
export function migrate(storage: DurableObjectStorage, steps: string[][]): void {
  const sql = storage.sql;
  sql.exec("CREATE TABLE IF NOT EXISTS _schema (version INTEGER NOT NULL)");
  const current = sql.exec<{ version: number }>("SELECT version FROM _schema").toArray()[0]?.version ?? 0;
  if (current === 0) sql.exec("INSERT INTO _schema (version) VALUES (0)");
  for (let step = current; step < steps.length; step++) {
    storage.transactionSync(() => {
      for (const statement of steps[step]!) sql.exec(statement);
      sql.exec("UPDATE _schema SET version = ?", step + 1);
    });
  }
}
