import { drizzle } from "drizzle-orm/d1";
import { upsertRolloutSnapshots, type RolloutSnapshot } from "../db/rollouts";
import type { Sink } from "../host/outbox";

export type { RolloutSnapshot };

/** Writes rollout snapshots to D1; newer versions win, so retries and reordering are harmless. */
export function d1RolloutWriter(db: D1Database): Sink<RolloutSnapshot> {
  const orm = drizzle(db);
  return { write: (snapshots) => upsertRolloutSnapshots(orm, snapshots) };
}
