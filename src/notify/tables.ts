// The app object's SQLite tables for GitHub and notifications (applied as steps by app/migrations.ts).

export const NOTIFY_TABLES: string[] = [
  // Outbound calls in order per lane ("github:<repo>" or "hook:<url>"); a row goes once accepted.
  `CREATE TABLE notify_queue (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, lane TEXT NOT NULL, subject TEXT NOT NULL, body TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0, next_at INTEGER NOT NULL DEFAULT 0, error TEXT
  )`,
  "CREATE INDEX notify_queue_lane ON notify_queue (lane, seq)",
  "CREATE INDEX notify_queue_subject ON notify_queue (subject)",
  // Per job (or rollout): its Deployment once GitHub answered, and the last state GitHub accepted.
  `CREATE TABLE github_deployments (
    subject TEXT PRIMARY KEY, repo TEXT NOT NULL, deployment_id INTEGER, deployment_url TEXT,
    last_state TEXT, error TEXT, external INTEGER NOT NULL DEFAULT 0
  )`,
  // The last transition seen per job or rollout: snapshots come at least once, and only changes are told.
  "CREATE TABLE notify_seen (subject TEXT PRIMARY KEY, version INTEGER NOT NULL, status TEXT NOT NULL)",
];

/** The app object's step 3 (app/migrations.ts): which Deployment stands for the release live on each host. */
export const LIVE_DEPLOYMENT_TABLES: string[] = [
  // `since`: when that release went live (the job's or rollout's finished_at), so a late delivery cannot undo a newer one.
  "CREATE TABLE github_live (host TEXT PRIMARY KEY, subject TEXT NOT NULL, since TEXT NOT NULL)",
  "CREATE INDEX github_live_subject ON github_live (subject)",
];
