import { OUTBOX_ONE_PER_KEY, OUTBOX_TABLES } from "../host/migrations";
import { LIVE_DEPLOYMENT_TABLES, NOTIFY_TABLES } from "../notify/tables";

/** The app object's SQLite schema, as numbered steps (see host/migrations.ts for how they apply). */
export const APP_STEPS: string[][] = [
  [
    ...OUTBOX_TABLES,
    `CREATE TABLE rollouts (
      seq INTEGER PRIMARY KEY AUTOINCREMENT,
      id TEXT NOT NULL UNIQUE,
      app TEXT NOT NULL, ref TEXT NOT NULL, sha TEXT NOT NULL,
      status TEXT NOT NULL, trigger TEXT NOT NULL, delivery_id TEXT,
      strategy TEXT NOT NULL, spec TEXT NOT NULL,
      created_at TEXT NOT NULL, finished_at TEXT, error TEXT,
      wave INTEGER NOT NULL DEFAULT -1,
      next_wave_at INTEGER,
      version INTEGER NOT NULL DEFAULT 1
    )`,
    "CREATE INDEX rollouts_status ON rollouts (status, seq)",
    "CREATE INDEX rollouts_delivery ON rollouts (delivery_id)",
    `CREATE TABLE waves (
      rollout_id TEXT NOT NULL, idx INTEGER NOT NULL, status TEXT NOT NULL,
      started_at TEXT, finished_at TEXT,
      PRIMARY KEY (rollout_id, idx)
    )`,
    `CREATE TABLE rollout_hosts (
      rollout_id TEXT NOT NULL, host TEXT NOT NULL, wave INTEGER NOT NULL,
      job_id TEXT, state TEXT NOT NULL, error TEXT, previous TEXT, rollback_job_id TEXT,
      PRIMARY KEY (rollout_id, host)
    )`,
    "CREATE INDEX rollout_hosts_job ON rollout_hosts (job_id)",
    "CREATE INDEX rollout_hosts_rollback ON rollout_hosts (rollback_job_id)",
    `CREATE TABLE releases (
      host TEXT PRIMARY KEY, sha TEXT NOT NULL, ref TEXT NOT NULL, job_id TEXT NOT NULL,
      since TEXT NOT NULL, rollout_id TEXT
    )`,
    "CREATE TABLE app_lock (id INTEGER PRIMARY KEY CHECK (id = 1), reason TEXT NOT NULL, locked_by TEXT NOT NULL, locked_at TEXT NOT NULL)",
  ],
  // Step 2: GitHub Deployments and notifications (notify/notifications.ts).
  NOTIFY_TABLES,
  // Step 3: the Deployment live on each host, to mark the one a newer release replaced inactive (notify/deployments.ts).
  LIVE_DEPLOYMENT_TABLES,
  // Step 4: one outbox row per key, said by the index (Outbox.add replaces in one statement).
  OUTBOX_ONE_PER_KEY,
];
