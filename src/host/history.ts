import { drizzle } from "drizzle-orm/d1";
import { insertLogLines, upsertJobSnapshots } from "../db/queries";
import type { JobSnapshot } from "../schemas/jobs";
import { appState } from "../app/stub";
import type { Env } from "../env";
import type { LogLine } from "./logs";
import type { Follower } from "./outbox";

/** Where a host's job transitions end up: D1 in production, anything in a test. */
export interface HistoryWriter {
  write(snapshots: JobSnapshot[]): Promise<void>;
  writeLogs(lines: LogLine[]): Promise<void>;
}

/**
 * Every job transition also reaches its app's object (rollouts, what runs where), from the
 * outbox's own cursor for it: a D1 outage never holds up a rollout.
 */
export function appFollower(env: Env): Follower<JobSnapshot> {
  return {
    name: "app",
    async write(snapshots) {
      const byApp = new Map<string, JobSnapshot[]>();
      for (const snapshot of snapshots) byApp.set(snapshot.app, [...(byApp.get(snapshot.app) ?? []), snapshot]);
      await Promise.all([...byApp].map(([app, jobs]) => appState(env, app).jobsChanged(jobs)));
    },
  };
}

/** Writes job snapshots to D1; newer versions win, so retries and reordering are harmless. */
export function d1HistoryWriter(db: D1Database): HistoryWriter {
  const orm = drizzle(db);
  return {
    async write(snapshots) {
      await upsertJobSnapshots(orm, snapshots);
    },
    async writeLogs(lines) {
      await insertLogLines(orm, lines);
    },
  };
}
