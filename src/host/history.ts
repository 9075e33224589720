import { insertLogLines } from "../db/queries";
import type { JobSnapshot } from "../schemas/jobs";
import { appState } from "../app/stub";
import type { Env } from "../env";
import { StubCache } from "../util/stub-cache";
import type { LogSink, Sink } from "./outbox";

/**
 * Every job transition goes to its app's object (rollouts, what runs where), which also carries it
 * on to D1's history with the app's other jobs: a host's outbox has this one sink for snapshots.
 */
export function appFollower(env: Env): Sink<JobSnapshot> {
  // One stub per app for as long as the host's object lives (see StubCache).
  const apps = new StubCache((app) => appState(env, app));
  return {
    name: "app",
    async write(snapshots) {
      const byApp = new Map<string, JobSnapshot[]>();
      for (const snapshot of snapshots) byApp.set(snapshot.app, [...(byApp.get(snapshot.app) ?? []), snapshot]);
      await Promise.all([...byApp].map(([app, jobs]) => apps.call(app, (stub) => stub.jobsChanged(jobs))));
    },
  };
}

/** Where a host's log lines go: D1 (inserts that ignore a line already there, so retries are harmless). */
export function d1LogWriter(db: D1Database): LogSink {
  return { writeLogs: (lines) => insertLogLines(db, lines) };
}
