import { drizzle } from "drizzle-orm/d1";
import { upsertJobSnapshotStatements } from "../db/queries";
import { upsertRolloutSnapshot, type RolloutSnapshot } from "../db/rollouts";
import type { Sink } from "../host/outbox";
import type { JobSnapshot } from "../schemas/jobs";

export type { RolloutSnapshot };

/**
 * What the app's object sends to D1: its rollouts, and the snapshots of its jobs that its hosts
 * delivered to it. One writer for both, so a wave of a hundred hosts reaches D1 as a batch or two
 * instead of a hundred writes. A rollout is recorded as changed (`{ rollout: id }`) and read as it
 * is when the batch goes: serializing every host of it at each of its jobs' changes would cost the
 * square of its hosts. (Rows stored before this carry the whole snapshot; they go as they are.)
 */
export type AppRecord = RolloutSnapshot | { rollout: string } | { job: JobSnapshot };

/** Outbox key of a record: a rollout by its id, a job as `job:<id>`. */
export const recordKey = (record: AppRecord): string => ("job" in record ? `job:${record.job.id}` : "rollout" in record ? record.rollout : record.id);

/**
 * Writes rollout and job snapshots to D1 in one batch; newer versions win, so retries and
 * reordering are harmless. `current`: a rollout as its object has it now (null once it is gone).
 */
export function d1AppHistoryWriter(db: D1Database, current: (rolloutId: string) => RolloutSnapshot | null): Sink<AppRecord> {
  const orm = drizzle(db);
  return {
    name: "history",
    async write(records) {
      const jobs = records.flatMap((record) => ("job" in record ? [record.job] : []));
      const rollouts = records.flatMap((record) => ("job" in record ? [] : "rollout" in record ? (current(record.rollout) ?? []) : [record]));
      const statements = [...upsertJobSnapshotStatements(jobs), ...rollouts.map((rollout) => upsertRolloutSnapshot(orm, rollout).toSQL())];
      if (statements.length) await db.batch(statements.map(({ sql, params }) => db.prepare(sql).bind(...params)));
    },
  };
}
