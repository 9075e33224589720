import { drizzle } from "drizzle-orm/d1";
import { upsertJobSnapshotStatements } from "../db/queries";
import { upsertRolloutSnapshot, type RolloutSnapshot } from "../db/rollouts";
import type { Sink } from "../host/outbox";
import type { JobSnapshot } from "../schemas/jobs";

export type { RolloutSnapshot };

/**
 * What the app's object sends to D1: its rollouts' snapshots, and the snapshots of its jobs that
 * its hosts delivered to it. One writer for both, so a wave of a hundred hosts reaches D1 as a
 * batch or two instead of a hundred writes (rows written before jobs came this way are rollouts).
 */
export type AppRecord = RolloutSnapshot | { job: JobSnapshot };

/** Outbox key of a record: a rollout by its id (as before jobs came this way), a job as `job:<id>`. */
export const recordKey = (record: AppRecord): string => ("job" in record ? `job:${record.job.id}` : record.id);

/** Writes rollout and job snapshots to D1 in one batch; newer versions win, so retries and reordering are harmless. */
export function d1AppHistoryWriter(db: D1Database): Sink<AppRecord> {
  const orm = drizzle(db);
  return {
    name: "history",
    async write(records) {
      const jobs = records.flatMap((record) => ("job" in record ? [record.job] : []));
      const rollouts = records.flatMap((record) => ("job" in record ? [] : [record]));
      const statements = [...upsertJobSnapshotStatements(orm, jobs), ...rollouts.map((rollout) => upsertRolloutSnapshot(orm, rollout))];
      if (statements.length) await orm.batch(statements as [(typeof statements)[number], ...typeof statements]);
    },
  };
}
